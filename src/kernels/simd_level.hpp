// Which vector instructions the fast kernels use: chosen once from the CPU (AVX-512F, else AVX2+FMA,
// else portable C++), and settable so tests and benchmarks can run every path this CPU has.
#pragma once

// A function compiled once per instruction set, the widest the CPU has chosen at load (an ifunc).
// Not under ThreadSanitizer: ifunc resolvers run before its runtime is set up and crash.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KERASRT_NO_CLONES 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define KERASRT_NO_CLONES 1
#endif
#if defined(KERASRT_NO_CLONES) || !defined(__x86_64__)
#define KERASRT_CLONES(...)
#else
#define KERASRT_CLONES(...) __attribute__((target_clones(__VA_ARGS__)))
#endif

namespace kerasrt::kernels {

enum class SimdLevel { portable, avx2, avx512 };

SimdLevel simd_level();
bool simd_level_supported(SimdLevel level);
// Forces a level; returns false (and changes nothing) if the CPU lacks it. Not thread-safe against
// concurrent kernel calls: for tests and benchmarks.
bool set_simd_level(SimdLevel level);
const char* simd_level_name(SimdLevel level);

}  // namespace kerasrt::kernels
