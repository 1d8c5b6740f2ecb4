// Normalization: batch_norm (a per-feature affine map with inference statistics folded in),
// normalize (layer/RMS/unit normalization over some axes) and group_norm (channel groups).
#pragma once

#include <cstdint>
#include <vector>

namespace kerasrt::ir {

// y = x * scale[f] + shift[f], f the position along `axes` (sorted, distinct, in [0, rank); the
// weights are laid out row-major over those axes). Weights: "scale", "shift".
// With batch_statistics (a call with training=True) the mean and variance come from the input
// itself (over every other axis) and y = (x - mean) * (1/sqrt(var + epsilon) * gamma) + beta;
// weights then "gamma" (if has_gamma) and "beta" (if has_beta).
struct BatchNormAttrs {
  std::vector<int> axes;
  bool batch_statistics = false;
  double epsilon = 1e-3;
  bool has_gamma = false, has_beta = false;
};

enum class NormalizeMode : uint8_t {
  kLayer,  // (x - mean) / sqrt(var + eps) * gamma + beta; `center` false: x / sqrt(var + eps) (rms_scaling)
  kRms,    // x / sqrt(mean(x^2) + eps) * gamma
  kUnit,   // x / max(||x||_2, eps) (UnitNormalization: 1e-12; Dot(normalize=True): 1e-7)
};

// Each group of elements sharing its coordinates off `axes` (sorted, distinct, in [0, rank)) is
// normalized on its own; statistics in double. Weights "gamma" then "beta", shaped as the input's
// dims at `axes`, as present.
struct NormalizeAttrs {
  NormalizeMode mode = NormalizeMode::kLayer;
  std::vector<int> axes;
  double epsilon = 1e-3;
  bool center = true;
  bool has_gamma = false, has_beta = false;
};

// The channels along `axis` (in [1, rank)) split into `groups` equal groups; each (batch item, group)
// is normalized over its channels and every other non-batch axis, then scaled and shifted per
// channel. Weights "gamma" then "beta" (channels), as present.
struct GroupNormAttrs {
  int axis = 1;
  int64_t groups = 1;  // -1: one group per channel
  double epsilon = 1e-3;
  bool has_gamma = false, has_beta = false;
};

const char* normalize_mode_name(NormalizeMode m);

}  // namespace kerasrt::ir
