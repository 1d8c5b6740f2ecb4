// Preprocessing ops: categorical encoding of integer ids, bucketizing by boundaries, image resizing
// (with the crop/pad fits Keras offers) and the image contrast ops (auto contrast, histogram
// equalization, CLAHE). Images are rank 3 (one image) or rank 4 (a batch), float32.
#pragma once

#include <cstdint>
#include <vector>

namespace kerasrt::ir {

// Ids in (-inf, depth) (float32 ids are truncated like a cast to int; negative ones encode as all
// zeros) to one_hot (a trailing size-1 axis replaced, else one appended), or multi_hot/count (axis 1
// reduced, axis 0 for rank 0 or 1). An optional second input of the ids' shape holds
// per-id count weights (count only). Output float32.
enum class EncodeMode : uint8_t { kOneHot, kMultiHot, kCount };
struct CategoryEncodeAttrs {
  EncodeMode mode = EncodeMode::kMultiHot;
  int64_t depth = 1;
};

// float32 -> int64 bucket index: how many boundaries are <= x, compared in float64 (NaN lands in the
// last bucket). Boundaries sorted.
struct BucketizeAttrs {
  std::vector<double> boundaries;
};

enum class Interpolation : uint8_t { kNearest, kBilinear, kBicubic };
// How the input is fitted to the output's aspect ratio before resizing: stretched; cropped to the
// centred box of that ratio; padded with fill_value on both sides; or (center_crop) the centred
// height x width window when the image is large enough, else the aspect crop.
enum class ResizeFit : uint8_t { kStretch, kCropToAspect, kPadToAspect, kCenterCrop };

// Half-pixel-centred resize of the two spatial axes of a rank-3/4 image. Output size: height x width,
// or, when factor_h/factor_w are set (> 0), the input size times them (UpSampling).
// `double_precision`: taps and sums in float64 (UpSampling2D's resize), else float32 in the order
// torch's interpolate uses (Resizing, CenterCrop).
struct ResizeAttrs {
  int64_t height = 0, width = 0;
  int64_t factor_h = 0, factor_w = 0;
  bool channels_first = false;
  Interpolation interpolation = Interpolation::kBilinear;
  bool antialias = false;
  ResizeFit fit = ResizeFit::kStretch;
  float fill_value = 0.f;
  bool double_precision = false;
};

// Each (image, last axis index) group stretched to the value range (Keras reduces axes 1 and 2 of
// the batch whatever the data format); groups that come out NaN keep their input.
struct AutoContrastAttrs {
  double low = 0, high = 255;
};

// Histogram equalization per channel with `bins` bins, one histogram over the whole batch.
struct EqualizeAttrs {
  int64_t bins = 256;
  double low = 0, high = 255;
  bool channels_first = false;
};

// Contrast-limited adaptive histogram equalization over a grid of tiles. low/high in the order the
// config gave them.
struct ClaheAttrs {
  double low = 0, high = 255;
  double clip_limit = 4;
  int64_t grid_h = 8, grid_w = 8;
  bool channels_first = false;
};

const char* encode_mode_name(EncodeMode m);
const char* interpolation_name(Interpolation i);
const char* resize_fit_name(ResizeFit f);

}  // namespace kerasrt::ir
