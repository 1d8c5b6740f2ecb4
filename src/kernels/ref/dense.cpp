// Reference Dense: y = activation(x · kernel + bias), one row at a time.
#include "kernels/bfloat16.hpp"
#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

// Under a bfloat16 policy, as Keras ran it on the torch CPU backend that made the corpus: inputs
// and weights rounded to bfloat16, products and partial sums rounded in input order, then bias and
// activation each rounded.
void dense_bfloat16(const ir::DenseAttrs& a, const float* x, const float* w, const float* bias, float* y, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t u = 0; u < a.units; ++u) {
      float acc = 0.f;
      for (int64_t k = 0; k < a.in; ++k) {
        const float product = round_to_bfloat16(round_to_bfloat16(x[r * a.in + k]) * round_to_bfloat16(w[k * a.units + u]));
        acc = round_to_bfloat16(acc + product);
      }
      y[r * a.units + u] = bias ? round_to_bfloat16(acc + round_to_bfloat16(bias[u])) : acc;
    }
  }
}

size_t dense_scratch(const ir::Node& node, std::span<const TensorType>, std::span<const TensorType>) {
  const auto& a = node.as<ir::DenseAttrs>();
  return activation_scratch_bytes(a.activation, a.units);
}

void run_dense(const KernelCall& c) {
  const auto& a = c.node.as<ir::DenseAttrs>();
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const float* w = c.node.weight(0).values<float>().data();
  const float* bias = a.has_bias ? c.node.weight(1).values<float>().data() : nullptr;
  const int64_t rows = a.in ? element_count(c.in[0].shape) / a.in : 0;
  if (a.bfloat16_compute) {
    dense_bfloat16(a, x, w, bias, y, rows);
  } else {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t u = 0; u < a.units; ++u) {
        float acc = bias ? bias[u] : 0.f;
        for (int64_t k = 0; k < a.in; ++k) acc += x[r * a.in + k] * w[k * a.units + u];
        y[r * a.units + u] = acc;
      }
  }
  const int64_t n = rows * a.units;
  apply_unary(a.activation, y, y, n, a.units, reinterpret_cast<float*>(c.ctx.scratch.data()));
  if (a.bfloat16_compute)
    for (int64_t i = 0; i < n; ++i) y[i] = round_to_bfloat16(y[i]);
}

}  // namespace

size_t activation_scratch_bytes(const ir::Activation& a, int64_t last_len) {
  return a.fn == ir::UnaryFn::kSparsemax ? static_cast<size_t>(last_len) * sizeof(float) : 0;
}

const Kernel kDense{"ref", ir::OpKind::kDense, nullptr, dense_scratch, nullptr, run_dense};

}  // namespace kerasrt::kernels::ref
