// exp, sigmoid, tanh, erf and the activations built on them, written so that a loop over them
// vectorises: no library calls, no branches (selects only), integer tricks through bit_cast. The
// reference kernels use <cmath>; these stay within a few float ulps of it (checked against the
// reference over wide ranges, NaN and infinities by tests/kernels/differential_test.cpp).
#pragma once

#include <bit>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace kerasrt::kernels::x86 {

// e^x: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to r^7 (relative error < 3e-9
// before rounding), times 2^n applied as two powers of two (each a normal float for every n in the
// clamped range), so results near FLT_MAX and in the denormal range round as they should and
// overflow to +inf by themselves; NaN stays NaN.
[[gnu::always_inline]] inline float vexp(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693145751953125f, kLn2Lo = 1.42860682030941723212e-6f;  // ln2 = hi + lo
  constexpr float kRound = 12582912.f;                                                 // 1.5 * 2^23
  // Clamped so that NaN too becomes a number here (its float-to-int conversion below would be
  // undefined); NaN is given back at the end.
  const float xc = x >= -104.f ? (x <= 89.f ? x : 89.f) : -104.f;
  const float n = (xc * kLog2e + kRound) - kRound;  // nearest integer, in [-150, 129]
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const int32_t ni = static_cast<int32_t>(n), half = ni / 2;
  const float s1 = std::bit_cast<float>((half + 127) << 23), s2 = std::bit_cast<float>((ni - half + 127) << 23);
  const float y = x < -104.f ? 0.f : p * s1 * s2;
  return x != x ? x : y;
}

[[gnu::always_inline]] inline float vsigmoid(float x) { return 1.f / (1.f + vexp(-x)); }

// tanh(|x|) = 1 - 2 / (e^{2|x|} + 1), which loses relative accuracy near 0: there the odd series
// to x^7 takes over (its first omitted term is below 1e-9 for |x| < 0.0625).
[[gnu::always_inline]] inline float vtanh(float x) {
  const float ax = x < 0.f ? -x : x;
  const float big = 1.f - 2.f / (vexp(2.f * ax) + 1.f);
  const float x2 = x * x;
  const float small = x * (1.f + x2 * (-1.f / 3.f + x2 * (2.f / 15.f + x2 * (-17.f / 315.f))));
  const float t = x < 0.f ? -big : big;
  return ax < 0.0625f ? small : (x != x ? x : t);
}

// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), odd in x.
[[gnu::always_inline]] inline float verf(float x) {
  const float ax = x < 0.f ? -x : x;
  const float t = 1.f / (1.f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float e = 1.f - p * t * vexp(-ax * ax);
  const float y = x < 0.f ? -e : e;
  return x != x ? x : y;
}


#if defined(__x86_64__)
// The same functions on 16 floats with AVX-512 intrinsics, for loops where the compiler's
// vectorisation of the scalar forms costs too much (about twice the instructions: no fused
// multiply-add under -ffp-contract=off, and 2^n built from integers). Same reductions and series,
// evaluated with FMA; 2^n applied by vscalefps, which rounds denormal results once and overflows
// to infinity by itself.
#define KERASRT_AVX512_MATH [[gnu::always_inline]] inline __attribute__((target("avx512f")))

KERASRT_AVX512_MATH __m512 vexp16(__m512 x) {
  const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.f)), _mm512_set1_ps(89.f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723212e-6f), r);
  __m512 p = _mm512_set1_ps(1.f / 5040.f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  const __m512 y = _mm512_scalef_ps(p, n);  // e^-104 and below round to 0, e^89 overflows
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);  // NaN stays NaN
}

KERASRT_AVX512_MATH __m512 vsigmoid16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  return _mm512_div_ps(one, _mm512_add_ps(one, vexp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

KERASRT_AVX512_MATH __m512 vtanh16(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.f), _mm512_add_ps(vexp16(_mm512_add_ps(ax, ax)), one)));
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 q = _mm512_fmadd_ps(x2, _mm512_set1_ps(-17.f / 315.f), _mm512_set1_ps(2.f / 15.f));
  q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-1.f / 3.f));
  q = _mm512_fmadd_ps(x2, q, one);
  const __m512 small = _mm512_mul_ps(x, q);
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  __m512 t = _mm512_mask_sub_ps(big, negative, _mm512_setzero_ps(), big);
  t = _mm512_mask_mov_ps(t, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
  return _mm512_mask_mov_ps(t, _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.0625f), _CMP_LT_OQ), small);
}

KERASRT_AVX512_MATH __m512 verf16(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), ax, one));
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.061405429f), t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  const __m512 e = _mm512_fnmadd_ps(_mm512_mul_ps(p, t), vexp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(ax, ax))), one);
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 y = _mm512_mask_sub_ps(e, negative, _mm512_setzero_ps(), e);
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}
#undef KERASRT_AVX512_MATH
#endif  // __x86_64__

}  // namespace kerasrt::kernels::x86
