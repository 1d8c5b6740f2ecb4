// Element-wise kernels as tight loops the compiler vectorises: the function is a template argument,
// so no switch or indirect call runs per element; broadcasting is reduced to one inner loop whose
// input strides are 0 or 1.
#include <array>
#include <cmath>
#include <utility>

#include "kernels/ref/ref.hpp"
#include "kernels/dtype_dispatch.hpp"
#include "kernels/simd_level.hpp"
#include "kernels/unary_math.hpp"
#include "kernels/x86/vector_math.hpp"
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

constexpr int64_t kGrain = 16384;  // elements per task: below this, threads cost more than they save

// ---- unary ------------------------------------------------------------------------------------
// Function F of one element: the exp family through the vectorisable vector_math.hpp, the rest
// through unary_value, whose switch folds away because F is a constant.
template <ir::UnaryFn F>
[[gnu::always_inline]] inline float unary_fast(float x, const ir::UnaryAttrs& u) {
  using Fn = ir::UnaryFn;
  if constexpr (F == Fn::kExp) return vexp(x);
  else if constexpr (F == Fn::kSigmoid) return vsigmoid(x);
  else if constexpr (F == Fn::kSilu) return x * vsigmoid(x);
  else if constexpr (F == Fn::kTanh) return vtanh(x);
  else if constexpr (F == Fn::kErf) return verf(x);
  else if constexpr (F == Fn::kGelu) return 0.5f * x * (1.f + verf(x * 0.70710678118654752f));
  else if constexpr (F == Fn::kGeluTanh) return 0.5f * x * (1.f + vtanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
  else return unary_value(u, x);
}

// One loop per function and per instruction set, compiled for each (simd_level() picks). Explicit
// target attributes rather than target_clones: clang does not clone templates.
template <ir::UnaryFn F>
[[gnu::always_inline]] inline void unary_loop_body(const float* x, float* y, int64_t n, const ir::UnaryAttrs& params) {
  const ir::UnaryAttrs u{F, params.alpha, params.beta, params.gamma};
  for (int64_t i = 0; i < n; ++i) y[i] = unary_fast<F>(x[i], u);
}
template <ir::UnaryFn F>
void unary_loop_portable(const float* x, float* y, int64_t n, const ir::UnaryAttrs& p) {
  unary_loop_body<F>(x, y, n, p);
}
#if defined(__x86_64__)
template <ir::UnaryFn F>
__attribute__((target("avx2"))) void unary_loop_avx2(const float* x, float* y, int64_t n, const ir::UnaryAttrs& p) {
  unary_loop_body<F>(x, y, n, p);
}
template <ir::UnaryFn F>
__attribute__((target("avx512f"))) void unary_loop_avx512(const float* x, float* y, int64_t n, const ir::UnaryAttrs& p) {
  unary_loop_body<F>(x, y, n, p);
}
#endif

using UnaryLoop = void (*)(const float*, float*, int64_t, const ir::UnaryAttrs&);

// The loops of every function at one SIMD level (0 portable, 1 AVX2, 2 AVX-512).
template <int Level, size_t... I>
constexpr std::array<UnaryLoop, sizeof...(I)> unary_table(std::index_sequence<I...>) {
#if defined(__x86_64__)
  if constexpr (Level == 2) return {&unary_loop_avx512<static_cast<ir::UnaryFn>(I)>...};
  if constexpr (Level == 1) return {&unary_loop_avx2<static_cast<ir::UnaryFn>(I)>...};
#endif
  return {&unary_loop_portable<static_cast<ir::UnaryFn>(I)>...};
}
using FnIndices = std::make_index_sequence<static_cast<size_t>(ir::UnaryFn::kCount)>;
constexpr std::array<std::array<UnaryLoop, static_cast<size_t>(ir::UnaryFn::kCount)>, 3> kUnaryLoops = {
    unary_table<0>(FnIndices{}), unary_table<1>(FnIndices{}), unary_table<2>(FnIndices{})};

#if defined(__x86_64__)
// The exp family with AVX-512 intrinsics (vector_math.hpp), 16 floats at a time, the tail masked.
template <ir::UnaryFn F>
[[gnu::always_inline]] inline __attribute__((target("avx512f"))) __m512 unary16(__m512 x) {
  using Fn = ir::UnaryFn;
  if constexpr (F == Fn::kExp) return vexp16(x);
  else if constexpr (F == Fn::kSigmoid) return vsigmoid16(x);
  else if constexpr (F == Fn::kSilu) return _mm512_mul_ps(x, vsigmoid16(x));
  else if constexpr (F == Fn::kTanh) return vtanh16(x);
  else if constexpr (F == Fn::kErf) return verf16(x);
  else if constexpr (F == Fn::kGelu) {
    const __m512 e = verf16(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.f), e));
  } else {
    static_assert(F == Fn::kGeluTanh);
    const __m512 inner = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f),
                                       _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x), _mm512_mul_ps(x, x), x));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.f), vtanh16(inner)));
  }
}

