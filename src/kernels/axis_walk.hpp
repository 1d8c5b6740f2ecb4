// Offsets of the elements of a set of axes of a row-major tensor: the k-th element, row-major over
// those axes. Kernels that work over some axes (softmax, reductions) split a shape into the axes
// they work over and the rest, and walk both.
#pragma once

#include <algorithm>
#include <array>
#include <span>
#include <vector>

#include "ir/shape.hpp"

namespace kerasrt::kernels {

struct AxisWalk {
  std::array<int64_t, ir::kMaxTransposeRank> dims{}, strides{};
  size_t n = 0;
  int64_t count = 1;
  int64_t offset(int64_t k) const {
    int64_t off = 0;
    for (size_t i = n; i-- > 0;) {
      off += (k % dims[i]) * strides[i];
      k /= dims[i];
    }
    return off;
  }
};

// Splits `shape`'s axes into `chosen` (those listed in `axes`) and `rest`.
inline void split_axes(std::span<const int64_t> shape, const std::vector<int>& axes, AxisWalk& chosen, AxisWalk& rest) {
  std::array<int64_t, ir::kMaxTransposeRank> strides{};
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    AxisWalk& w = std::find(axes.begin(), axes.end(), static_cast<int>(d)) != axes.end() ? chosen : rest;
    w.dims[w.n] = shape[d];
    w.strides[w.n++] = strides[d];
    w.count *= shape[d];
  }
}

}  // namespace kerasrt::kernels
