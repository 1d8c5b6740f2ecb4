#include "kernels/simd_level.hpp"

namespace kerasrt::kernels {
namespace {

SimdLevel& current() {
  static SimdLevel level = simd_level_supported(SimdLevel::avx512) ? SimdLevel::avx512
                           : simd_level_supported(SimdLevel::avx2) ? SimdLevel::avx2
                                                                   : SimdLevel::portable;
  return level;
}

}  // namespace

bool simd_level_supported(SimdLevel level) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  switch (level) {
    case SimdLevel::avx512: return __builtin_cpu_supports("avx512f");
    case SimdLevel::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SimdLevel::portable: return true;
  }
  return false;
#else
  return level == SimdLevel::portable;
#endif
}

SimdLevel simd_level() { return current(); }

bool set_simd_level(SimdLevel level) {
  if (!simd_level_supported(level)) return false;
  current() = level;
  return true;
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::avx512: return "avx512";
    case SimdLevel::avx2: return "avx2";
    case SimdLevel::portable: return "portable";
  }
  return "?";
}

}  // namespace kerasrt::kernels
