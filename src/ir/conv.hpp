// Convolution: forward or transposed, 1 to 3 spatial axes, either data format, grouped (depthwise is
// groups == in_channels), strided, dilated, padded, with an optional bias and a fused activation.
//   y[b, o, g*fpg + f] = bias[g*fpg + f] + sum_{tap, c} x[b, src(o, tap), g*cpg + c] * w[tap, c, g*fpg + f]
// where cpg/fpg are input channels/filters per group and src maps an output position and a kernel
// tap to an input position (or to padding) per axis, as ConvAxis below says.
#pragma once

#include <array>
#include <cstdint>

#include "ir/elementwise.hpp"

namespace kerasrt::ir {

constexpr int kMaxConvRank = 3;
using ConvDims = std::array<int64_t, kMaxConvRank>;

// kExplicit: pad_before / pad_after zeros per spatial axis (forward only; what the plan makes of a
// ZeroPadding layer folded into the convolution that reads it).
enum class ConvPadding : uint8_t { kValid, kSame, kCausal, kExplicit };

// Weights: "kernel" (kernel[0..rank)..., in_channels/groups, filters) row-major for forward and
// transposed convolutions alike; "bias" (filters) when has_bias. Only the first `rank` entries of
// the ConvDims are used.
struct ConvAttrs {
  int rank = 2;
  ConvDims kernel{1, 1, 1}, strides{1, 1, 1}, dilations{1, 1, 1};
  ConvPadding padding = ConvPadding::kValid;
  ConvDims pad_before{0, 0, 0}, pad_after{0, 0, 0};  // kExplicit only
  int64_t in_channels = 0, filters = 0, groups = 1;
  bool transpose = false;
  ConvDims output_padding{-1, -1, -1};  // transpose only; -1 where unset (the stride decides)
  bool channels_first = false;
  bool has_bias = true;
  Activation activation;
};

const char* conv_padding_name(ConvPadding p);  // "valid", "same", "causal", "explicit"

// How one spatial axis maps output positions and kernel taps to input positions.
struct ConvAxis {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, dilation = 1;
  // Forward: input = o*stride - offset + k*dilation. Transposed: the full (uncropped) output
  // position o + offset receives input i from tap k when it equals i*stride + k*dilation.
  int64_t offset = 0;
  bool transpose = false;

  // The input index for output index `o` and tap `k`, or -1 when the tap reads padding.
  int64_t source(int64_t o, int64_t k) const {
    if (!transpose) {
      const int64_t i = o * stride - offset + k * dilation;
      return i >= 0 && i < in ? i : -1;
    }
    const int64_t q = o + offset - k * dilation;
    if (q < 0 || q % stride != 0) return -1;
    const int64_t i = q / stride;
    return i < in ? i : -1;
  }
};

// Geometry of spatial axis `d` (< a.rank) for an input of length `in` (>= 0). `out` may come out
// <= 0 when the input is too short; the shape rule rejects that.
ConvAxis conv_axis(const ConvAttrs& a, int d, int64_t in);

}  // namespace kerasrt::ir