template <ir::UnaryFn F>
__attribute__((target("avx512f"))) void unary_loop16(const float* x, float* y, int64_t n, const ir::UnaryAttrs&) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, unary16<F>(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, unary16<F>(_mm512_maskz_loadu_ps(m, x + i)));
  }
}
#endif

// The loop for `fn` at the current SIMD level.
UnaryLoop unary_loop_for(ir::UnaryFn fn) {
#if defined(__x86_64__)
  if (simd_level() == SimdLevel::avx512) {
    using Fn = ir::UnaryFn;
    switch (fn) {
      case Fn::kExp: return unary_loop16<Fn::kExp>;
      case Fn::kSigmoid: return unary_loop16<Fn::kSigmoid>;
      case Fn::kSilu: return unary_loop16<Fn::kSilu>;
      case Fn::kTanh: return unary_loop16<Fn::kTanh>;
      case Fn::kErf: return unary_loop16<Fn::kErf>;
      case Fn::kGelu: return unary_loop16<Fn::kGelu>;
      case Fn::kGeluTanh: return unary_loop16<Fn::kGeluTanh>;
      default: break;
    }
  }
#endif
  const SimdLevel level = simd_level();
  const size_t table = level == SimdLevel::avx512 ? 2 : level == SimdLevel::avx2 ? 1 : 0;
  return kUnaryLoops[table][static_cast<size_t>(fn)];
}

bool unary_supports(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType> out) {
  return in[0].dtype == DType::kFloat32 && out[0].dtype == DType::kFloat32 &&
         ir::is_elementwise(node.as<ir::UnaryAttrs>().fn);
}

void run_unary(const KernelCall& c) {
  apply_unary(c.node.as<ir::UnaryAttrs>(), static_cast<const float*>(c.in[0].data), static_cast<float*>(c.out[0].data),
              element_count(c.in[0].shape), c.in[0].shape.empty() ? 1 : c.in[0].shape.back(), nullptr, c.ctx);
}

// ---- binary -----------------------------------------------------------------------------------
constexpr size_t kMaxRank = 8;

// The output as [outer..., inner] with each input's element stride per axis (0 where broadcast),
// adjacent axes merged where both inputs continue contiguously.
struct Broadcast {
  int rank = 0;  // axes in `size`, the last one is the inner loop
  std::array<int64_t, kMaxRank> size{}, stride_a{}, stride_b{};
};

Broadcast plan_broadcast(std::span<const int64_t> out, std::span<const int64_t> a, std::span<const int64_t> b) {
  Broadcast bc;
  auto strides = [&](std::span<const int64_t> s, std::array<int64_t, kMaxRank>& st) {
    int64_t step = 1;
    for (size_t i = out.size(); i-- > 0;) {
      size_t skip = out.size() - s.size();
      int64_t d = i < skip ? 1 : s[i - skip];
      st[i] = d == 1 ? 0 : step;
      step *= d;
    }
  };
  std::array<int64_t, kMaxRank> sa{}, sb{};
  strides(a, sa);
  strides(b, sb);
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;
    if (bc.rank > 0) {
      int p = bc.rank - 1;
      bool merge_a = sa[i] == 0 ? bc.stride_a[p] == 0 : bc.stride_a[p] == sa[i] * out[i];
      bool merge_b = sb[i] == 0 ? bc.stride_b[p] == 0 : bc.stride_b[p] == sb[i] * out[i];
      if (merge_a && merge_b) {
        bc.size[p] *= out[i];
        bc.stride_a[p] = sa[i];
        bc.stride_b[p] = sb[i];
        continue;
      }
    }
    bc.size[bc.rank] = out[i];
    bc.stride_a[bc.rank] = sa[i];
    bc.stride_b[bc.rank] = sb[i];
    ++bc.rank;
  }
  if (bc.rank == 0) {  // a scalar result
    bc.rank = 1;
    bc.size[0] = 1;
  }
  return bc;
}

