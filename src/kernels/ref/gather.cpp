// Reference gather: copies one table row per index.
#include <algorithm>
#include <string>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

template <class I>
void gather_rows(const I* index, int64_t n, const ir::GatherAttrs& a, const float* table, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = index[i] < 0 ? static_cast<int64_t>(index[i]) + a.rows : static_cast<int64_t>(index[i]);
    // Keras on torch raises for an index outside [-rows, rows).
    if (row < 0 || row >= a.rows)
      throw Error("Embedding: index " + std::to_string(index[i]) + " is out of range for input_dim " +
                  std::to_string(a.rows));
    std::copy_n(table + row * a.dim, a.dim, y + i * a.dim);
  }
}

void run_gather(const KernelCall& c) {
  const auto& a = c.node.as<ir::GatherAttrs>();
  const float* table = c.node.weight(0).floats().data();
  float* y = static_cast<float*>(c.out[0].data);
  const int64_t n = element_count(c.in[0].shape);
  if (c.in[0].dtype == DType::kInt64) gather_rows(static_cast<const int64_t*>(c.in[0].data), n, a, table, y);
  else gather_rows(static_cast<const int32_t*>(c.in[0].data), n, a, table, y);
}

}  // namespace

const Kernel kGather{"ref", ir::OpKind::kGather, nullptr, nullptr, nullptr, run_gather};

}  // namespace kerasrt::kernels::ref
