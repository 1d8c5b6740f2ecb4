// Blocked SGEMM: packed B panels, register-blocked micro-kernels for AVX-512 and AVX2+FMA (compiled
// with target attributes and chosen at run time), a portable C++ fallback, and one driver that
// splits the work into tiles for the thread pool.
//
// Loop structure of one tile (rows [m0, m0+rows) x panels [p0, p1)):
//   for each K block (kKc deep):          C tile is read back after the first block
//     for each panel (32 columns):        the panel's K block (kKc x 32 floats) stays in L1/L2
//       for each MR rows:                 micro-kernel: MR x 32 accumulators in registers,
//                                          A read in place with broadcasts, B from the panel
// A is not packed: the micro-kernel reads MR rows of A directly, which keeps the call free of
// scratch and costs little because the A block (rows x kKc) stays in L2 across the panels. The
// exception is rows a multiple of 4 KiB apart (e.g. K = 1024), copied MR rows at a time (copy_a).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/gemm.hpp"
#include "kernels/x86/finish.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KERASRT_GEMM_X86 1
#endif

namespace kerasrt::kernels {

namespace {

constexpr int64_t kPanel = PackedB::kPanel;
constexpr int64_t kKc = 256;  // K block: a panel's block is kKc*32*4 = 32 KiB
constexpr int64_t kMrMax = 16;  // most rows any micro-kernel takes

// Multiplies rows x kc of A (leading dimension lda, already offset to the K block) by one panel's
// K block Bp (kc rows of `width` floats, 64-byte aligned) into the first `ncols` columns of C.
// load_c: add to C instead of overwriting it.
// finish: the steps to apply before storing (last K block only), its per-column arrays offset to
// this panel's first column.
using BlockFn = void (*)(int64_t rows, int64_t kc, const float* A, int64_t lda, const float* Bp, int64_t width,
                         int64_t ncols, float* C, int64_t ldc, bool load_c, const GemmFinish* finish);

struct IsaImpl {
  BlockFn block;
  int64_t mr;  // rows per micro-kernel call, for tile sizes
};

// ---------------------------------------------------------------------------------------------
// Portable fallback.
void block_portable(int64_t rows, int64_t kc, const float* A, int64_t lda, const float* Bp, int64_t width,
                    int64_t ncols, float* C, int64_t ldc, bool load_c, const GemmFinish* finish) {
  for (int64_t i = 0; i < rows; ++i) {
    float acc[kPanel] = {};
    const float* a = A + i * lda;
    for (int64_t k = 0; k < kc; ++k) {
      const float av = a[k];
      const float* b = Bp + k * width;
      for (int64_t j = 0; j < width; ++j) acc[j] += av * b[j];
    }
    float* c = C + i * ldc;
    for (int64_t j = 0; j < ncols; ++j) c[j] = load_c ? c[j] + acc[j] : acc[j];
  }
  x86::finish_block(finish, rows, ncols, C, ldc);
}

#ifdef KERASRT_GEMM_X86

// With one or two rows the accumulators alone are too few to hide the FMA latency, so those
// kernels keep S independent sets over interleaved k and add them at the end.
constexpr int splits_for(int mr) { return mr == 1 ? 4 : mr == 2 ? 2 : 1; }

// ---------------------------------------------------------------------------------------------
// AVX-512: MR rows x NV*16 columns, MR <= 14 (28 accumulators + 2 B vectors fit the 32 registers).
#define KERASRT_AVX512 __attribute__((target("avx512f,avx2,fma")))
constexpr int kMr512 = 14;
static_assert(kMr512 <= kMrMax);

// kFinish: apply *finish before storing; a separate instantiation, so the plain kernel's register
// use is exactly what it is without one.
template <int MR, int NV, bool kFinish>
KERASRT_AVX512 void ukr512(int64_t kc, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                           int64_t ldc, __mmask16 m0, __mmask16 m1, bool load_c, const GemmFinish* finish) {
  constexpr int S = splits_for(MR);
  __m512 acc[S][MR][NV];
#pragma GCC unroll 64
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 64
      for (int v = 0; v < NV; ++v) acc[s][r][v] = _mm512_setzero_ps();

  int64_t k = 0;
  for (; k + S <= kc; k += S) {
#pragma GCC unroll 64
    for (int s = 0; s < S; ++s) {
      const float* b = B + (k + s) * ldb;
      __m512 bv[NV];
#pragma GCC unroll 64
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 64
      for (int r = 0; r < MR; ++r) {
        const __m512 a = _mm512_set1_ps(A[r * lda + k + s]);
#pragma GCC unroll 64
        for (int v = 0; v < NV; ++v) acc[s][r][v] = _mm512_fmadd_ps(a, bv[v], acc[s][r][v]);
      }
    }
  }
  for (; k < kc; ++k) {
    const float* b = B + k * ldb;
    __m512 bv[NV];
#pragma GCC unroll 64
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
#pragma GCC unroll 64
      for (int v = 0; v < NV; ++v) acc[0][r][v] = _mm512_fmadd_ps(a, bv[v], acc[0][r][v]);
    }
  }
#pragma GCC unroll 64
  for (int s = 1; s < S; ++s)
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 64
      for (int v = 0; v < NV; ++v) acc[0][r][v] = _mm512_add_ps(acc[0][r][v], acc[s][r][v]);

#pragma GCC unroll 64
  for (int r = 0; r < MR; ++r) {
    float* c = C + r * ldc;
#pragma GCC unroll 64
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == 0 ? m0 : m1;
      __m512 x = acc[0][r][v];
      if (load_c) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, c + 16 * v));
      if constexpr (kFinish) x = x86::finish16(*finish, x, 16 * v, m);
      _mm512_mask_storeu_ps(c + 16 * v, m, x);
    }
  }
}

