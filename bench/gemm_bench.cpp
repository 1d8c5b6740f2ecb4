// Side-by-side SGEMM timings: kerasrt's own GEMM (packed and unpacked B) against oneDNN's dnnl_sgemm
// and OpenBLAS's cblas_sgemm, on the shapes the dense and convolution kernels produce, with 1 and 2
// threads. Prints GFLOP/s from the median (and the best) of timed samples after warm-up (caches
// warm: B is reused call after call, as weights are). On a machine shared with other work the
// 2-thread medians swing with the load; the best sample shows what the code does uncontended.
//
//   kerasrt_gemm_bench [--isa=avx512|avx2|portable] [--threads=1,2] [--min-time=0.3] [--ours]
//
// --ours times kerasrt's GEMM only. The header line gives this core's FMA peak, measured by a
// register-only FMA loop, so each figure can be read as a share of it.
//
// Threads: ours through kerasrt's ThreadPool; oneDNN (Debian builds it with the OpenMP runtime)
// through omp_set_num_threads; OpenBLAS (pthread build) through openblas_set_num_threads.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include "kernels/gemm.hpp"

using namespace kerasrt::kernels;

namespace {

struct Shape {
  int64_t M, N, K;
  const char* what;
};

const Shape kShapes[] = {
    {12544, 32, 27, "conv 3x3 stem, 112x112"},
    {12544, 16, 32, "1x1 conv, 112x112"},
    {3136, 64, 576, "conv 3x3, 56x56"},
    {784, 128, 1152, "conv 3x3, 28x28"},
    {196, 256, 2304, "conv 3x3, 14x14"},
    {49, 512, 4608, "conv 3x3, 7x7"},
    {3136, 256, 64, "1x1 conv, 56x56"},
    {12544, 96, 16, "1x1 expand, 112x112"},
    {3136, 32, 1152, "conv 3x3 growth 32"},
    {3136, 128, 256, "1x1 conv, 56x56"},
    {784, 128, 512, "1x1 conv, 28x28"},
    {1, 1000, 1024, "dense classifier"},
    {1, 256, 256, "dense"},
    {1, 4096, 4096, "dense, big"},
    {128, 768, 256, "seq 128 projection"},
    {128, 1024, 256, "seq 128 FFN up"},
    {128, 256, 1024, "seq 128 FFN down"},
    {128, 128, 64, "attention QK^T"},
    {4, 8, 16, "tiny"},
    {16, 8, 3, "tiny"},
    {1, 10, 64, "tiny dense"},
};

struct Timing {
  double median, best;  // seconds per call
};

template <class F>
Timing median_seconds(F&& f, double min_time) {
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };
  // Warm up for at least 3 calls and 20 ms, and find how many calls make a sample of ~1 ms.
  int calls = 0;
  auto t0 = clock::now();
  while (calls < 3 || secs(clock::now() - t0) < 0.02) f(), ++calls;
  const double per_call = secs(clock::now() - t0) / calls;
  const int inner = std::max(1, static_cast<int>(1e-3 / per_call));
  std::vector<double> samples;
  auto start = clock::now();
  while (samples.size() < 15 || (secs(clock::now() - start) < min_time && samples.size() < 2000)) {
    auto s = clock::now();
    for (int i = 0; i < inner; ++i) f();
    samples.push_back(secs(clock::now() - s) / inner);
  }
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples.front()};
}

