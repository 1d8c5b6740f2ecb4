// Reference element-wise kernels: one element at a time, indices computed from scratch.
#include <algorithm>
#include <climits>
#include <cstring>
#include <cmath>
#include <functional>
#include <limits>
#include <type_traits>

#include "kernels/ref/ref.hpp"
#include "kernels/bfloat16.hpp"
#include "kernels/dtype_dispatch.hpp"
#include "kernels/unary_math.hpp"

namespace kerasrt::kernels::ref {
namespace {

constexpr size_t kMaxRank = 8;

// ---- unary ------------------------------------------------------------------------------------
template <class T>
T integer_unary(ir::UnaryFn fn, T x) {
  switch (fn) {
    case ir::UnaryFn::kAbs: return x < 0 ? static_cast<T>(-x) : x;
    case ir::UnaryFn::kNeg: return static_cast<T>(-x);
    case ir::UnaryFn::kSquare: return static_cast<T>(x * x);
    case ir::UnaryFn::kSign: return static_cast<T>((x > 0) - (x < 0));
    default: return x;
  }
}

// softmax, log_softmax, sparsemax and glu over the last axis of `rows` rows of `len`.
void last_axis(const ir::UnaryAttrs& u, const float* x, float* y, int64_t rows, int64_t len, float* sorted) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = x + r * len;
    switch (u.fn) {
      case ir::UnaryFn::kGlu: {
        int64_t half = len / 2;
        for (int64_t i = 0; i < half; ++i) y[r * half + i] = p[i] * sigmoid(p[half + i]);
        break;
      }
      case ir::UnaryFn::kSparsemax: {
        float* q = y + r * len;
        std::copy(p, p + len, sorted);
        std::sort(sorted, sorted + len, std::greater<float>());
        // Support: sorted[i] > (cumsum_i - 1) / (i + 1). tau = (cumsum_k - 1) / k, or with alpha 1
        // (Keras 3 before 3.16) the sum of every cumulative sum in the support in place of cumsum_k.
        float cum = 0, tau_sum = 0, summed = 0;
        int64_t k = 0;
        for (int64_t i = 0; i < len; ++i) {
          cum += sorted[i];
          if (1.f + static_cast<float>(i + 1) * sorted[i] > cum) {
            k = i + 1;
            tau_sum = cum;
            summed += cum;
          }
        }
        float tau = ((u.alpha != 0.f ? summed : tau_sum) - 1.f) / static_cast<float>(k);
        for (int64_t i = 0; i < len; ++i) q[i] = std::max(p[i] - tau, 0.f);
        break;
      }
      default: {  // softmax / log_softmax, max-shifted, summed in double
        float* q = y + r * len;
        float mx = -INFINITY;
        for (int64_t i = 0; i < len; ++i) mx = std::max(mx, p[i]);
        double sum = 0;
        for (int64_t i = 0; i < len; ++i) sum += std::exp(static_cast<double>(p[i] - mx));
        if (u.fn == ir::UnaryFn::kLogSoftmax) {
          float ls = static_cast<float>(std::log(sum));
          for (int64_t i = 0; i < len; ++i) q[i] = p[i] - mx - ls;
        } else {
          for (int64_t i = 0; i < len; ++i) q[i] = static_cast<float>(std::exp(static_cast<double>(p[i] - mx)) / sum);
        }
      }
    }
  }
}

size_t unary_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  if (node.as<ir::UnaryAttrs>().fn != ir::UnaryFn::kSparsemax || in[0].shape.empty()) return 0;
  return static_cast<size_t>(in[0].shape.back()) * sizeof(float);
}

