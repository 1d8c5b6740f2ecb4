// Differential tests: gemm and gemm_packed against gemm_ref, on every micro-kernel path this CPU can
// run (portable, AVX2, AVX-512), with 1 and 2 threads, on seeded random shapes.
#include "kernels/gemm.hpp"
#include "kernels/unary_math.hpp"

#include "support/alloc_counter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <vector>

namespace kerasrt::kernels {
namespace {

struct Case {
  int64_t M, N, K, lda, ldb, ldc;
  bool accumulate;
};

std::string describe(const Case& c) {
  return "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
         " lda=" + std::to_string(c.lda) + " ldb=" + std::to_string(c.ldb) + " ldc=" + std::to_string(c.ldc) +
         (c.accumulate ? " accumulate" : "");
}

// Hand-picked edges plus seeded random shapes. The block sizes are 32 columns (16 for a last narrow
// panel), 14 rows (AVX-512) / 6 rows (AVX2) / 4 rows (portable) and K blocks of up to 256.
std::vector<Case> cases() {
  std::vector<Case> out;
  const int64_t fixed[][3] = {{1, 1, 1},     {1, 1000, 1024}, {1, 17, 300},  {1, 256, 256}, {2, 33, 5},
                              {3, 48, 513},  {4, 8, 16},      {13, 16, 27},  {14, 32, 1},   {15, 31, 257},
                              {29, 49, 64},  {6, 15, 100},    {7, 64, 511},  {200, 70, 300}, {128, 96, 640},
                              {300, 16, 32}, {57, 129, 200},  {1, 4, 4608}};
  for (auto& f : fixed) {
    out.push_back({f[0], f[1], f[2], f[2], f[1], f[1], false});
    out.push_back({f[0], f[1], f[2], f[2] + 3, f[1] + 5, f[1] + 7, true});
  }
  // Rows of A a multiple of 4 KiB apart are copied before the micro-kernels read them.
  out.push_back({128, 256, 1024, 1024, 256, 256, false});
  out.push_back({31, 40, 600, 1024, 40, 40, true});
  out.push_back({17, 70, 2048, 2048, 70, 75, false});
  std::mt19937 rng(20240611);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 60; ++i) {
    Case c;
    c.M = pick(0, 3) == 0 ? 1 : pick(1, 160);
    c.N = pick(1, 140);
    c.K = pick(0, 3) == 0 ? pick(1, 8) : pick(1, 700);
    c.lda = c.K + (pick(0, 1) ? 0 : pick(1, 9));
    c.ldb = c.N + (pick(0, 1) ? 0 : pick(1, 9));
    c.ldc = c.N + (pick(0, 1) ? 0 : pick(1, 9));
    c.accumulate = pick(0, 1);
    out.push_back(c);
  }
  return out;
}

std::vector<SimdLevel> isas() {
  std::vector<SimdLevel> out;
  for (SimdLevel isa : {SimdLevel::portable, SimdLevel::avx2, SimdLevel::avx512})
    if (simd_level_supported(isa)) out.push_back(isa);
  return out;
}

// Restores the automatically chosen path after each test.
class Gemm : public ::testing::Test {
 protected:
  void SetUp() override { chosen_ = simd_level(); }
  void TearDown() override { set_simd_level(chosen_); }
  SimdLevel chosen_{};
};

// Fills with v/4 for integer v in [-4, 4]: every product is a multiple of 1/16 and every partial sum
// (|sum| <= K + |C| < 2^19 here) is exactly representable, so any summation order gives the exact
// answer and the result must equal gemm_ref's bit for bit. This catches a dropped, doubled or
// misplaced term no matter how small.
void fill_exact(std::vector<float>& v, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(-4, 4);
  for (float& x : v) x = d(rng) / 4.f;
}

void fill_real(std::vector<float>& v, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (float& x : v) x = d(rng);
}

// Runs one case through gemm and gemm_packed and compares with gemm_ref. Padding between rows (the
// part of a leading dimension past the width) must come out untouched.
void check(const Case& c, const ExecContext& ctx, bool exact, std::mt19937& rng) {
  std::vector<float> A(c.M * c.lda), B(c.K * c.ldb + 1), C0(c.M * c.ldc);
  if (exact) {
    fill_exact(A, rng), fill_exact(B, rng), fill_exact(C0, rng);
  } else {
    fill_real(A, rng), fill_real(B, rng), fill_real(C0, rng);
  }
  std::vector<float> ref = C0;
  gemm_ref(c.M, c.N, c.K, A.data(), c.lda, B.data(), c.ldb, ref.data(), c.ldc, c.accumulate);

  // Tolerance for real-valued inputs. Both results are sums of the same K products (plus C when
  // accumulating) in different orders. For any order, the rounding error of a K-term float sum is
  // at most gamma_K * sum|terms| with gamma_K ~ K*eps (Higham, Accuracy and Stability, 3.1), so the
  // two differ by at most 2*gamma_(K+1) * (sum_k |a_ik*b_kj| + |c_ij|). That bound grows with K
  // because the error does, and it scales with the magnitude of the terms rather than of the result
  // (which may cancel to near zero). It is a proven bound, so it never flakes; the exact-input runs
  // above cover the small-error bugs it would let through.
  const float eps = std::numeric_limits<float>::epsilon();
  auto tolerance = [&](int64_t i, int64_t j) {
    double mag = c.accumulate ? std::fabs(C0[i * c.ldc + j]) : 0.0;
    for (int64_t k = 0; k < c.K; ++k) mag += std::fabs(double(A[i * c.lda + k]) * B[k * c.ldb + j]);
    return 1e-6 + 2.0 * (c.K + 1) * eps * mag;
  };
  auto compare = [&](const std::vector<float>& got, const char* which) {
    int bad = 0;
    for (int64_t i = 0; i < c.M && bad < 5; ++i) {
      for (int64_t j = 0; j < c.ldc && bad < 5; ++j) {
        const float g = got[i * c.ldc + j], r = ref[i * c.ldc + j];
        if (j >= c.N) {
          if (g != C0[i * c.ldc + j]) ++bad, ADD_FAILURE() << which << " wrote padding at " << i << "," << j;
        } else if (exact ? g != r : !(std::fabs(double(g) - r) <= tolerance(i, j))) {
          ++bad;
          ADD_FAILURE() << which << " " << describe(c) << " threads=" << ctx.threads() << " isa="
                        << simd_level_name(simd_level()) << (exact ? " exact" : "") << ": C[" << i << "," << j
                        << "] = " << g << ", reference " << r;
        }
      }
    }
  };

  std::vector<float> got = C0;
  gemm(c.M, c.N, c.K, A.data(), c.lda, B.data(), c.ldb, got.data(), c.ldc, c.accumulate, ctx);
  compare(got, "gemm");

  PackedB packed = pack_b(c.K, c.N, B.data(), c.ldb);
  got = C0;
  gemm_packed(c.M, A.data(), c.lda, packed, got.data(), c.ldc, c.accumulate, ctx);
  compare(got, "gemm_packed");
}

TEST_F(Gemm, MatchesReferenceOnEveryPathAndThreadCount) {
  for (SimdLevel isa : isas()) {
    ASSERT_TRUE(set_simd_level(isa));
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      ExecContext ctx{&pool, {}};
      std::mt19937 rng(7 + threads);
      for (const Case& c : cases()) {
        check(c, ctx, /*exact=*/true, rng);
        check(c, ctx, /*exact=*/false, rng);
      }
    }
  }
}