template <int NV, bool kFinish>
KERASRT_AVX512 void block512_nv(int64_t rows, int64_t kc, const float* A, int64_t lda, const float* Bp,
                                int64_t ncols, float* C, int64_t ldc, bool load_c, const GemmFinish* finish) {
  const auto mask = [](int64_t n) -> __mmask16 {
    return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
  };
  const __mmask16 m0 = mask(ncols), m1 = mask(ncols - 16);
  constexpr int64_t ldb = 16 * NV;
  int64_t i = 0;
  for (; i + kMr512 <= rows; i += kMr512)
    ukr512<kMr512, NV, kFinish>(kc, A + i * lda, lda, Bp, ldb, C + i * ldc, ldc, m0, m1, load_c, finish);
  const float* a = A + i * lda;
  float* c = C + i * ldc;
  switch (rows - i) {
#define KERASRT_CASE(n) \
  case n: ukr512<n, NV, kFinish>(kc, a, lda, Bp, ldb, c, ldc, m0, m1, load_c, finish); break;
    KERASRT_CASE(1) KERASRT_CASE(2) KERASRT_CASE(3) KERASRT_CASE(4) KERASRT_CASE(5) KERASRT_CASE(6)
    KERASRT_CASE(7) KERASRT_CASE(8) KERASRT_CASE(9) KERASRT_CASE(10) KERASRT_CASE(11) KERASRT_CASE(12)
    KERASRT_CASE(13)
#undef KERASRT_CASE
    default: break;
  }
}