template <class T, class Out, class Op>
void inner(const T* a, int64_t sa, const T* b, int64_t sb, Out* y, int64_t n, Op op) {
  if (sa == 1 && sb == 1)
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], b[i]);
  else if (sa == 1)
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], b[0]);
  else if (sb == 1)
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[0], b[i]);
  else
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[0], b[0]);
}

template <class T, class Out, class Op>
void broadcast_loop(const Broadcast& bc, const T* a, const T* b, Out* y, Op op, const ExecContext& ctx) {
  const int last = bc.rank - 1;
  const int64_t len = bc.size[last];
  int64_t rows = 1;
  for (int i = 0; i < last; ++i) rows *= bc.size[i];
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(len, 1));
  ctx.parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t rest = r, oa = 0, ob = 0;
      for (int i = last - 1; i >= 0; --i) {
        int64_t idx = rest % bc.size[i];
        rest /= bc.size[i];
        oa += idx * bc.stride_a[i];
        ob += idx * bc.stride_b[i];
      }
      inner(a + oa, bc.stride_a[last], b + ob, bc.stride_b[last], y + r * len, len, op);
    }
  });
}

template <class T>
void binary_typed(const KernelCall& c) {
  using F = ir::BinaryFn;
  const Broadcast bc = plan_broadcast(c.out[0].shape, c.in[0].shape, c.in[1].shape);
  const T* a = static_cast<const T*>(c.in[0].data);
  const T* b = static_cast<const T*>(c.in[1].data);
  T* y = static_cast<T*>(c.out[0].data);
  uint8_t* yb = static_cast<uint8_t*>(c.out[0].data);
  switch (c.node.as<ir::BinaryAttrs>().fn) {
    case F::kAdd: return broadcast_loop(bc, a, b, y, [](T p, T q) { return static_cast<T>(p + q); }, c.ctx);
    case F::kSub: return broadcast_loop(bc, a, b, y, [](T p, T q) { return static_cast<T>(p - q); }, c.ctx);
    case F::kMul: return broadcast_loop(bc, a, b, y, [](T p, T q) { return static_cast<T>(p * q); }, c.ctx);
    case F::kDiv: return broadcast_loop(bc, a, b, y, [](T p, T q) { return static_cast<T>(p / q); }, c.ctx);
    case F::kMax: return broadcast_loop(bc, a, b, y, [](T p, T q) { return p != p || q != q ? static_cast<T>(NAN) : p > q ? p : q; }, c.ctx);
    case F::kMin: return broadcast_loop(bc, a, b, y, [](T p, T q) { return p != p || q != q ? static_cast<T>(NAN) : p < q ? p : q; }, c.ctx);
    case F::kPrelu: return broadcast_loop(bc, a, b, y, [](T p, T q) { return p >= 0 ? p : static_cast<T>(q * p); }, c.ctx);
    case F::kEqual: return broadcast_loop(bc, a, b, yb, [](T p, T q) -> uint8_t { return p == q; }, c.ctx);
    case F::kNotEqual: return broadcast_loop(bc, a, b, yb, [](T p, T q) -> uint8_t { return p != q; }, c.ctx);
    case F::kLess: return broadcast_loop(bc, a, b, yb, [](T p, T q) -> uint8_t { return p < q; }, c.ctx);
    case F::kLessEqual: return broadcast_loop(bc, a, b, yb, [](T p, T q) -> uint8_t { return p <= q; }, c.ctx);
    case F::kGreater: return broadcast_loop(bc, a, b, yb, [](T p, T q) -> uint8_t { return p > q; }, c.ctx);
    case F::kGreaterEqual: return broadcast_loop(bc, a, b, yb, [](T p, T q) -> uint8_t { return p >= q; }, c.ctx);
    default: break;
  }
}

