// Which vector instructions the fast kernels use: chosen once from the CPU (AVX-512F, else AVX2+FMA,
// else portable C++), and settable so tests and benchmarks can run every path this CPU has.
#pragma once

namespace kerasrt::kernels {

enum class SimdLevel { portable, avx2, avx512 };

SimdLevel simd_level();
bool simd_level_supported(SimdLevel level);
// Forces a level; returns false (and changes nothing) if the CPU lacks it. Not thread-safe against
// concurrent kernel calls: for tests and benchmarks.
bool set_simd_level(SimdLevel level);
const char* simd_level_name(SimdLevel level);

}  // namespace kerasrt::kernels