KERASRT_AVX512 void block_avx512(int64_t rows, int64_t kc, const float* A, int64_t lda, const float* Bp,
                                 int64_t width, int64_t ncols, float* C, int64_t ldc, bool load_c,
                                 const GemmFinish* finish) {
  if (finish) {
    if (width == 32) block512_nv<2, true>(rows, kc, A, lda, Bp, ncols, C, ldc, load_c, finish);
    else block512_nv<1, true>(rows, kc, A, lda, Bp, ncols, C, ldc, load_c, finish);
  } else {
    if (width == 32) block512_nv<2, false>(rows, kc, A, lda, Bp, ncols, C, ldc, load_c, nullptr);
    else block512_nv<1, false>(rows, kc, A, lda, Bp, ncols, C, ldc, load_c, nullptr);
  }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA: MR rows x 16 columns (12 accumulators + 2 B vectors of the 16 registers); a 32-wide
// panel is done as two 16-wide halves.
#define KERASRT_AVX2 __attribute__((target("avx2,fma")))
constexpr int kMr256 = 6;
static_assert(kMr256 <= kMrMax);

template <int MR>
KERASRT_AVX2 void ukr256(int64_t kc, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                         int64_t ldc, int64_t ncols, bool load_c) {
  constexpr int S = splits_for(MR);
  __m256 acc[S][MR][2];
#pragma GCC unroll 64
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r) acc[s][r][0] = acc[s][r][1] = _mm256_setzero_ps();

  int64_t k = 0;
  for (; k + S <= kc; k += S) {
#pragma GCC unroll 64
    for (int s = 0; s < S; ++s) {
      const float* b = B + (k + s) * ldb;
      const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 64
      for (int r = 0; r < MR; ++r) {
        const __m256 a = _mm256_broadcast_ss(A + r * lda + k + s);
        acc[s][r][0] = _mm256_fmadd_ps(a, b0, acc[s][r][0]);
        acc[s][r][1] = _mm256_fmadd_ps(a, b1, acc[s][r][1]);
      }
    }
  }
  for (; k < kc; ++k) {
    const float* b = B + k * ldb;
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + r * lda + k);
      acc[0][r][0] = _mm256_fmadd_ps(a, b0, acc[0][r][0]);
      acc[0][r][1] = _mm256_fmadd_ps(a, b1, acc[0][r][1]);
    }
  }
#pragma GCC unroll 64
  for (int s = 1; s < S; ++s)
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r) {
      acc[0][r][0] = _mm256_add_ps(acc[0][r][0], acc[s][r][0]);
      acc[0][r][1] = _mm256_add_ps(acc[0][r][1], acc[s][r][1]);
    }

  if (ncols >= 16) {
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r) {
      float* c = C + r * ldc;
      __m256 x0 = acc[0][r][0], x1 = acc[0][r][1];
      if (load_c) {
        x0 = _mm256_add_ps(x0, _mm256_loadu_ps(c));
        x1 = _mm256_add_ps(x1, _mm256_loadu_ps(c + 8));
      }
      _mm256_storeu_ps(c, x0);
      _mm256_storeu_ps(c + 8, x1);
    }
  } else {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i k0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(ncols)), lane);
    const __m256i k1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(ncols) - 8), lane);
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r) {
      float* c = C + r * ldc;
      __m256 x0 = acc[0][r][0], x1 = acc[0][r][1];
      if (load_c) {
        x0 = _mm256_add_ps(x0, _mm256_maskload_ps(c, k0));
        x1 = _mm256_add_ps(x1, _mm256_maskload_ps(c + 8, k1));
      }
      _mm256_maskstore_ps(c, k0, x0);
      _mm256_maskstore_ps(c + 8, k1, x1);
    }
  }
}

KERASRT_AVX2 void block256_half(int64_t rows, int64_t kc, const float* A, int64_t lda, const float* B,
                                int64_t ldb, int64_t ncols, float* C, int64_t ldc, bool load_c) {
  int64_t i = 0;
  for (; i + kMr256 <= rows; i += kMr256)
    ukr256<kMr256>(kc, A + i * lda, lda, B, ldb, C + i * ldc, ldc, ncols, load_c);
  const float* a = A + i * lda;
  float* c = C + i * ldc;
  switch (rows - i) {
    case 1: ukr256<1>(kc, a, lda, B, ldb, c, ldc, ncols, load_c); break;
    case 2: ukr256<2>(kc, a, lda, B, ldb, c, ldc, ncols, load_c); break;
    case 3: ukr256<3>(kc, a, lda, B, ldb, c, ldc, ncols, load_c); break;
    case 4: ukr256<4>(kc, a, lda, B, ldb, c, ldc, ncols, load_c); break;
    case 5: ukr256<5>(kc, a, lda, B, ldb, c, ldc, ncols, load_c); break;
    default: break;
  }
}

