// Ops that move data without computing on it: reshape (same bytes, new shape), transpose and
// repeat. They take any dtype and keep it.
#pragma once

#include <cstdint>
#include <vector>

#include <kerasrt/kerasrt.hpp>

namespace kerasrt::ir {

// The batch axis is kept; the rest become `target` (one entry may be -1: whatever is left).
// `keep_shape`: output shape = input shape (the inference no-ops: Dropout, noise, Identity, ...).
// `full`: `target` is the whole shape, the batch axis included (keras.ops.reshape).
// `squeeze` (non-empty, ascending): these input axes, each of size 1, are dropped (keras.ops.squeeze).
struct ReshapeAttrs {
  Shape target;
  bool keep_shape = false;
  bool full = false;
  std::vector<int> squeeze = {};
};

// Output axis i is input axis perm[i] (perm covers every axis, batch included).
constexpr size_t kMaxTransposeRank = 16;
struct TransposeAttrs {
  std::vector<int> perm;
};

// A new axis at `axis` along which the input is repeated `times` times: (b, f) -> (b, times, f) at 1.
struct RepeatAttrs {
  int axis = 1;
  int64_t times = 1;
};

}  // namespace kerasrt::ir
