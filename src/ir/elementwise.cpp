#include "ir/elementwise.hpp"

#include <algorithm>

#include "ir/infer.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

const char* unary_fn_name(UnaryFn f) {
  static constexpr const char* kNames[] = {
      "identity", "relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "elu", "selu", "softplus", "softsign", "silu",
      "hard_silu", "gelu", "gelu_tanh", "exp", "leaky_relu", "mish", "celu", "log_sigmoid", "tanh_shrink",
      "soft_shrink", "hard_shrink", "hard_tanh", "sparse_plus", "sparse_sigmoid", "squareplus", "threshold",
      "relu_general",
      "softmax", "log_softmax", "sparsemax", "glu",
      "abs", "negative", "square", "sign", "sqrt", "rsqrt", "reciprocal", "log", "log1p", "expm1", "sin", "cos",
      "tan", "erf", "floor", "ceil", "round", "logical_not", "isnan", "isinf", "isfinite",
      "exp2", "log2", "log10", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh",
      "trunc"};
  static_assert(std::size(kNames) == static_cast<size_t>(UnaryFn::kCount));
  return kNames[static_cast<size_t>(f)];
}

const char* binary_fn_name(BinaryFn f) {
  static constexpr const char* kNames[] = {
      "add", "subtract", "multiply", "divide", "floor_divide", "mod", "power", "maximum", "minimum", "arctan2",
      "prelu",
      "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
      "logical_and", "logical_or", "logical_xor"};
  static_assert(std::size(kNames) == static_cast<size_t>(BinaryFn::kCount));
  return kNames[static_cast<size_t>(f)];
}

bool is_elementwise(UnaryFn f) {
  return f != UnaryFn::kSoftmax && f != UnaryFn::kLogSoftmax && f != UnaryFn::kSparsemax && f != UnaryFn::kGlu;
}

bool is_comparison(BinaryFn f) { return f >= BinaryFn::kEqual && f <= BinaryFn::kGreaterEqual; }
bool is_logical(BinaryFn f) { return f >= BinaryFn::kLogicalAnd; }

const char* narrow_name(Narrow n) {
  static constexpr const char* kNames[] = {"none", "float16", "bfloat16", "int8", "int16", "uint16", "uint32"};
  return kNames[static_cast<size_t>(n)];
}

namespace {

int rank_of(DType t) {
  switch (t) {
    case DType::kBool: return 0;
    case DType::kUInt8: return 1;
    case DType::kInt32: return 2;
    case DType::kInt64: return 3;
    case DType::kFloat32: return 4;
  }
  return 4;
}

bool is_integer(DType t) { return t == DType::kInt32 || t == DType::kInt64 || t == DType::kUInt8; }

}  // namespace

// Functions defined on integers as well as floats; the rest compute in float32.
bool keeps_integers(UnaryFn f) {
  return f == UnaryFn::kAbs || f == UnaryFn::kNeg || f == UnaryFn::kSquare || f == UnaryFn::kSign ||
         f == UnaryFn::kIdentity || f == UnaryFn::kRelu || f == UnaryFn::kTrunc;
}

DType binary_compute_dtype(BinaryFn f, DType a, DType b) {
  if (is_logical(f)) return DType::kBool;
  DType t = rank_of(a) >= rank_of(b) ? a : b;
  if (f == BinaryFn::kDiv || f == BinaryFn::kAtan2 || f == BinaryFn::kPrelu) return DType::kFloat32;
  // bool arithmetic is integer arithmetic in Keras; comparisons of bools are fine as bytes
  if (t == DType::kBool && !is_comparison(f)) return DType::kInt32;
  return t;
}

DType binary_result_dtype(BinaryFn f, DType compute) {
  return is_comparison(f) || is_logical(f) ? DType::kBool : compute;
}

Shape broadcast_shapes(std::span<const int64_t> a, std::span<const int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == 1) out[i] = db;
    else if (db == 1) out[i] = da;
    else if (da < 0 || db < 0) out[i] = std::max(da, db);  // unknown: the other, or unknown
    else if (da == db) out[i] = da;
    else throw Error("shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " do not broadcast");
  }
  return out;
}

std::vector<TensorType> infer_unary(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<UnaryAttrs>();
  TensorType out = in[0];
  if (a.fn == UnaryFn::kLogicalNot || a.fn == UnaryFn::kIsNan || a.fn == UnaryFn::kIsInf || a.fn == UnaryFn::kIsFinite) {
    out.dtype = DType::kBool;
  } else if (!(keeps_integers(a.fn) && is_integer(in[0].dtype))) {
    if (in[0].dtype != DType::kFloat32)
      throw Error(std::string(unary_fn_name(a.fn)) + " takes float32, got " + dtype_name(in[0].dtype));
  }
  if (!is_elementwise(a.fn) && out.shape.empty())
    throw Error(std::string(unary_fn_name(a.fn)) + " needs at least one axis");
  if (a.fn == UnaryFn::kGlu) {
    int64_t& last = out.shape.back();
    if (last >= 0 && last % 2 != 0) throw Error("glu needs an even last dimension, got " + std::to_string(last));
    if (last >= 0) last /= 2;
  }
  return {out};
}

std::vector<TensorType> infer_binary(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 2);
  const auto& a = node.as<BinaryAttrs>();
  if (in[0].dtype != in[1].dtype)
    throw Error(std::string(binary_fn_name(a.fn)) + " inputs differ in dtype (" + dtype_name(in[0].dtype) + ", " +
                dtype_name(in[1].dtype) + ")");
  if (binary_compute_dtype(a.fn, in[0].dtype, in[1].dtype) != in[0].dtype)
    throw Error(std::string(binary_fn_name(a.fn)) + " does not compute in " + dtype_name(in[0].dtype));
  return {{broadcast_shapes(in[0].shape, in[1].shape), binary_result_dtype(a.fn, in[0].dtype)}};
}

std::vector<TensorType> infer_cast(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<CastAttrs>();
  DType holder = DType::kFloat32;
  switch (a.narrow) {
    case Narrow::kNone: holder = a.to; break;
    case Narrow::kFloat16: case Narrow::kBFloat16: holder = DType::kFloat32; break;
    case Narrow::kInt8: case Narrow::kInt16: case Narrow::kUInt16: holder = DType::kInt32; break;
    case Narrow::kUInt32: holder = DType::kInt64; break;
  }
  if (holder != a.to)
    throw Error(std::string("a cast narrowed to ") + narrow_name(a.narrow) + " is held in " + dtype_name(holder));
  return {{in[0].shape, a.to}};
}

std::vector<TensorType> infer_constant(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 0);
  if (node.weights.size() != 1) throw Error("a constant holds one tensor");
  return {{node.weight(0).shape, node.weight(0).dtype}};
}

std::vector<TensorType> infer_where(const Node&, std::span<const TensorType> in) {
  expect_inputs(in, 3);
  if (in[0].dtype != DType::kBool) throw Error(std::string("where takes a bool condition, got ") + dtype_name(in[0].dtype));
  if (in[1].dtype != in[2].dtype)
    throw Error(std::string("where's values differ in dtype (") + dtype_name(in[1].dtype) + ", " +
                dtype_name(in[2].dtype) + ")");
  Shape s = broadcast_shapes(broadcast_shapes(in[0].shape, in[1].shape), in[2].shape);
  return {{s, in[1].dtype}};
}

}  // namespace kerasrt::ir