KERASRT_AVX2 void block_avx2(int64_t rows, int64_t kc, const float* A, int64_t lda, const float* Bp, int64_t width,
                             int64_t ncols, float* C, int64_t ldc, bool load_c, const GemmFinish* finish) {
  block256_half(rows, kc, A, lda, Bp, width, std::min<int64_t>(ncols, 16), C, ldc, load_c);
  if (ncols > 16) block256_half(rows, kc, A, lda, Bp + 16, width, ncols - 16, C + 16, ldc, load_c);
  x86::finish_block(finish, rows, ncols, C, ldc);  // while the block is in L1
}

#endif  // KERASRT_GEMM_X86

// ---------------------------------------------------------------------------------------------
// Dispatch on simd_level().

IsaImpl impl_for(SimdLevel isa) {
  switch (isa) {
#ifdef KERASRT_GEMM_X86
    case SimdLevel::avx512: return {block_avx512, kMr512};
    case SimdLevel::avx2: return {block_avx2, kMr256};
#endif
    default: return {block_portable, 4};
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Below this many multiply-adds (~40 us on one Zen 5 core) a call runs on the calling thread: waking
// a sleeping pool worker costs tens of microseconds, and measured 2-thread GEMV (1x1000x1024) was
// slower than 1 thread.
constexpr int64_t kMinParallelWork = int64_t{1} << 21;

// Splits C into tiles of mc rows x ncp panels and runs them on the pool. get_b(panel, k0, kc,
// width, buffer) returns that panel's K block laid out kc x width; buffer is a 64-byte aligned
// kKc*kPanel float block on the calling thread's stack that it may pack into.
template <bool B_packed, class GetB>
void drive(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, float* C, int64_t ldc, bool accumulate,
           const ExecContext& ctx, const GetB& get_b, const GemmFinish* finish = nullptr) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.f);
    x86::finish_block(finish, M, N, C, ldc);
    return;
  }
  const IsaImpl isa = impl_for(simd_level());
  const int64_t np = ceil_div(N, kPanel);
  const int64_t mr = isa.mr;
  // Cache-sized tiles: ~128 rows of A (x kKc: 128 KiB) against up to 16 panels (512 columns).
  int64_t mc = std::min(M, mr * ceil_div(128, mr));
  int64_t ncp = std::min<int64_t>(np, 16);
  const int threads = M * N * K < kMinParallelWork ? 1 : ctx.threads();
  if (threads > 1) {
    // At least ~4 tiles per thread so the pool can balance. Splitting rows makes every tile read all
    // of B; splitting panels makes every tile read all of A: cut the dimension whose other operand
    // is smaller.
    for (;;) {
      if (ceil_div(M, mc) * ceil_div(np, ncp) >= 4 * threads) break;
      if (ncp > 1 && (M <= N || mc <= mr)) ncp = ceil_div(ncp, 2);
      else if (mc > mr) mc = std::max(mr, mr * ceil_div(ceil_div(mc, 2), mr));
      else break;
    }
  }
  const int64_t mt = ceil_div(M, mc), nt = ceil_div(np, ncp);
  // Even K blocks no deeper than kKc.
  const int64_t kb = ceil_div(K, ceil_div(K, kKc));

  // Rows of A a whole number of 4 KiB apart all fall in the same few L1 sets, more of them than
  // the cache has ways: the micro-kernel's 14 row streams then evict each other. Such A is copied,
  // one micro-kernel's rows at a time, to rows kc apart (B must come packed: the copy is reused
  // across every panel only when fetching a panel costs nothing).
  const bool copy_a = B_packed && lda % 1024 == 0;
  auto run = [&](int64_t t0, int64_t t1) {
    alignas(64) float buffer[kKc * kPanel];
    alignas(64) float a_rows[kKc * kMrMax];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t m0 = (t / nt) * mc, rows = std::min(mc, M - m0);
      const int64_t p0 = (t % nt) * ncp, p1 = std::min(np, p0 + ncp);
      for (int64_t k0 = 0; k0 < K; k0 += kb) {
        const int64_t kc = std::min(kb, K - k0);
        const bool load_c = accumulate || k0 > 0;
        const int64_t group = copy_a ? mr : rows;  // rows per block() call
        for (int64_t g = 0; g < rows; g += group) {
          const int64_t gr = std::min(group, rows - g);
          const float* a = A + (m0 + g) * lda + k0;
          int64_t la = lda;
          if (copy_a) {
            for (int64_t r = 0; r < gr; ++r)
              std::memcpy(a_rows + r * kc, a + r * lda, static_cast<size_t>(kc) * sizeof(float));
            a = a_rows;
            la = kc;
          }
          for (int64_t p = p0; p < p1; ++p) {
            const int64_t width = N - p * kPanel > 16 ? kPanel : 16;
            const int64_t ncols = std::min(kPanel, N - p * kPanel);
            const float* bp = get_b(p, k0, kc, width, buffer);
            GemmFinish panel_finish;
            const bool last = finish && k0 + kc == K;
            if (last) panel_finish = finish->from_column(p * kPanel);
            isa.block(gr, kc, a, la, bp, width, ncols, C + (m0 + g) * ldc + p * kPanel, ldc, load_c,
                      last ? &panel_finish : nullptr);
          }
        }
      }
    }
  };
  if (threads > 1) ctx.parallel_for(mt * nt, 1, run);
  else run(0, mt * nt);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

