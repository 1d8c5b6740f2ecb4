// A conv's axes in the three slots of a SpatialLayout.
#pragma once

#include <array>
#include <span>

#include "ir/conv.hpp"
#include "kernels/spatial_layout.hpp"

namespace kerasrt::kernels {

// The axis maps of a conv in the same three slots (identity maps, kernel 1, in the leading ones).
inline std::array<ir::ConvAxis, 3> conv_axes(const ir::ConvAttrs& a, const SpatialLayout& in) {
  std::array<ir::ConvAxis, 3> axes;
  const int first_slot = ir::kMaxConvRank - a.rank;
  for (int d = 0; d < a.rank; ++d) axes[first_slot + d] = ir::conv_axis(a, d, in.dims[first_slot + d]);
  return axes;
}

}  // namespace kerasrt::kernels
