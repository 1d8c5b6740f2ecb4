#include "ir/slice.hpp"

#include <algorithm>
#include <string>

#include "ir/infer.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

SliceRange slice_range(const SliceAxis& a, int64_t len) {
  if (a.index) {
    if (a.start < -len || a.start >= len)
      throw Error("index " + std::to_string(a.start) + " is out of range for an axis of length " + std::to_string(len));
    return {a.start < 0 ? a.start + len : a.start, 1, 1};
  }
  // Python's slice.indices(len); the bounds may be kSliceBegin/kSliceEnd, so no sum can overflow
  // (a negative bound gains len, a non-negative one is only compared).
  auto clamp = [&](int64_t b, int64_t lo, int64_t hi) {
    if (b < 0) b = b < -len ? lo : b + len;
    return std::clamp(b, lo, hi);
  };
  int64_t start, stop;
  if (a.step > 0) {
    start = clamp(a.start, 0, len);
    stop = clamp(a.stop, 0, len);
  } else {
    start = clamp(a.start, -1, len - 1);
    stop = clamp(a.stop, -1, len - 1);
  }
  const int64_t span = a.step > 0 ? stop - start : start - stop;
  const int64_t abs_step = a.step > 0 ? a.step : -a.step;
  return {start, a.step, span > 0 ? (span + abs_step - 1) / abs_step : 0};
}

std::vector<TensorType> infer_slice(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<SliceAttrs>();
  const Shape& x = in[0].shape;
  if (x.size() > kMaxSliceRank) throw Error("indexing takes at most rank " + std::to_string(kMaxSliceRank));
  if (a.axes.size() != x.size())
    throw Error("the index has " + std::to_string(a.axes.size()) + " axes, the input is " + shape_to_string(x));
  Shape kept;
  for (size_t i = 0; i < x.size(); ++i) {
    const SliceAxis& s = a.axes[i];
    if (s.step == 0) throw Error("slice step cannot be zero");
    if (x[i] < 0) {
      if (!s.index) kept.push_back(-1);
      continue;
    }
    try {
      SliceRange r = slice_range(s, x[i]);
      if (!s.index) kept.push_back(r.count);
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + " (axis " + std::to_string(i) + " of shape " + shape_to_string(x) + ")");
    }
  }
  const size_t rank = kept.size() + a.new_axes.size();
  if (rank > kMaxSliceRank) throw Error("indexing gives at most rank " + std::to_string(kMaxSliceRank));
  Shape out;
  size_t next_new = 0, next_kept = 0;
  for (size_t o = 0; o < rank; ++o) {
    if (next_new < a.new_axes.size() && a.new_axes[next_new] == static_cast<int>(o)) {
      out.push_back(1);
      ++next_new;
    } else {
      out.push_back(kept[next_kept++]);
    }
  }
  if (next_new != a.new_axes.size()) throw Error("new axes out of order or range");
  return {{out, in[0].dtype}};
}

}  // namespace kerasrt::ir