void run_unary(const KernelCall& c) {
  const auto& u = c.node.as<ir::UnaryAttrs>();
  const int64_t n = element_count(c.in[0].shape);
  if (!ir::is_elementwise(u.fn))
    return apply_unary(u, static_cast<const float*>(c.in[0].data), static_cast<float*>(c.out[0].data), n,
                       c.in[0].shape.back(), reinterpret_cast<float*>(c.ctx.scratch.data()));
  auto integers = [&](auto* x, auto* y) {
    for (int64_t i = 0; i < n; ++i) y[i] = integer_unary(u.fn, x[i]);
  };
  auto to_bool = [&](auto* x) {
    uint8_t* y = static_cast<uint8_t*>(c.out[0].data);
    for (int64_t i = 0; i < n; ++i) y[i] = unary_value(u, static_cast<float>(x[i])) != 0.f;
  };
  const DType in_t = c.in[0].dtype, out_t = c.out[0].dtype;
  const void* x = c.in[0].data;
  void* y = c.out[0].data;
  if (out_t == DType::kBool) {
    switch (in_t) {
      case DType::kFloat32: return to_bool(static_cast<const float*>(x));
      case DType::kInt32: return to_bool(static_cast<const int32_t*>(x));
      case DType::kInt64: return to_bool(static_cast<const int64_t*>(x));
      case DType::kUInt8: case DType::kBool: return to_bool(static_cast<const uint8_t*>(x));
    }
  }
  switch (in_t) {
    case DType::kFloat32: {
      const float* xf = static_cast<const float*>(x);
      float* yf = static_cast<float*>(y);
      for (int64_t i = 0; i < n; ++i) yf[i] = unary_value(u, xf[i]);
      return;
    }
    case DType::kInt32: return integers(static_cast<const int32_t*>(x), static_cast<int32_t*>(y));
    case DType::kInt64: return integers(static_cast<const int64_t*>(x), static_cast<int64_t*>(y));
    case DType::kUInt8: case DType::kBool: return integers(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y));
  }
}

// ---- binary -----------------------------------------------------------------------------------
template <class T>
T arithmetic(ir::BinaryFn fn, T a, T b) {
  using F = ir::BinaryFn;
  if constexpr (std::is_floating_point_v<T>) {
    switch (fn) {
      case F::kAdd: return a + b;
      case F::kSub: return a - b;
      case F::kMul: return a * b;
      case F::kDiv: return a / b;
      case F::kFloorDiv: {  // torch's algorithm (div_floor), which rounds fmod's quotient
        if (b == 0) return a / b;
        T mod = std::fmod(a, b);
        T div = (a - mod) / b;
        if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1;
        if (div == 0) return std::copysign(T{0}, a / b);
        T floored = std::floor(div);
        return div - floored > T(0.5) ? floored + 1 : floored;
      }
      case F::kMod: {  // Python's modulo: the sign of the divisor
        T r = std::fmod(a, b);
        return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
      }
      case F::kPow: return std::pow(a, b);
      case F::kAtan2: return std::atan2(a, b);
      case F::kPrelu: return a >= 0 ? a : b * a;
      case F::kMax: return a != a || b != b ? NAN : std::max(a, b);  // NaN wins, as in NumPy
      case F::kMin: return a != a || b != b ? NAN : std::min(a, b);
      default: return 0;
    }
  } else {
    using U = std::make_unsigned_t<T>;  // integer arithmetic wraps, as in NumPy (signed overflow would be UB)
    switch (fn) {
      case F::kAdd: return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
      case F::kSub: return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
      case F::kMul: return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
      case F::kFloorDiv: {  // floor, and 0 for a zero divisor rather than a trap
        if (b == 0) return 0;
        if constexpr (std::is_signed_v<T>)
          if (b == -1) return static_cast<T>(U{0} - static_cast<U>(a));
        T q = static_cast<T>(a / b);
        return (a % b != 0 && ((a < 0) != (b < 0))) ? static_cast<T>(q - 1) : q;
      }
      case F::kMod: {
        if (b == 0) return 0;
        if constexpr (std::is_signed_v<T>)
          if (b == -1) return 0;
        T r = static_cast<T>(a % b);
        return r != 0 && ((r < 0) != (b < 0)) ? static_cast<T>(r + b) : r;
      }
      case F::kPow: {  // by squaring, wrapping; a negative exponent leaves 1/a^-b truncated
        if constexpr (std::is_signed_v<T>)
          if (b < 0) return a == 1 ? T{1} : a == -1 ? static_cast<T>((b % 2) ? -1 : 1) : T{0};
        U r = 1, base = static_cast<U>(a);
        for (auto e = static_cast<U>(b); e; e >>= 1, base = static_cast<U>(base * base))
          if (e & 1) r = static_cast<U>(r * base);
        return static_cast<T>(r);
      }
      case F::kMax: return std::max(a, b);
      case F::kMin: return std::min(a, b);
      default: return 0;
    }
  }
}

