// The convolution core of ConvLSTM (recurrent.cpp), which is not typed yet (the Conv* layers run as ir
// conv nodes, src/ir/conv.hpp): one reference kernel for forward (grouped, strided, dilated, padded)
// and transposed convolutions over 1 to 3 spatial dims in either data format:
//   y[b, o, g*fpg + f] = bias[g*fpg + f] + sum_{tap, c} x[b, src(o, tap), g*cpg + c] * w[tap, c, g*fpg + f]
// where cpg/fpg are input channels/filters per group and `src` maps an output position and a
// kernel tap to an input position (or to padding) per axis.
#pragma once

#include <array>

#include "layers/common.hpp"

namespace kerasrt::layers {

constexpr int kMaxRank = 3;

using Dims = std::array<int64_t, kMaxRank>;

enum class Padding { kValid, kSame, kCausal };

// The settings every layer of the conv family reads from its config.
struct Window {
  int rank = 0;
  Dims kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1};
  Padding padding = Padding::kValid;
  bool channels_first = false;
};

// The reference convolution: a forward (possibly grouped, strided, dilated, padded) or a
// transposed convolution with an optional bias. The kernel is (taps..., in/groups, filters).
class ConvCore {
 public:
  ConvCore() = default;
  ConvCore(Window window, bool transposed, int64_t in_channels, int64_t filters, int64_t groups,
           std::vector<float> kernel, std::vector<float> bias, Dims output_padding = {-1, -1, -1})
      : window_(window),
        transposed_(transposed),
        in_channels_(in_channels),
        filters_(filters),
        groups_(groups),
        output_padding_(output_padding),
        kernel_(std::move(kernel)),
        bias_(std::move(bias)) {}

  const Window& window() const { return window_; }
  int64_t in_channels() const { return in_channels_; }
  int64_t filters() const { return filters_; }
  int64_t param_count() const { return static_cast<int64_t>(kernel_.size() + bias_.size()); }

  // Checks rank and channels of an input shape (-1 allowed) and returns the output shape.
  Shape output_shape(const Shape& in, const char* layer) const;
  // y = conv(x) + bias; with `accumulate`, y += conv(x) + bias instead, each sum continuing from y's
  // value (so two convolutions can add into one output in one running sum).
  void run(const ConstView& x, const MutView& y, bool accumulate = false) const;

 private:
  struct AxisMap;  // how one spatial axis maps output positions and kernel taps to input positions
  // Geometry of spatial axis `d` for an input of length `in`.
  AxisMap axis_map(int d, int64_t in) const;

  Window window_;
  bool transposed_ = false;
  int64_t in_channels_ = 0, filters_ = 0, groups_ = 1;
  Dims output_padding_{-1, -1, -1};  // transposed only; -1 = Keras's None
  std::vector<float> kernel_;        // (taps..., in/groups, filters)
  std::vector<float> bias_;          // (filters) or empty
};

}  // namespace kerasrt::layers
