// GemmFinish steps (an activation, a batch-norm's scale and shift) applied to values a kernel is
// about to store: one element at a time as the reference's separate passes compute them, or 16 at
// a time in AVX-512 registers with the same rounding (sigmoid and silu through vexp16).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/gemm.hpp"
#include "kernels/unary_math.hpp"
#include "kernels/x86/vector_math.hpp"

namespace kerasrt::kernels::x86 {

// The finish steps one element at a time, exactly as the reference's separate passes.
inline float finish_scalar(const GemmFinish& f, float x, int64_t column) {
  for (int i = 0; i < f.count; ++i) {
    const PostOp& s = f.steps[i];
    x = s.scale ? x * s.scale[column] + s.shift[column] : unary_value(s.unary, x);
  }
  return x;
}

// A block of rows x ncols (rows ldc apart) whose column 0 is the steps' column 0; f may be null.
inline void finish_block(const GemmFinish* f, int64_t rows, int64_t ncols, float* C, int64_t ldc) {
  if (!f) return;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < ncols; ++j) C[i * ldc + j] = finish_scalar(*f, C[i * ldc + j], j);
}

#if defined(__x86_64__)
// The finish steps on 16 columns starting at `column`, with the scalar form's rounding (no FMA;
// the sign of zero and NaN kept as the reference keeps them).
inline __attribute__((target("avx512f"))) __m512 finish16(const GemmFinish& f, __m512 x, int64_t column,
                                                          __mmask16 m) {
  using Fn = ir::UnaryFn;
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < f.count; ++i) {
    const PostOp& s = f.steps[i];
    if (s.scale) {
      x = _mm512_add_ps(_mm512_mul_ps(x, _mm512_maskz_loadu_ps(m, s.scale + column)),
                        _mm512_maskz_loadu_ps(m, s.shift + column));
      continue;
    }
    switch (s.unary.fn) {
      case Fn::kRelu:  // x > 0 or NaN: x; else +0
        x = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, zero, _CMP_NLE_UQ), x);
        break;
      case Fn::kRelu6: {
        const __m512 six = _mm512_set1_ps(6.f);
        x = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), zero);
        x = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(six, x, _CMP_LT_OQ), six);
        break;
      }
      case Fn::kHardSilu: {
        const __m512 one = _mm512_set1_ps(1.f);
        __m512 g = _mm512_add_ps(_mm512_div_ps(x, _mm512_set1_ps(6.f)), _mm512_set1_ps(0.5f));
        g = _mm512_mask_mov_ps(g, _mm512_cmp_ps_mask(g, zero, _CMP_LT_OQ), zero);
        g = _mm512_mask_mov_ps(g, _mm512_cmp_ps_mask(one, g, _CMP_LT_OQ), one);
        x = _mm512_mul_ps(x, g);
        break;
      }
      case Fn::kSigmoid: x = vsigmoid16(x); break;
      case Fn::kSilu: x = _mm512_mul_ps(x, vsigmoid16(x)); break;
      default: break;  // identity; gemm_can_finish admits nothing else
    }
  }
  return x;
}

#endif

}  // namespace kerasrt::kernels::x86
