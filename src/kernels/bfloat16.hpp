// Rounding to bfloat16 for layers under a bfloat16 compute policy.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace kerasrt::kernels {

// The nearest bfloat16 value (ties to even), kept in a float; NaN and infinities pass through.
inline float round_to_bfloat16(float x) {
  if (std::isnan(x)) return x;
  // Adding just under half a bfloat16 step (plus the kept part's lowest bit, for ties to even) and
  // dropping the low 16 bits rounds to nearest; infinities stay infinite, overflow becomes infinite.
  uint32_t bits = std::bit_cast<uint32_t>(x);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return std::bit_cast<float>(bits & 0xFFFF0000u);
}

}  // namespace kerasrt::kernels