TEST_F(Gemm, WithoutPoolRunsInline) {
  ExecContext ctx;  // no pool
  std::mt19937 rng(3);
  check({200, 70, 300, 300, 70, 70, false}, ctx, true, rng);
  check({1, 70, 30, 30, 70, 70, true}, ctx, false, rng);
}

TEST_F(Gemm, EmptyDimensions) {
  ThreadPool pool(2);
  ExecContext ctx{&pool, {}};
  std::vector<float> A(12, 1.f), B(12, 1.f), C(12, 5.f);
  gemm(0, 3, 4, A.data(), 4, B.data(), 3, C.data(), 3, false, ctx);  // no rows: nothing written
  EXPECT_EQ(C, std::vector<float>(12, 5.f));
  gemm(2, 3, 0, A.data(), 1, B.data(), 3, C.data(), 3, true, ctx);  // K = 0, accumulate: unchanged
  EXPECT_EQ(C, std::vector<float>(12, 5.f));
  gemm(2, 3, 0, A.data(), 1, B.data(), 3, C.data(), 3, false, ctx);  // K = 0: zeros
  EXPECT_EQ(std::vector<float>(C.begin(), C.begin() + 6), std::vector<float>(6, 0.f));
  PackedB p = pack_b(0, 3, B.data(), 3);
  gemm_packed(2, A.data(), 1, p, C.data() + 6, 3, false, ctx);
  EXPECT_EQ(std::vector<float>(C.begin() + 6, C.end()), std::vector<float>(6, 0.f));
  EXPECT_EQ(gemm_scratch_bytes(100, 100, 100), 0u);
}

