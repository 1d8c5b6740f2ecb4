// Element offsets of a pooling input or output, shared by the pooling kernels: spatial axes
// right-aligned into three slots (unused leading slots have size 1) so one loop nest serves 1D-3D.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "ir/pooling.hpp"

namespace kerasrt::kernels {

struct PoolLayout {
  int64_t batch = 0, channels = 0;
  std::array<int64_t, 3> dims{1, 1, 1};
  std::array<int64_t, 3> strides{0, 0, 0};
  int64_t channel_stride = 0, batch_stride = 0;
};

// The layout of an input of shape `in`; with `out_of`, of that pool's output (as its keepdims
// shape: dropping the size-1 spatial axes of a global pool does not move any value).
inline PoolLayout pool_layout(std::span<const int64_t> in, int spatial, bool channels_first,
                              const ir::PoolAttrs* out_of = nullptr) {
  PoolLayout l;
  l.batch = in[0];
  l.channels = channels_first ? in[1] : in[in.size() - 1];
  const size_t first = channels_first ? 2 : 1;
  for (int a = 0; a < spatial; ++a) {
    const int64_t len = in[first + a];
    l.dims[3 - spatial + a] = out_of ? ir::pool_output_length(*out_of, a, len) : len;
  }
  int64_t step = channels_first ? 1 : l.channels;
  for (int k = 2; k >= 0; --k) {
    l.strides[k] = step;
    step *= l.dims[k];
  }
  l.channel_stride = channels_first ? step : 1;
  l.batch_stride = step * (channels_first ? l.channels : 1);
  return l;
}

// The input window [lo, hi) along each of the three slots for output cell `o`; unused leading slots
// (below 3 - spatial) span their single position.
inline void pool_window_bounds(const ir::PoolAttrs& p, const PoolLayout& in, const int64_t o[3], int64_t lo[3],
                               int64_t hi[3]) {
  const int s0 = 3 - p.spatial;
  for (int k = 0; k < 3; ++k) {
    if (k < s0) {
      lo[k] = 0, hi[k] = 1;
    } else {
      auto [begin, end] = ir::pool_window(p, k - s0, in.dims[k], o[k]);
      lo[k] = begin, hi[k] = end;
    }
  }
}

}  // namespace kerasrt::kernels
