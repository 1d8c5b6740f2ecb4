// Ops that move data without computing on it: reshape (same bytes, new shape), transpose and
// repeat. They take any dtype and keep it.
#pragma once

#include <cstdint>
#include <vector>

#include <kerasrt/kerasrt.hpp>

namespace kerasrt::ir {

// The batch axis is kept; the rest become `target` (one entry may be -1: whatever is left).
// `keep_shape`: output shape = input shape (the inference no-ops: Dropout, noise, Identity, ...).
// `time_fold` (TimeDistributed; target unused): kFold merges the batch axis with axis 1,
// (b, t, ...) -> (b*t, ...); kUnfold splits it back, (b*t, ...) -> (b, t, ...), taking b and t from a
// second input of shape (b, t, ...) (only its shape is read).
// `full`: `target` is the whole shape, the batch axis included (keras.ops.reshape).
// `squeeze` (non-empty, ascending): these input axes, each of size 1, are dropped (keras.ops.squeeze).
enum class TimeFold : uint8_t { kNone, kFold, kUnfold };
struct ReshapeAttrs {
  Shape target;
  bool keep_shape = false;
  TimeFold time_fold = TimeFold::kNone;
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
