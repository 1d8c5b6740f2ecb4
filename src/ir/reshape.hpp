// Reshapes that move no data. expand_dims: `count` axes of size 1 inserted before axis `axis`
// (Keras's merge layers pad lower-rank inputs this way after the batch axis).
#pragma once

#include <cstdint>

namespace kerasrt::ir {

struct ExpandDimsAttrs {
  int axis = 1;
  int count = 1;
};

}  // namespace kerasrt::ir