// GFLOP/s of independent 512-bit (or 256-bit) FMAs on registers only: what one core can do at best.
double fma_peak_gflops(bool zmm) {
  using clock = std::chrono::steady_clock;
  const long iters = 20000000;
  long n = iters;
  auto t0 = clock::now();
  if (zmm)
    __asm__ volatile(
        "vxorps %%zmm0, %%zmm0, %%zmm0\n"
        "1:\n"
        ".irp r,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21\n"
        "vfmadd231ps %%zmm0, %%zmm1, %%zmm\\r\n"
        ".endr\n"
        "dec %0\n"
        "jnz 1b\n"
        : "+r"(n)::"memory");
  else
    __asm__ volatile(
        "vxorps %%ymm0, %%ymm0, %%ymm0\n"
        "1:\n"
        ".irp r,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        "vfmadd231ps %%ymm0, %%ymm1, %%ymm\\r\n"
        ".endr\n"
        "dec %0\n"
        "jnz 1b\n"
        : "+r"(n)::"memory");
  const double secs = std::chrono::duration<double>(clock::now() - t0).count();
  return (zmm ? 20.0 * 32 : 14.0 * 16) * iters / secs * 1e-9;
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  for (const char* p = s; *p;) {
    out.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts = {1, 2};
  double min_time = 0.3;
  bool ours_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--isa=", 0) == 0) {
      std::string v = a.substr(6);
      SimdLevel isa = v == "avx512" ? SimdLevel::avx512 : v == "avx2" ? SimdLevel::avx2 : SimdLevel::portable;
      if (!set_simd_level(isa)) {
        std::fprintf(stderr, "this CPU cannot run %s\n", v.c_str());
        return 1;
      }
    } else if (a.rfind("--threads=", 0) == 0) {
      thread_counts = parse_list(a.c_str() + 10);
    } else if (a == "--ours") {
      ours_only = true;
    } else if (a.rfind("--min-time=", 0) == 0) {
      min_time = std::atof(a.c_str() + 11);
    } else {
      std::fprintf(stderr, "usage: %s [--isa=avx512|avx2|portable] [--threads=1,2] [--min-time=0.3] [--ours]\n",
                   argv[0]);
      return 2;
    }
  }
  const dnnl_version_t* v = dnnl_version();
  std::printf("kerasrt gemm: %s | oneDNN %d.%d.%d (cpu runtime %s) | OpenBLAS core %s\n",
              simd_level_name(simd_level()), v->major, v->minor, v->patch, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other",
              openblas_get_corename());
  if (__builtin_cpu_supports("avx512f"))
    std::printf("FMA peak of one core: %.1f GFLOP/s with 512-bit FMAs, %.1f with 256-bit\n", fma_peak_gflops(true),
                fma_peak_gflops(false));
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    std::printf("FMA peak of one core: %.1f GFLOP/s with 256-bit FMAs\n", fma_peak_gflops(false));
  std::printf("GFLOP/s: median (best sample); 'packed' = gemm_packed (B packed beforehand), 'gemm' = unpacked B\n\n");

  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int threads : thread_counts) {
    ThreadPool pool(threads);
    ExecContext ctx{&pool, {}};
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    std::printf("threads=%d\n%-16s %-24s %14s %14s %14s %14s  %s\n", threads, "M,N,K", "", "packed", "gemm", "oneDNN",
                "OpenBLAS", "max|diff|");
    for (const Shape& s : kShapes) {
      std::vector<float> A(s.M * s.K), B(s.K * s.N), C(s.M * s.N), R(s.M * s.N);
      for (float& x : A) x = dist(rng);
      for (float& x : B) x = dist(rng);
      PackedB pb = pack_b(s.K, s.N, B.data(), s.N);
      const double flops = 2.0 * s.M * s.N * s.K;
      auto gf = [&](double sec) { return flops / sec * 1e-9; };
      auto cell = [&](Timing t) -> const char* {
        static char buf[4][32];
        static int next = 0;
        char* b = buf[next++ % 4];
        if (t.median <= 0) return "-";
        std::snprintf(b, 32, "%6.1f (%5.1f)", gf(t.median), gf(t.best));
        return b;
      };
      auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); };  // let spinning workers (OpenMP, OpenBLAS) go to sleep

      Timing t_packed = median_seconds([&] { gemm_packed(s.M, A.data(), s.K, pb, C.data(), s.N, false, ctx); }, min_time);
      pause();
      Timing t_gemm = median_seconds(
          [&] { gemm(s.M, s.N, s.K, A.data(), s.K, B.data(), s.N, C.data(), s.N, false, ctx); }, min_time);
      pause();
      Timing t_dnnl{}, t_blas{};
      if (!ours_only) {
      t_dnnl = median_seconds(
          [&] { dnnl_sgemm('N', 'N', s.M, s.N, s.K, 1.f, A.data(), s.K, B.data(), s.N, 0.f, C.data(), s.N); }, min_time);
      pause();
      t_blas = median_seconds(
          [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.M, s.N, s.K, 1.f, A.data(), s.K, B.data(), s.N,
                        0.f, C.data(), s.N);
          },
          min_time);
      pause();
      }
      gemm_packed(s.M, A.data(), s.K, pb, C.data(), s.N, false, ctx);
      gemm_ref(s.M, s.N, s.K, A.data(), s.K, B.data(), s.N, R.data(), s.N, false);
      double diff = 0;
      for (size_t i = 0; i < C.size(); ++i) diff = std::max(diff, double(std::fabs(C[i] - R[i])));
      char name[64];
      std::snprintf(name, sizeof name, "%lld,%lld,%lld", (long long)s.M, (long long)s.N, (long long)s.K);
      std::printf("%-16s %-24s %14s %14s %14s %14s  %.0e\n", name, s.what, cell(t_packed), cell(t_gemm), cell(t_dnnl),
                  cell(t_blas), diff);
      std::fflush(stdout);
    }
    std::printf("\n");
  }
  return 0;
}
