#include "ir/concat.hpp"

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

int concat_axis(const ConcatAttrs& a, size_t input_rank) {
  const int64_t rank = static_cast<int64_t>(input_rank) + (a.stack ? 1 : 0);
  const int64_t axis = a.axis < 0 ? a.axis + rank : a.axis;
  if (!a.stack && input_rank == 0) throw Error("cannot concatenate rank-0 tensors");
  if (axis < 0 || axis >= rank)
    throw Error("axis " + std::to_string(a.axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis);
}

std::vector<TensorType> infer_concat(const Node& node, std::span<const TensorType> in) {
  const auto& a = node.as<ConcatAttrs>();
  if (in.empty()) throw Error("concat needs at least one input");
  const Shape& first = in[0].shape;
  const int axis = concat_axis(a, first.size());
  const int skip = a.stack ? -1 : axis;  // the axis along which sizes may differ
  Shape out = first;
  int64_t total = 0;
  for (const TensorType& t : in) {
    if (t.dtype != in[0].dtype)
      throw Error(std::string("concat inputs differ in dtype: ") + dtype_name(in[0].dtype) + " and " + dtype_name(t.dtype));
    const Shape& s = t.shape;
    bool ok = s.size() == first.size();
    for (size_t i = 0; ok && i < s.size(); ++i) {
      if (static_cast<int>(i) == skip) continue;
      if (out[i] >= 0 && s[i] >= 0 && out[i] != s[i]) ok = false;
      else if (out[i] < 0) out[i] = s[i];
    }
    if (!ok) throw Error("cannot join shapes " + shape_to_string(first) + " and " + shape_to_string(s));
    if (!a.stack) total = (total < 0 || s[axis] < 0) ? -1 : total + s[axis];
  }
  if (a.stack) out.insert(out.begin() + axis, static_cast<int64_t>(in.size()));
  else out[axis] = total;
  return {{out, in[0].dtype}};
}

}  // namespace kerasrt::ir
