// Calls a kernel body with the C++ type of a tensor's dtype (bool travels as uint8_t).
#pragma once

#include <cstdint>

#include <kerasrt/kerasrt.hpp>

namespace kerasrt::kernels {

template <class F>
void with_element_type(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32: return f(float{});
    case DType::kInt32: return f(int32_t{});
    case DType::kInt64: return f(int64_t{});
    case DType::kUInt8:
    case DType::kBool: return f(uint8_t{});
  }
}

}  // namespace kerasrt::kernels