bool binary_supports(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType> out) {
  using F = ir::BinaryFn;
  F fn = node.as<ir::BinaryAttrs>().fn;
  if (out[0].shape.size() > kMaxRank) return false;
  // Integer arithmetic stays with the reference (it wraps overflow explicitly); these loops cover
  // float32 arithmetic and comparisons of every type.
  bool arithmetic = fn == F::kAdd || fn == F::kSub || fn == F::kMul || fn == F::kDiv || fn == F::kMax || fn == F::kMin || fn == F::kPrelu;
  if (arithmetic) return in[0].dtype == DType::kFloat32;
  return ir::is_comparison(fn);
}

void run_binary(const KernelCall& c) {
  with_element_type(c.in[0].dtype, [&](auto t) { binary_typed<decltype(t)>(c); });
}

}  // namespace

void apply_unary(const ir::UnaryAttrs& u, const float* x, float* y, int64_t n, int64_t last_len, float* scratch,
                 const ExecContext& ctx) {
  if (!ir::is_elementwise(u.fn)) return ref::apply_unary(u, x, y, n, last_len, scratch);
  if (u.fn == ir::UnaryFn::kIdentity && x == y) return;
  UnaryLoop loop = unary_loop_for(u.fn);
  ctx.parallel_for(n, kGrain, [&](int64_t begin, int64_t end) { loop(x + begin, y + begin, end - begin, u); });
}

namespace {

KERASRT_CLONES("avx512f", "avx2", "default") void scale_shift_rows(float* y, int64_t rows,
                                                                                   int64_t channels,
                                                                                   const float* scale,
                                                                                   const float* shift) {
  for (int64_t r = 0; r < rows; ++r, y += channels)
    for (int64_t j = 0; j < channels; ++j) y[j] = y[j] * scale[j] + shift[j];
}

}  // namespace

void finish_rows(const ir::UnaryAttrs& own, std::span<const PostOp> post, float* y, int64_t rows, int64_t channels,
                 float* scratch, const ExecContext& ctx) {
  const bool own_in_rows = ir::is_elementwise(own.fn);
  if (!own_in_rows) apply_unary(own, y, y, rows * channels, channels, scratch, ctx);
  const bool own_needed = own_in_rows && own.fn != ir::UnaryFn::kIdentity;
  if (!own_needed && post.empty()) return;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(channels, 1));
  ctx.parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    finish_rows_here(own_needed ? own : ir::UnaryAttrs{}, post, y + begin * channels, end - begin, channels);
  });
}

void finish_rows_here(const ir::UnaryAttrs& own, std::span<const PostOp> post, float* y, int64_t rows,
                      int64_t channels) {
  if (own.fn != ir::UnaryFn::kIdentity) unary_loop_for(own.fn)(y, y, rows * channels, own);
  apply_post_ops(post, y, rows, channels);
}

bool as_gemm_finish(const ir::UnaryAttrs& own, std::span<const PostOp> post, GemmFinish& out) {
  out.count = 0;
  auto add = [&](const PostOp& op) {
    if (!op.scale && op.unary.fn == ir::UnaryFn::kIdentity) return true;
    if (out.count == GemmFinish::kMaxSteps || (!op.scale && !gemm_can_finish(op.unary.fn))) return false;
    out.steps[out.count++] = op;
    return true;
  };
  if (!add(PostOp{nullptr, nullptr, own})) return false;
  for (const PostOp& op : post)
    if (!add(op)) return false;
  return true;
}

void apply_post_ops(std::span<const PostOp> post, float* y, int64_t rows, int64_t channels) {
  for (const PostOp& op : post) {
    if (op.scale) scale_shift_rows(y, rows, channels, op.scale, op.shift);
    else unary_loop_for(op.unary.fn)(y, y, rows * channels, op.unary);
  }
}

const Kernel kUnaryLoop{"loop", ir::OpKind::kUnary, unary_supports, nullptr, nullptr, run_unary, /*in_place=*/true};
// In place is safe: an output the size of input 0 has its shape, so each element is read before written.
const Kernel kBinaryLoop{"loop", ir::OpKind::kBinary, binary_supports, nullptr, nullptr, run_binary, /*in_place=*/true};

}  // namespace kerasrt::kernels::x86
