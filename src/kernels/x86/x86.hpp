// Faster kernels, each beside its reference in kernels/ref/ and checked against it by
// tests/kernels/differential_test.cpp.
#pragma once

#include "kernels/gemm.hpp"
#include "kernels/kernel.hpp"

namespace kerasrt::kernels::x86 {

// Element-wise float32 unary function with the switch hoisted out of the loop, split over the pool.
// Last-axis functions fall back to the reference. `y` may be `x`.
void apply_unary(const ir::UnaryAttrs& u, const float* x, float* y, int64_t n, int64_t last_len, float* scratch,
                 const ExecContext& ctx);

// What a producer does to its output rows (rows x channels, float32, in place) before they are
// final: its own activation `own`, then the fused steps `post`, one cache-sized block of rows at a
// time. An activation over the last axis (softmax, ...) runs over the whole tensor first instead.
void finish_rows(const ir::UnaryAttrs& own, std::span<const PostOp> post, float* y, int64_t rows, int64_t channels,
                 float* scratch, const ExecContext& ctx);

// finish_rows for an element-wise `own` on rows already in cache, on the calling thread (inside a
// kernel's own parallel_for).
void finish_rows_here(const ir::UnaryAttrs& own, std::span<const PostOp> post, float* y, int64_t rows,
                      int64_t channels);

// The activation `own` followed by the fused steps `post` as steps the GEMM applies before it
// stores C, when it can apply them all; false otherwise (then finish_rows runs them afterwards).
bool as_gemm_finish(const ir::UnaryAttrs& own, std::span<const PostOp> post, GemmFinish& out);

// The fused steps alone, likewise on the calling thread.
void apply_post_ops(std::span<const PostOp> post, float* y, int64_t rows, int64_t channels);

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
extern const Kernel kConcatSplit;

}  // namespace kerasrt::kernels::x86
