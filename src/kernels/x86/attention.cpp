// Attention as two GEMMs per (batch, head) with the masked, max-subtracted softmax between them:
// scores = (scale·Q) · Kᵀ, softmax over each row in place, out = P · V. The head's K is transposed
// into scratch (gemm takes B row-major); Q, V and the output are read and written in place through
// their leading dimensions. With return_scores the softmax runs right in the scores output. On
// several threads each takes whole (batch, head) pairs in its own slot of scratch.
#include <algorithm>
#include <cmath>

#include "kernels/attention_mask.hpp"
#include "kernels/gemm.hpp"
#include "kernels/simd_level.hpp"
#include "kernels/x86/vector_math.hpp"
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

// Floats one (batch, head) pair works in: the scaled query, the transposed keys and the scores.
int64_t slot_floats(const ir::AttentionAttrs& a, int64_t tq, int64_t tk) {
  return tq * a.key_dim + a.key_dim * tk + (a.return_scores ? 0 : tq * tk);
}

// Pairs worked on at once (each in its own slot of scratch): up to kMaxSlots, fewer when a slot is
// large, so the scratch stays within kMaxSlotBytes beyond the first slot.
constexpr int64_t kMaxSlots = 8;
constexpr int64_t kMaxSlotBytes = int64_t{16} << 20;
int64_t slot_count(const ir::AttentionAttrs& a, int64_t tq, int64_t tk) {
  const int64_t bytes = std::max<int64_t>(1, slot_floats(a, tq, tk) * static_cast<int64_t>(sizeof(float)));
  return std::clamp<int64_t>(kMaxSlotBytes / bytes, 1, kMaxSlots);
}

size_t attention_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::AttentionAttrs>();
  const int64_t tq = in[0].shape[1], tk = in[1].shape[1];
  return static_cast<size_t>(slot_count(a, tq, tk) * slot_floats(a, tq, tk)) * sizeof(float) +
         gemm_scratch_bytes(tq, tk, a.key_dim) + gemm_scratch_bytes(tq, a.value_dim, tk);
}

// row = exp(row - mx) / sum, masked entries (-inf) giving exactly 0: vectorised (vexp, sums in
// eight double lanes) for the instruction set the CPU has.
KERASRT_CLONES("avx512f", "avx2", "default") void exp_normalize_row(float* row, int64_t S,
                                                                                    float mx) {
  for (int64_t s = 0; s < S; ++s) row[s] = vexp(row[s] - mx);
  constexpr int kLanes = 8;  // independent partial sums, so the additions need not wait on each other
  double lane[kLanes] = {};
  int64_t s = 0;
  for (; s + kLanes <= S; s += kLanes)
    for (int j = 0; j < kLanes; ++j) lane[j] += row[s + j];
  double sum = 0;
  for (double l : lane) sum += l;
  for (; s < S; ++s) sum += row[s];
  const double inv = 1.0 / sum;
  for (int64_t i = 0; i < S; ++i) row[i] = static_cast<float>(row[i] * inv);
}

#if defined(__x86_64__)
// The same with AVX-512 intrinsics: vexp16, sums in two registers of 8 doubles.
__attribute__((target("avx512f"))) void exp_normalize_row16(float* row, int64_t S, float mx) {
  const __m512 m = _mm512_set1_ps(mx);
  __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
  int64_t s = 0;
  for (; s < S; s += 16) {
    const __mmask16 k = S - s >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (S - s)) - 1);
    const __m512 e = vexp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + s), m));
    _mm512_mask_storeu_ps(row + s, k, e);
    const __m512 ez = _mm512_maskz_mov_ps(k, e);
    lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(ez)));
    hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(ez), 1))));
  }
  const __m512d inv = _mm512_set1_pd(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(lo, hi)));
  for (s = 0; s < S; s += 16) {
    const __mmask16 k = S - s >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (S - s)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(k, row + s);
    const __m256 y_lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(x)), inv));
    const __m256 y_hi = _mm512_cvtpd_ps(
        _mm512_mul_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))), inv));
    const __m512d y = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(y_lo)), _mm256_castps_pd(y_hi), 1);
    _mm512_mask_storeu_ps(row + s, k, _mm512_castpd_ps(y));
  }
}

// Largest of row[0..S). A NaN score makes the whole row NaN below whatever this returns.
__attribute__((target("avx512f"))) float row_max16(const float* row, int64_t S) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  int64_t s = 0;
  for (; s + 16 <= S; s += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(row + s));
  if (s < S) {  // the tail through a masked load: the row may end at a page boundary
    const __mmask16 m = static_cast<__mmask16>((1u << (S - s)) - 1);
    mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, row + s));
  }
  return _mm512_reduce_max_ps(mx);
}
#endif

