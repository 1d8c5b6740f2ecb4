// Dense through the blocked GEMM: the kernel matrix is packed once per model (prepare), each call
// starts the rows from the bias and accumulates x · kernel into them; the activation and fused steps
// are applied by the GEMM before it stores each block when it can (as_gemm_finish), else afterwards.
#include <algorithm>

#include "kernels/gemm.hpp"
#include "kernels/ref/ref.hpp"
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

bool dense_supports(const ir::Node& node, std::span<const TensorType>, std::span<const TensorType>) {
  const auto& a = node.as<ir::DenseAttrs>();
  return !a.bfloat16_compute && a.activation.fn != ir::UnaryFn::kGlu;
}

std::shared_ptr<const void> dense_prepare(const ir::Node& node) {
  const auto& a = node.as<ir::DenseAttrs>();
  return std::make_shared<const PackedB>(pack_b(a.in, a.units, node.weight(0).values<float>().data(), a.units));
}

size_t dense_scratch(const ir::Node& node, std::span<const TensorType>, std::span<const TensorType>) {
  const auto& a = node.as<ir::DenseAttrs>();
  return ref::activation_scratch_bytes(a.activation, a.units);
}

void run_dense(const KernelCall& c) {
  const auto& a = c.node.as<ir::DenseAttrs>();
  const auto& packed = *static_cast<const PackedB*>(c.prepared);
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const int64_t rows = a.in ? element_count(c.in[0].shape) / a.in : 0;
  if (a.has_bias) {
    const float* bias = c.node.weight(1).values<float>().data();
    for (int64_t r = 0; r < rows; ++r) std::copy(bias, bias + a.units, y + r * a.units);
  }
  GemmFinish finish;
  const bool in_gemm = as_gemm_finish(a.activation, c.post, finish);
  gemm_packed(rows, x, a.in, packed, y, a.units, /*accumulate=*/a.has_bias, c.ctx, in_gemm ? &finish : nullptr);
  if (!in_gemm)
    finish_rows(a.activation, c.post, y, rows, a.units, reinterpret_cast<float*>(c.ctx.scratch.data()), c.ctx);
}

}  // namespace

const Kernel kDenseGemm{"gemm",    ir::OpKind::kDense, dense_supports, dense_scratch, dense_prepare, run_dense,
                        /*in_place=*/false, /*post_ops=*/true};

}  // namespace kerasrt::kernels::x86
