#include "ir/preprocessing.hpp"

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {
namespace {

void expect_image(const TensorType& t, const char* op) {
  if (t.dtype != DType::kFloat32) throw Error(std::string(op) + " takes float32, got " + dtype_name(t.dtype));
  if (t.shape.size() != 3 && t.shape.size() != 4)
    throw Error("expects a rank-3 image or a rank-4 batch of images, got " + shape_to_string(t.shape));
}

}  // namespace

const char* encode_mode_name(EncodeMode m) {
  switch (m) {
    case EncodeMode::kOneHot: return "one_hot";
    case EncodeMode::kMultiHot: return "multi_hot";
    case EncodeMode::kCount: return "count";
  }
  return "?";
}

const char* interpolation_name(Interpolation i) {
  switch (i) {
    case Interpolation::kNearest: return "nearest";
    case Interpolation::kBilinear: return "bilinear";
    case Interpolation::kBicubic: return "bicubic";
  }
  return "?";
}

const char* resize_fit_name(ResizeFit f) {
  switch (f) {
    case ResizeFit::kStretch: return "stretch";
    case ResizeFit::kCropToAspect: return "crop_to_aspect";
    case ResizeFit::kPadToAspect: return "pad_to_aspect";
    case ResizeFit::kCenterCrop: return "center_crop";
  }
  return "?";
}

std::vector<TensorType> infer_category_encode(const Node& node, std::span<const TensorType> in) {
  const auto& a = node.as<CategoryEncodeAttrs>();
  if (in.size() != 1 && in.size() != 2) throw Error("category_encode takes ids and optional count weights");
  const DType d = in[0].dtype;
  if (d != DType::kFloat32 && d != DType::kInt32 && d != DType::kInt64)
    throw Error(std::string("category_encode takes float32, int32 or int64 ids, got ") + dtype_name(d));
  if (a.depth < 1) throw Error("category_encode needs a depth >= 1");
  if (in.size() == 2) {
    if (a.mode != EncodeMode::kCount) throw Error("count weights are only used with output mode 'count'");
    if (in[1].dtype != DType::kFloat32 || in[1].shape != in[0].shape)
      throw Error("count weights of shape " + shape_to_string(in[1].shape) + " differ from the ids' " +
                  shape_to_string(in[0].shape));
  }
  const Shape& s = in[0].shape;
  Shape out = s;
  if (s.empty()) {
    out = {a.depth};
  } else if (a.mode == EncodeMode::kOneHot) {
    if (s.size() > 1 && s.back() == 1) out.back() = a.depth;
    else out.push_back(a.depth);
  } else if (s.size() == 1) {
    out = {a.depth};
  } else {
    out.erase(out.begin() + 1);
    out.push_back(a.depth);
  }
  return {{out, DType::kFloat32}};
}

std::vector<TensorType> infer_bucketize(const Node&, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  if (in[0].dtype != DType::kFloat32)
    throw Error(std::string("bucketize takes float32, got ") + dtype_name(in[0].dtype));
  return {{in[0].shape, DType::kInt64}};
}

std::vector<TensorType> infer_resize(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  expect_image(in[0], "resize");
  const auto& a = node.as<ResizeAttrs>();
  Shape out = in[0].shape;
  const size_t hy = out.size() - (a.channels_first ? 2 : 3);
  for (size_t k = 0; k < 2; ++k)
    if (out[hy + k] == 0) throw Error("cannot resize an empty image " + shape_to_string(in[0].shape));
  if (a.factor_h > 0) {
    if (out[hy] >= 0) out[hy] *= a.factor_h;
    if (out[hy + 1] >= 0) out[hy + 1] *= a.factor_w;
  } else {
    if (a.height < 1 || a.width < 1) throw Error("resize needs a positive output size");
    out[hy] = a.height;
    out[hy + 1] = a.width;
  }
  return {{out, DType::kFloat32}};
}

std::vector<TensorType> infer_image_same(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  expect_image(in[0], op_kind_name(node.kind));
  return {in[0]};
}

}  // namespace kerasrt::ir
