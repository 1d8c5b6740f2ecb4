// Reference matmul and einsum: every output element summed in double, in index order.
#include "kernels/linalg_geometry.hpp"
#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

void run_matmul(const KernelCall& c) {
  const auto& a = c.node.as<ir::MatmulAttrs>();
  const MatmulGeometry g(a, c.in[0].shape, c.in[1].shape);
  const float* x = static_cast<const float*>(c.in[0].data);
  const float* y = static_cast<const float*>(c.in[1].data);
  float* out = static_cast<float*>(c.out[0].data);
  const bool ta = a.transpose_a && c.in[0].shape.size() > 1, tb = a.transpose_b && c.in[1].shape.size() > 1;
  for (int64_t b = 0; b < g.batches; ++b) {
    int64_t oa, ob;
    g.offsets(b, oa, ob);
    const float* A = x + oa * g.m * g.k;
    const float* B = y + ob * g.k * g.n;
    float* C = out + b * g.m * g.n;
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        double acc = 0;
        for (int64_t t = 0; t < g.k; ++t)
          acc += static_cast<double>(ta ? A[t * g.m + i] : A[i * g.k + t]) * (tb ? B[j * g.k + t] : B[t * g.n + j]);
        C[i * g.n + j] = static_cast<float>(acc);
      }
  }
}

void run_einsum(const KernelCall& c) {
  const auto& a = c.node.as<ir::EinsumAttrs>();
  const int k = static_cast<int>(a.inputs.size());
  std::span<const int64_t> shapes[ir::EinsumPlan::kMaxOperands];
  const float* data[ir::EinsumPlan::kMaxOperands];
  for (size_t o = 0; o < c.in.size(); ++o) {
    shapes[o] = c.in[o].shape;
    data[o] = static_cast<const float*>(c.in[o].data);
  }
  if (a.weight_operand) {
    shapes[k - 1] = c.node.weight(0).shape;
    data[k - 1] = c.node.weight(0).values<float>().data();
  }
  ir::EinsumPlan p;
  ir::plan_einsum(a, {shapes, static_cast<size_t>(k)}, p);
  // Every label: the output's first, then the summed ones as they first appear; per operand, the
  // offset each label's index moves it by (0 where the operand broadcasts).
  constexpr int L = ir::EinsumPlan::kMaxLabels;
  int labels[L];
  int count = 0;
  for (int i = 0; i < p.out_rank; ++i) labels[count++] = p.out[i];
  for (int o = 0; o < k; ++o)
    for (int d = 0; d < p.rank[o]; ++d)
      if (std::find(labels, labels + count, p.dims[o][d]) == labels + count) labels[count++] = p.dims[o][d];
  int64_t sizes[L];
  for (int i = 0; i < count; ++i) sizes[i] = p.size[labels[i]];
  int64_t step[ir::EinsumPlan::kMaxOperands][L] = {};
  for (int o = 0; o < k; ++o) {
    int64_t stride = 1;
    for (int d = p.rank[o] - 1; d >= 0; --d) {
      const int64_t s = shapes[o][d];
      if (!(s == 1 && p.size[p.dims[o][d]] != 1)) {
        const int pos = static_cast<int>(std::find(labels, labels + count, p.dims[o][d]) - labels);
        step[o][pos] += stride;
      }
      stride *= s;
    }
  }
  int64_t n_out = 1, n_sum = 1;
  for (int i = 0; i < p.out_rank; ++i) n_out *= sizes[i];
  for (int i = p.out_rank; i < count; ++i) n_sum *= sizes[i];
  float* out = static_cast<float*>(c.out[0].data);
  int64_t idx[L] = {};
  for (int64_t e = 0; e < n_out; ++e) {
    int64_t rest = e;
    for (int i = p.out_rank - 1; i >= 0; --i) {
      idx[i] = rest % sizes[i];
      rest /= sizes[i];
    }
    double acc = 0;
    for (int64_t t = 0; t < n_sum; ++t) {
      rest = t;
      for (int i = count - 1; i >= p.out_rank; --i) {
        idx[i] = rest % sizes[i];
        rest /= sizes[i];
      }
      double prod = 1;
      for (int o = 0; o < k; ++o) {
        int64_t off = 0;
        for (int i = 0; i < count; ++i) off += idx[i] * step[o][i];
        prod *= data[o][off];
      }
      acc += prod;
    }
    out[e] = static_cast<float>(acc);
  }
}

}  // namespace

const Kernel kMatmul{"ref", ir::OpKind::kMatmul, nullptr, nullptr, nullptr, run_matmul};
const Kernel kEinsum{"ref", ir::OpKind::kEinsum, nullptr, nullptr, nullptr, run_einsum};

}  // namespace kerasrt::kernels::ref