template <class T>
bool predicate(ir::BinaryFn fn, T a, T b) {
  using F = ir::BinaryFn;
  switch (fn) {
    case F::kEqual: return a == b;
    case F::kNotEqual: return a != b;
    case F::kLess: return a < b;
    case F::kLessEqual: return a <= b;
    case F::kGreater: return a > b;
    case F::kGreaterEqual: return a >= b;
    case F::kLogicalAnd: return a && b;
    case F::kLogicalOr: return a || b;
    case F::kLogicalXor: return (a != 0) != (b != 0);
    default: return false;
  }
}

// Element offset into an input of `shape` (right-aligned, broadcast axes fixed at 0) for an
// output multi-index.
int64_t broadcast_offset(std::span<const int64_t> shape, const int64_t* index, size_t out_rank) {
  int64_t offset = 0;
  size_t skip = out_rank - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) offset = offset * shape[i] + (shape[i] == 1 ? 0 : index[skip + i]);
  return offset;
}

template <class T>
void binary_typed(const KernelCall& c) {
  const auto fn = c.node.as<ir::BinaryAttrs>().fn;
  const T* a = static_cast<const T*>(c.in[0].data);
  const T* b = static_cast<const T*>(c.in[1].data);
  std::span<const int64_t> out_shape = c.out[0].shape;
  const size_t rank = out_shape.size();
  if (rank > kMaxRank) throw Error("binary ops take at most 8 axes");
  int64_t index[kMaxRank] = {};
  const int64_t n = element_count(out_shape);
  const bool boolean = c.out[0].dtype == DType::kBool;
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i;
    for (size_t d = rank; d-- > 0;) {
      index[d] = rest % out_shape[d];
      rest /= out_shape[d];
    }
    T x = a[broadcast_offset(c.in[0].shape, index, rank)], y = b[broadcast_offset(c.in[1].shape, index, rank)];
    if (boolean) static_cast<uint8_t*>(c.out[0].data)[i] = predicate(fn, x, y);
    else static_cast<T*>(c.out[0].data)[i] = arithmetic(fn, x, y);
  }
}

void run_binary(const KernelCall& c) {
  with_element_type(c.in[0].dtype, [&](auto t) { binary_typed<decltype(t)>(c); });
}

// ---- cast -------------------------------------------------------------------------------------
// Nearest float16 value (ties to even), as float.
float to_float16(float x) {
  if (!std::isfinite(x)) return x;
  float a = std::fabs(x);
  if (a >= 65520.f) return std::copysign(INFINITY, x);  // at or past the midpoint above 65504
  int exp = 0;
  std::frexp(a, &exp);                                       // a in [2^(exp-1), 2^exp)
  float quantum = std::ldexp(1.f, std::max(exp, -13) - 11);  // 11 significant bits; subnormals below 2^-14
  return std::copysign(std::nearbyint(a / quantum) * quantum, x);
}

// Float to integer as torch does on x86: truncation toward zero; NaN and out-of-range values give
// the type's minimum for 32/64-bit results; narrower ones wrap the 32-bit result.
int64_t trunc_to_i32(float x) {
  if (!(x > -2147483904.f && x < 2147483648.f)) return INT32_MIN;
  return static_cast<int32_t>(x);
}
int64_t trunc_to_i64(float x) {
  if (!(x >= -9223372036854775808.f && x < 9223372036854775808.f)) return INT64_MIN;
  return static_cast<int64_t>(x);
}

// The integer a value casts to, before it is wrapped to the result's width.
template <class From>
int64_t integer_of(From v, bool wide) {
  if constexpr (std::is_floating_point_v<From>) return wide ? trunc_to_i64(v) : trunc_to_i32(v);
  else return static_cast<int64_t>(v);
}