void run_attention(const KernelCall& c) {
  const auto& a = c.node.as<ir::AttentionAttrs>();
  const float* q = static_cast<const float*>(c.in[0].data);
  const float* k = static_cast<const float*>(c.in[1].data);
  const float* v = static_cast<const float*>(c.in[2].data);
  float* out = static_cast<float*>(c.out[0].data);
  const AttentionGeometry g{c.in[0].shape[0], c.in[0].shape[1], c.in[1].shape[1]};
  const AttentionMask mask(a, c.in, g);
  const int64_t H = a.heads, KVH = a.kv_heads, K = a.key_dim, V = a.value_dim, group = H / KVH;
  const int64_t T = g.tq, S = g.tk;
  if (T == 0 || S == 0) {
    std::fill(out, out + g.batch * T * H * V, 0.f);  // no keys: Keras's einsum over nothing
    return;
  }

#if defined(__x86_64__)
  const bool avx512 = simd_level() == SimdLevel::avx512;
#endif
  const int64_t per_slot = slot_floats(a, T, S);
  // One (batch, head) pair: two GEMMs with the softmax between them, in `slot`'s scratch, on `ctx`.
  auto pair = [&](int64_t b, int64_t n, float* slot, const ExecContext& ctx) {
    float* qs = slot;
    float* kt = qs + T * K;
    float* own_scores = kt + K * S;
    const int64_t kvh = n / group;
    // Keras scales the query before the product, so round it the same way.
    for (int64_t t = 0; t < T; ++t) {
      const float* qr = q + ((b * T + t) * H + n) * K;
      for (int64_t ch = 0; ch < K; ++ch) qs[t * K + ch] = qr[ch] * a.scale;
    }
    for (int64_t s = 0; s < S; ++s) {
      const float* kr = k + ((b * S + s) * KVH + kvh) * K;
      for (int64_t ch = 0; ch < K; ++ch) kt[ch * S + s] = kr[ch];
    }
    float* sc = a.return_scores ? static_cast<float*>(c.out[1].data) + (b * H + n) * T * S : own_scores;
    gemm(T, S, K, qs, K, kt, S, sc, S, false, ctx);

    ctx.parallel_for(T, std::max<int64_t>(1, 4096 / S), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        float* row = sc + t * S;
#if defined(__x86_64__)
        if (avx512 && !mask.any()) {
          exp_normalize_row16(row, S, row_max16(row, S));
          continue;
        }
#endif
        float mx = -INFINITY;
        bool any = false;
        for (int64_t s = 0; s < S; ++s) {
          if (mask.any() && !mask.allowed(b, n, t, s)) {
            row[s] = -INFINITY;  // exp gives exactly 0 below
            continue;
          }
          mx = std::max(mx, row[s]);
          any = true;
        }
        if (!any) {
          std::fill(row, row + S, a.uniform_if_fully_masked ? 1.f / static_cast<float>(S) : 0.f);
          continue;
        }
        exp_normalize_row(row, S, mx);
      }
    });

    gemm(T, V, S, sc, S, v + (b * S * KVH + kvh) * V, KVH * V, out + (b * T * H + n) * V, H * V, false, ctx);
  };

  float* scratch = reinterpret_cast<float*>(c.ctx.scratch.data());
  const int64_t pairs = g.batch * H;
  // Several threads: whole pairs per thread, each in its own slot (a head's GEMMs are too small to
  // split well). One thread, or one pair: the pairs in turn, each GEMM and softmax split instead.
  const int64_t slots = std::min({slot_count(a, T, S), static_cast<int64_t>(c.ctx.threads()), pairs});
  if (slots <= 1) {
    for (int64_t p = 0; p < pairs; ++p) pair(p / H, p % H, scratch, c.ctx);
    return;
  }
  c.ctx.parallel_for(slots, 1, [&](int64_t s0, int64_t s1) {
    const ExecContext inline_ctx{nullptr, {}};
    for (int64_t slot = s0; slot < s1; ++slot)
      for (int64_t p = slot; p < pairs; p += slots) pair(p / H, p % H, scratch + slot * per_slot, inline_ctx);
  });
}

}  // namespace

const Kernel kAttentionGemm{"gemm", ir::OpKind::kAttention, nullptr, attention_scratch, nullptr, run_attention};

}  // namespace kerasrt::kernels::x86
