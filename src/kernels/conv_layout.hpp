// Where a conv's tensors keep their elements: the spatial axes in the last `rank` of three slots
// (leading slots have size 1), with the element strides of each slot, the channel axis and a batch.
#pragma once

#include <array>
#include <span>

#include "ir/conv.hpp"

namespace kerasrt::kernels {

struct ConvLayout {
  int64_t batch = 0, channels = 0;
  std::array<int64_t, 3> dims{1, 1, 1}, strides{0, 0, 0};
  int64_t channel_stride = 0, batch_stride = 0;
};

inline ConvLayout conv_layout(std::span<const int64_t> shape, bool channels_first) {
  ConvLayout l;
  const size_t spatial = shape.size() - 2, first = channels_first ? 2 : 1;
  l.batch = shape[0];
  l.channels = channels_first ? shape[1] : shape.back();
  int64_t step = channels_first ? 1 : l.channels;
  for (size_t i = spatial; i-- > 0;) {
    const size_t slot = 3 - spatial + i;
    l.dims[slot] = shape[first + i];
    l.strides[slot] = step;
    step *= shape[first + i];
  }
  l.channel_stride = channels_first ? step : 1;
  l.batch_stride = channels_first ? step * l.channels : step;
  return l;
}

// The axis maps of a conv in the same three slots (identity maps, kernel 1, in the leading ones).
inline std::array<ir::ConvAxis, 3> conv_axes(const ir::ConvAttrs& a, const ConvLayout& in) {
  std::array<ir::ConvAxis, 3> axes;
  const int first_slot = ir::kMaxConvRank - a.rank;
  for (int d = 0; d < a.rank; ++d) axes[first_slot + d] = ir::conv_axis(a, d, in.dims[first_slot + d]);
  return axes;
}

}  // namespace kerasrt::kernels
