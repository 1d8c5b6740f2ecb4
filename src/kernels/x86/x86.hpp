// Faster kernels, each beside its reference in kernels/ref/ and checked against it by
// tests/kernels/differential_test.cpp.
#pragma once

#include "kernels/kernel.hpp"

namespace kerasrt::kernels::x86 {

// Element-wise float32 unary function with the switch hoisted out of the loop, split over the pool.
// Last-axis functions fall back to the reference. `y` may be `x`.
void apply_unary(const ir::UnaryAttrs& u, const float* x, float* y, int64_t n, int64_t last_len, float* scratch,
                 const ExecContext& ctx);

extern const Kernel kUnaryLoop;
extern const Kernel kBinaryLoop;
extern const Kernel kDenseGemm;
extern const Kernel kConvDepthwise;
extern const Kernel kConvGemm;
extern const Kernel kConvTransposeGemm;
extern const Kernel kPoolChannelsLast;
extern const Kernel kBatchNormChannelsLast;
extern const Kernel kNormalizeLastAxis;
extern const Kernel kRnnGemm;
extern const Kernel kAttentionGemm;
extern const Kernel kSoftmaxLastAxis;
extern const Kernel kPadRuns;
extern const Kernel kConvLstmGemm;
extern const Kernel kMatmulGemm;
extern const Kernel kEinsumGemm;
extern const Kernel kTransposeStrided;
extern const Kernel kSliceStrided;

}  // namespace kerasrt::kernels::x86