template <class From>
void cast_from(const From* x, int64_t n, const ir::CastAttrs& a, const TensorView& out) {
  using N = ir::Narrow;
  switch (out.dtype) {
    case DType::kFloat32: {
      float* y = static_cast<float*>(out.data);
      for (int64_t i = 0; i < n; ++i) {
        float v = static_cast<float>(x[i]);
        y[i] = a.narrow == N::kFloat16 ? to_float16(v) : a.narrow == N::kBFloat16 ? round_to_bfloat16(v) : v;
      }
      return;
    }
    case DType::kInt32: {
      int32_t* y = static_cast<int32_t*>(out.data);
      for (int64_t i = 0; i < n; ++i) {
        auto v = static_cast<uint32_t>(integer_of(x[i], false));  // wrap modulo 2^32 (C++20 defines it)
        switch (a.narrow) {
          case N::kInt8: y[i] = static_cast<int8_t>(v); break;
          case N::kInt16: y[i] = static_cast<int16_t>(v); break;
          case N::kUInt16: y[i] = static_cast<uint16_t>(v); break;
          default: y[i] = static_cast<int32_t>(v);
        }
      }
      return;
    }
    case DType::kInt64: {
      int64_t* y = static_cast<int64_t*>(out.data);
      for (int64_t i = 0; i < n; ++i) {
        int64_t v = integer_of(x[i], true);
        y[i] = a.narrow == N::kUInt32 ? static_cast<uint32_t>(v) : v;
      }
      return;
    }
    case DType::kUInt8: {
      uint8_t* y = static_cast<uint8_t*>(out.data);
      for (int64_t i = 0; i < n; ++i) y[i] = static_cast<uint8_t>(integer_of(x[i], false));
      return;
    }
    case DType::kBool: {
      uint8_t* y = static_cast<uint8_t*>(out.data);
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] != From{0};
      return;
    }
  }
}

void run_cast(const KernelCall& c) {
  const int64_t n = element_count(c.in[0].shape);
  const auto& a = c.node.as<ir::CastAttrs>();
  switch (c.in[0].dtype) {
    case DType::kFloat32: return cast_from(static_cast<const float*>(c.in[0].data), n, a, c.out[0]);
    case DType::kInt32: return cast_from(static_cast<const int32_t*>(c.in[0].data), n, a, c.out[0]);
    case DType::kInt64: return cast_from(static_cast<const int64_t*>(c.in[0].data), n, a, c.out[0]);
    case DType::kUInt8: case DType::kBool: return cast_from(static_cast<const uint8_t*>(c.in[0].data), n, a, c.out[0]);
  }
}

// ---- constant, where --------------------------------------------------------------------------
void run_constant(const KernelCall& c) {
  const Tensor& t = c.node.weight(0);
  std::memcpy(c.out[0].data, t.raw(), t.nbytes());
}

void run_where(const KernelCall& c) {
  std::span<const int64_t> out_shape = c.out[0].shape;
  const size_t rank = out_shape.size();
  if (rank > kMaxRank) throw Error("where takes at most 8 axes");
  const size_t size = dtype_size(c.out[0].dtype);
  const auto* cond = static_cast<const uint8_t*>(c.in[0].data);
  const auto* x = static_cast<const std::byte*>(c.in[1].data);
  const auto* y = static_cast<const std::byte*>(c.in[2].data);
  auto* out = static_cast<std::byte*>(c.out[0].data);
  int64_t index[kMaxRank] = {};
  const int64_t n = element_count(out_shape);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i;
    for (size_t d = rank; d-- > 0;) {
      index[d] = rest % out_shape[d];
      rest /= out_shape[d];
    }
    bool pick_x = cond[broadcast_offset(c.in[0].shape, index, rank)] != 0;
    const std::byte* src = pick_x ? x + broadcast_offset(c.in[1].shape, index, rank) * size
                                  : y + broadcast_offset(c.in[2].shape, index, rank) * size;
    std::memcpy(out + i * size, src, size);
  }
}

}  // namespace

void apply_unary(const ir::UnaryAttrs& u, const float* x, float* y, int64_t n, int64_t last_len, float* scratch) {
  if (ir::is_elementwise(u.fn)) {
    for (int64_t i = 0; i < n; ++i) y[i] = unary_value(u, x[i]);
    return;
  }
  last_axis(u, x, y, last_len ? n / last_len : 0, last_len, scratch);
}

const Kernel kUnary{"ref", ir::OpKind::kUnary, nullptr, unary_scratch, nullptr, run_unary};
const Kernel kBinary{"ref", ir::OpKind::kBinary, nullptr, nullptr, nullptr, run_binary};
const Kernel kCast{"ref", ir::OpKind::kCast, nullptr, nullptr, nullptr, run_cast};
const Kernel kConstant{"ref", ir::OpKind::kConstant, nullptr, nullptr, nullptr, run_constant};
const Kernel kWhere{"ref", ir::OpKind::kWhere, nullptr, nullptr, nullptr, run_where};

}  // namespace kerasrt::kernels::ref
