// Element offsets of a (batch, spatial..., channels) or (batch, channels, spatial...) tensor with 1 to 3
// spatial axes. The spatial axes are right-aligned into three slots (unused leading slots have size 1)
// so that one loop nest serves 1D, 2D and 3D.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace kerasrt::kernels {

struct SpatialLayout {
  int64_t batch = 0, channels = 0;
  std::array<int64_t, 3> dims{1, 1, 1};
  std::array<int64_t, 3> strides{0, 0, 0};
  int64_t channel_stride = 0, batch_stride = 0;
};

inline SpatialLayout spatial_layout(std::span<const int64_t> shape, bool channels_first) {
  SpatialLayout l;
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

}  // namespace kerasrt::kernels