void PackedB::Free::operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }

PackedB pack_b(int64_t K, int64_t N, const float* B, int64_t ldb) {
  PackedB out;
  out.K_ = K;
  out.N_ = N;
  const int64_t np = ceil_div(N, kPanel);
  // Every panel but the last is kPanel wide; the last is 16 or 32.
  out.floats_ = static_cast<size_t>(std::max<int64_t>(1, np * kPanel * K));
  out.data_.reset(new (std::align_val_t(64)) float[out.floats_]);
  float* dst = out.data_.get();
  for (int64_t p = 0; p < np; ++p) {
    const int64_t width = out.panel_width(p), ncols = std::min(kPanel, N - p * kPanel);
    float* panel = dst + p * kPanel * K;
    for (int64_t k = 0; k < K; ++k) {
      float* row = panel + k * width;
      std::memcpy(row, B + k * ldb + p * kPanel, static_cast<size_t>(ncols) * sizeof(float));
      std::fill(row + ncols, row + width, 0.f);
    }
  }
  return out;
}

void gemm_packed(int64_t M, const float* A, int64_t lda, const PackedB& B, float* C, int64_t ldc, bool accumulate,
                 const ExecContext& ctx, const GemmFinish* finish) {
  const float* base = B.data();
  const int64_t K = B.K();
  if (finish && finish->count == 0) finish = nullptr;  // nothing to do: the plain micro-kernels
  drive<true>(
      M, B.N(), K, A, lda, C, ldc, accumulate, ctx,
      [base, K](int64_t p, int64_t k0, int64_t, int64_t width, float*) { return base + p * kPanel * K + k0 * width; },
      finish);
}

void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
          int64_t ldc, bool accumulate, const ExecContext& ctx) {
  drive<false>(M, N, K, A, lda, C, ldc, accumulate, ctx,
        [B, ldb, N](int64_t p, int64_t k0, int64_t kc, int64_t width, float* buffer) {
          const int64_t ncols = std::min(kPanel, N - p * kPanel);
          for (int64_t k = 0; k < kc; ++k) {
            float* row = buffer + k * width;
            std::memcpy(row, B + (k0 + k) * ldb + p * kPanel, static_cast<size_t>(ncols) * sizeof(float));
            std::fill(row + ncols, row + width, 0.f);
          }
          return static_cast<const float*>(buffer);
        });
}

size_t gemm_scratch_bytes(int64_t, int64_t, int64_t) { return 0; }

bool gemm_can_finish(ir::UnaryFn fn) {
  using Fn = ir::UnaryFn;
  return fn == Fn::kIdentity || fn == Fn::kRelu || fn == Fn::kRelu6 || fn == Fn::kHardSilu || fn == Fn::kSigmoid ||
         fn == Fn::kSilu;
}

}  // namespace kerasrt::kernels
