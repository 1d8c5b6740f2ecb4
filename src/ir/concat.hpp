// Concat: the inputs joined along an axis (Concatenate), or along a new axis (Stack). Any dtype,
// the same for every input; the output keeps it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kerasrt::ir {

struct ConcatAttrs {
  int64_t axis = -1;   // may count from the end; over the output's axes
  bool stack = false;  // join along a new axis of length (number of inputs)
};

// The join axis over the output's rank, or an Error when out of range.
int concat_axis(const ConcatAttrs& a, size_t input_rank);

}  // namespace kerasrt::ir
