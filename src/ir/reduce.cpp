#include "ir/reduce.hpp"

#include <algorithm>

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

const char* reduce_fn_name(ReduceFn f) {
  static const char* const names[] = {"sum", "mean", "max", "min", "prod", "var", "std",
                                      "any", "all", "logsumexp", "argmax", "argmin"};
  return names[static_cast<int>(f)];
}

DType reduce_output_dtype(ReduceFn f, DType in) {
  switch (f) {
    case ReduceFn::kSum:
    case ReduceFn::kProd:
      if (in == DType::kBool) return DType::kInt32;
      if (in == DType::kUInt8) return DType::kInt64;  // Keras gives uint32, held in int64
      return in;
    case ReduceFn::kMax:
    case ReduceFn::kMin: return in;
    case ReduceFn::kAny:
    case ReduceFn::kAll: return DType::kBool;
    case ReduceFn::kArgMax:
    case ReduceFn::kArgMin: return DType::kInt32;
    default: return DType::kFloat32;
  }
}

std::vector<TensorType> infer_reduce(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<ReduceAttrs>();
  const Shape& x = in[0].shape;
  const int rank = static_cast<int>(x.size());
  if (rank > static_cast<int>(kMaxTransposeRank)) throw Error("reduce takes at most rank " + std::to_string(kMaxTransposeRank));
  for (size_t i = 0; i < a.axes.size(); ++i)
    if (a.axes[i] < 0 || a.axes[i] >= rank || (i > 0 && a.axes[i] <= a.axes[i - 1]))
      throw Error("reduce axes must be distinct, ascending and within rank " + std::to_string(rank));
  Shape out;
  bool empty_group = false;
  for (int d = 0; d < rank; ++d) {
    const bool reduced = std::find(a.axes.begin(), a.axes.end(), d) != a.axes.end();
    if (!reduced) out.push_back(x[d]);
    else if (a.keepdims) out.push_back(1);
    if (reduced && x[d] == 0) empty_group = true;
  }
  const bool needs_values = a.fn == ReduceFn::kArgMax || a.fn == ReduceFn::kArgMin ||
                            ((a.fn == ReduceFn::kMax || a.fn == ReduceFn::kMin) && !a.has_initial);
  if (empty_group && needs_values) throw Error("cannot reduce over an empty axis");
  return {{out, reduce_output_dtype(a.fn, in[0].dtype)}};
}

}  // namespace kerasrt::ir
