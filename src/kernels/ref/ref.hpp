// The reference kernels: one per op kind, plain loops written to be obviously right.
#pragma once

#include "kernels/kernel.hpp"

namespace kerasrt::kernels::ref {

extern const Kernel kCustom;

}  // namespace kerasrt::kernels::ref
