// Basic indexing, x[key] (keras.ops GetItem; ONNX Slice plus dropped and inserted axes), with the
// key's ellipsis already expanded: one entry per input axis, then size-1 axes inserted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace kerasrt::ir {

// Bounds past either end, for slices that run to the end (or the start, with a negative step).
constexpr int64_t kSliceEnd = std::numeric_limits<int64_t>::max();
constexpr int64_t kSliceBegin = std::numeric_limits<int64_t>::min();

// A Python slice start:stop:step of one axis (negative bounds count from the end; bounds beyond the
// axis clamp as slice.indices() does), or an integer index (`start`; the axis is dropped).
constexpr size_t kMaxSliceRank = 16;

struct SliceAxis {
  int64_t start = 0, stop = kSliceEnd, step = 1;
  bool index = false;
};

struct SliceAttrs {
  std::vector<SliceAxis> axes;  // one per input axis
  std::vector<int> new_axes;    // ascending positions in the output of inserted size-1 axes
};

// An axis's slice resolved against its length `len` (>= 0): the first element, the step and how
// many elements it takes. Throws Error for an index out of range.
struct SliceRange {
  int64_t start, step, count;
};
SliceRange slice_range(const SliceAxis& a, int64_t len);

}  // namespace kerasrt::ir