TEST_F(Gemm, PackedBIsAlignedAndPadded) {
  std::vector<float> B(5 * 40, 1.f);
  PackedB p = pack_b(5, 40, B.data(), 40);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p.data()) % 64, 0u);
  EXPECT_EQ(p.panels(), 2);
  EXPECT_EQ(p.panel_width(0), 32);
  EXPECT_EQ(p.panel_width(1), 16);
  const float* last = p.data() + 32 * 5;  // second panel: 8 real columns, 8 zeros, per row
  for (int k = 0; k < 5; ++k)
    for (int j = 0; j < 16; ++j) EXPECT_EQ(last[k * 16 + j], j < 8 ? 1.f : 0.f);
}

TEST_F(Gemm, WarmedUpCallsDoNotAllocate) {
  for (SimdLevel isa : isas()) {
    ASSERT_TRUE(set_simd_level(isa));
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      ExecContext ctx{&pool, {}};
      for (const Case& c : {Case{784, 128, 1152, 1152, 128, 128, false}, Case{1, 1000, 256, 256, 1000, 1000, true},
                            Case{37, 45, 300, 300, 45, 45, true}}) {
        std::vector<float> A(c.M * c.lda, 0.5f), B(c.K * c.ldb, 0.25f), C(c.M * c.ldc);
        PackedB packed = pack_b(c.K, c.N, B.data(), c.ldb);
        auto run = [&] {
          gemm_packed(c.M, A.data(), c.lda, packed, C.data(), c.ldc, c.accumulate, ctx);
          gemm(c.M, c.N, c.K, A.data(), c.lda, B.data(), c.ldb, C.data(), c.ldc, c.accumulate, ctx);
        };
        run();  // warm-up
        const long before = ::kerasrt::testing::heap_allocations();
        run();
        EXPECT_EQ(::kerasrt::testing::heap_allocations() - before, 0) << describe(c) << " threads=" << threads;
      }
    }
  }
}


// The finish steps applied in the micro-kernels give what the reference's separate passes give:
// bit for bit for scale/shift and the clamps (NaN, infinities and the sign of zero included),
// within a few ulps for sigmoid and silu (vectorised exp). C = A · [1 ... 1] puts chosen values in C.
TEST_F(Gemm, FinishStepsMatchSeparatePasses) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> values = {0.f, -0.f, 1.f, -1.f, 2.5f, -2.5f, 3.f, -3.f, 5.99f, 6.f, 6.01f, 100.f, -100.f,
                                     1e-30f, -1e-30f, 88.f, -88.f, inf, -inf, nan, 0.25f, -0.75f, 17.f, -6.f};
  const int64_t M = static_cast<int64_t>(values.size()), N = 37;
  std::vector<float> ones(N, 1.f), scale(N), shift(N);
  for (int64_t j = 0; j < N; ++j) {
    scale[j] = 0.5f + 0.125f * static_cast<float>(j % 7);
    shift[j] = -1.f + 0.25f * static_cast<float>(j % 5);
  }
  PackedB packed = pack_b(1, N, ones.data(), N);
  using Fn = ir::UnaryFn;
  for (SimdLevel isa : isas()) {
    ASSERT_TRUE(set_simd_level(isa));
    for (Fn fn : {Fn::kRelu, Fn::kRelu6, Fn::kHardSilu, Fn::kSigmoid, Fn::kSilu}) {
      GemmFinish finish;
      finish.count = 2;
      finish.steps[0] = PostOp{scale.data(), shift.data(), {}};
      finish.steps[1] = PostOp{nullptr, nullptr, ir::UnaryAttrs{fn}};
      ASSERT_TRUE(gemm_can_finish(fn));
      ThreadPool pool(1);
      ExecContext ctx{&pool, {}};
      std::vector<float> C(M * N);
      gemm_packed(M, values.data(), 1, packed, C.data(), N, false, ctx, &finish);
      const bool exact = fn != Fn::kSigmoid && fn != Fn::kSilu;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          const float want = unary_value(ir::UnaryAttrs{fn}, values[i] * scale[j] + shift[j]);
          const float got = C[i * N + j];
          const std::string where = std::string(simd_level_name(isa)) + " " + ir::unary_fn_name(fn) + " of " +
                                    std::to_string(values[i]) + " column " + std::to_string(j);
          if (std::isnan(want)) {
            EXPECT_TRUE(std::isnan(got)) << where;
          } else if (exact || std::isinf(want)) {
            EXPECT_EQ(std::signbit(got), std::signbit(want)) << where;
            EXPECT_EQ(got, want) << where;
          } else {
            EXPECT_NEAR(got, want, 1e-6f + 1e-6f * std::fabs(want)) << where;
          }
        }
    }
  }
}

}  // namespace
}  // namespace kerasrt::kernels
