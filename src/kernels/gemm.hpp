// Single-precision matrix multiply for the dense and convolution kernels.
//
// All matrices are row-major with leading dimensions (the distance between rows, in floats).
// C[M,N] = A[M,K] · B[K,N], or C += A·B with accumulate. Weights are packed once (pack_b) into
// column panels; gemm_packed then multiplies any number of rows against them. None of the calls
// below that take an ExecContext allocates on the heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/context.hpp"
#include "kernels/kernel.hpp"
#include "kernels/simd_level.hpp"

namespace kerasrt::kernels {

// The yardstick: the plain triple loop, no blocking, no threads.
void gemm_ref(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
              float* C, int64_t ldc, bool accumulate);

// B[K,N] rearranged for the micro-kernels: column panels of kPanel floats (the last one 16 wide
// when at most 16 columns remain), each panel stored K rows by its width, contiguous, padded with
// zeros past N. Owns its memory, 64-byte aligned. Move-only.
class PackedB {
 public:
  static constexpr int64_t kPanel = 32;

  PackedB() = default;
  int64_t K() const { return K_; }
  int64_t N() const { return N_; }
  bool empty() const { return !data_; }
  const float* data() const { return data_.get(); }
  size_t bytes() const { return floats_ * sizeof(float); }
  // Panel p starts at data() + p * kPanel * K() and is panel_width(p) floats wide.
  int64_t panels() const { return (N_ + kPanel - 1) / kPanel; }
  int64_t panel_width(int64_t p) const { return N_ - p * kPanel > 16 ? kPanel : 16; }

 private:
  friend PackedB pack_b(int64_t K, int64_t N, const float* B, int64_t ldb);
  struct Free {
    void operator()(float* p) const;
  };
  int64_t K_ = 0, N_ = 0;
  size_t floats_ = 0;
  std::unique_ptr<float[], Free> data_;
};

// Packs B[K,N] (leading dimension ldb >= N). Allocates; meant for load time.
PackedB pack_b(int64_t K, int64_t N, const float* B, int64_t ldb);

// Steps applied to every element of C once all of K is summed in, before it is stored (an
// activation, a batch-norm folded in as a per-column scale and shift): no second pass over C. The
// steps are PostOps (scale and shift per column of C, or a unary function); gemm_can_finish says
// which unary functions the micro-kernels apply. Each rounds as the reference's separate pass
// would, except sigmoid and silu at the AVX-512 level, which use the vectorised exp (a few ulps).
struct GemmFinish {
  static constexpr int kMaxSteps = 4;
  int count = 0;
  PostOp steps[kMaxSteps];

  // The same steps for a C that starts `column` columns into this one's.
  GemmFinish from_column(int64_t column) const {
    GemmFinish out = *this;
    for (int i = 0; i < count; ++i)
      if (out.steps[i].scale) {
        out.steps[i].scale += column;
        out.steps[i].shift += column;
      }
    return out;
  }
};
bool gemm_can_finish(ir::UnaryFn fn);

// C[M, B.N()] (+)= A[M, B.K()] · B, then `finish` (if given) on every element. Threads over ctx's
// pool; no heap allocation, no scratch.
void gemm_packed(int64_t M, const float* A, int64_t lda, const PackedB& B, float* C, int64_t ldc, bool accumulate,
                 const ExecContext& ctx, const GemmFinish* finish = nullptr);

// Same with B unpacked (e.g. attention, where both operands are activations). B is packed a block
// at a time into a fixed-size buffer on the stack, so no scratch is needed.
void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
          int64_t ldc, bool accumulate, const ExecContext& ctx);

// Scratch that gemm() needs in ctx.scratch: none (kept so callers size it through one place).
size_t gemm_scratch_bytes(int64_t M, int64_t N, int64_t K);


}  // namespace kerasrt::kernels
