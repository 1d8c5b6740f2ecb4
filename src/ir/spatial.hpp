// Data movement along axes with no arithmetic: pad (zeros before/after each axis; a negative amount
// crops) and nearest upsampling (each element repeated along each axis). Any dtype, kept.
#pragma once

#include <cstdint>
#include <vector>

namespace kerasrt::ir {

// One entry per input axis, batch included.
struct PadAttrs {
  std::vector<int64_t> before, after;
};

// One factor (>= 1) per input axis, batch included: output index o reads input index o / factor.
struct UpsampleAttrs {
  std::vector<int64_t> factors;
};

}  // namespace kerasrt::ir
