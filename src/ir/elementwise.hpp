// Element-wise ops: unary functions (activations and math), binary arithmetic/comparison/logic with
// NumPy broadcasting, and casts. Also the Activation a producer (dense, conv) applies to its output.
#pragma once

#include <cstdint>
#include <span>

#include <kerasrt/kerasrt.hpp>

namespace kerasrt::ir {

enum class UnaryFn : uint8_t {
  // activations (keras.activations), float32
  kIdentity, kRelu, kRelu6, kSigmoid, kHardSigmoid, kTanh, kElu, kSelu, kSoftplus, kSoftsign, kSilu, kHardSilu,
  kGelu, kGeluTanh, kExp, kLeakyRelu, kMish, kCelu, kLogSigmoid, kTanhShrink, kSoftShrink, kHardShrink,
  kHardTanh, kSparsePlus, kSparseSigmoid, kSquarePlus, kThreshold,
  kReluGeneral,  // relu with all of Keras's parameters (below)
  // over the last axis (not element-wise): softmax, log_softmax, sparsemax, glu (halves the last axis)
  kSoftmax, kLogSoftmax, kSparsemax, kGlu,
  // math (keras.ops); abs, negative, square, sign also on integers; logical_not on bool
  kAbs, kNeg, kSquare, kSign, kSqrt, kRsqrt, kReciprocal, kLog, kLog1p, kExpm1, kSin, kCos, kTan, kErf,
  kFloor, kCeil, kRound, kLogicalNot, kIsNan, kIsInf, kIsFinite,
  kExp2, kLog2, kLog10, kAsin, kAcos, kAtan, kSinh, kCosh, kAsinh, kAcosh, kAtanh, kTrunc,
  kCount,
};

// alpha/beta by function: leaky_relu slope; elu/celu alpha; shrink threshold; squareplus b;
// threshold's threshold (alpha) and default value (beta); hard_sigmoid y = clip(alpha*x + beta, 0, 1);
// round's decimals (alpha, a whole number); sparsemax's threshold rule (alpha 0: (cumsum_k - 1) / k;
// alpha 1: Keras 3 before 3.16, the sum of the support's cumulative sums); relu_general's negative_slope (alpha), max_value (beta,
// infinity for none) and threshold (gamma):
//   y = min(max(x > gamma ? x : 0, 0), beta) - alpha * max(gamma - x, 0)
struct UnaryAttrs {
  UnaryFn fn = UnaryFn::kIdentity;
  float alpha = 0.f, beta = 0.f, gamma = 0.f;
};

// What a producer applies to its output (Dense(..., activation=...)): any unary function.
using Activation = UnaryAttrs;

enum class BinaryFn : uint8_t {
  kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kMax, kMin, kAtan2,
  kPrelu,  // a >= 0 ? a : b * a (PReLU: b is the slope), float32
  kEqual, kNotEqual, kLess, kLessEqual, kGreater, kGreaterEqual,
  kLogicalAnd, kLogicalOr, kLogicalXor,
  kCount,
};

struct BinaryAttrs {
  BinaryFn fn = BinaryFn::kAdd;
};

// Value sets kerasrt stores in a wider dtype: a cast to float16/bfloat16 rounds to that format but
// gives float32; one to int8/int16/uint16 wraps to that width in int32, to uint32 in int64.
enum class Narrow : uint8_t { kNone, kFloat16, kBFloat16, kInt8, kInt16, kUInt16, kUInt32 };

struct CastAttrs {
  DType to = DType::kFloat32;
  Narrow narrow = Narrow::kNone;
};

// A constant tensor (the node's one weight, any dtype), e.g. a number given in a call.
struct ConstantAttrs {};

// where(condition, x, y) with broadcasting: condition bool, x and y of one dtype.
struct WhereAttrs {};

const char* unary_fn_name(UnaryFn f);    // "relu", "abs", ...
const char* binary_fn_name(BinaryFn f);  // "add", "less_equal", ...
bool is_elementwise(UnaryFn f);          // false for the last-axis functions
bool keeps_integers(UnaryFn f);          // defined on integers too (abs, negative, ...): integers stay integers
bool is_comparison(BinaryFn f);
bool is_logical(BinaryFn f);
const char* narrow_name(Narrow n);  // "none", "float16", ...

// The dtype both inputs of a binary op are computed in (the format reader casts to it first), and
// the dtype of its result: Keras's promotion (bool < uint8 < int32 < int64 < float32; division is
// float; comparisons give bool; logic works on bool).
DType binary_compute_dtype(BinaryFn f, DType a, DType b);
DType binary_result_dtype(BinaryFn f, DType compute);

// NumPy broadcasting of two shapes (-1 unknown); throws Error when they cannot broadcast.
Shape broadcast_shapes(std::span<const int64_t> a, std::span<const int64_t> b);

}  // namespace kerasrt::ir
