// matmul and einsum on the blocked GEMM. matmul: one GEMM per batch item, transposed operands
// copied into scratch first. einsum of two operands whose labels split into batch (both operands
// and the output), contracted (both operands only), and free (one operand and the output): each
// operand is gathered into [batch, rows, contracted] / [batch, contracted, cols] order (unless it
// already is), one GEMM per batch item, and the result scattered to the output's order. A weight
// operand without batch labels (EinsumDense's kernel) is gathered and packed once, in prepare().
#include <algorithm>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/linalg_geometry.hpp"
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

// ---- matmul ---------------------------------------------------------------------------------------

bool transposes_a(const ir::MatmulAttrs& a, std::span<const int64_t> x) { return a.transpose_a && x.size() > 1; }
bool transposes_b(const ir::MatmulAttrs& a, std::span<const int64_t> y) { return a.transpose_b && y.size() > 1; }

size_t matmul_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::MatmulAttrs>();
  const MatmulGeometry g(a, in[0].shape, in[1].shape);
  const int64_t floats = (transposes_a(a, in[0].shape) ? g.m * g.k : 0) + (transposes_b(a, in[1].shape) ? g.k * g.n : 0);
  return static_cast<size_t>(floats) * sizeof(float);
}

// dst (rows, cols) = src (cols, rows) transposed.
void transpose_into(const float* src, int64_t rows, int64_t cols, float* dst) {
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t r = 0; r < rows; ++r) dst[r * cols + c] = src[c * rows + r];
}

void run_matmul(const KernelCall& c) {
  const auto& a = c.node.as<ir::MatmulAttrs>();
  const MatmulGeometry g(a, c.in[0].shape, c.in[1].shape);
  const bool ta = transposes_a(a, c.in[0].shape), tb = transposes_b(a, c.in[1].shape);
  float* scratch = reinterpret_cast<float*>(c.ctx.scratch.data());
  float* sa = scratch;
  float* sb = scratch + (ta ? g.m * g.k : 0);
  const float* x = static_cast<const float*>(c.in[0].data);
  const float* y = static_cast<const float*>(c.in[1].data);
  float* out = static_cast<float*>(c.out[0].data);
  for (int64_t b = 0; b < g.batches; ++b) {
    int64_t oa, ob;
    g.offsets(b, oa, ob);
    const float* A = x + oa * g.m * g.k;
    const float* B = y + ob * g.k * g.n;
    if (ta) {
      transpose_into(A, g.m, g.k, sa);
      A = sa;
    }
    if (tb) {
      transpose_into(B, g.k, g.n, sb);
      B = sb;
    }
    gemm(g.m, g.n, g.k, A, g.k, B, g.n, out + b * g.m * g.n, g.n, /*accumulate=*/false, c.ctx);
  }
}

// ---- einsum ---------------------------------------------------------------------------------------

constexpr int L = ir::EinsumPlan::kMaxLabels;

// The GEMM view of a two-operand einsum: label lists in the order the gathered operands use.
struct EinsumGemm {
  ir::EinsumPlan p;
  std::span<const int64_t> shapes[2];
  int batch[L], rows[L], cols[L], contracted[L];
  int nb = 0, nr = 0, nc = 0, nk = 0;
  int64_t B = 1, M = 1, N = 1, K = 1;
  bool ok = false;
};

void plan_gemm(const ir::Node& node, std::span<const int64_t> s0, std::span<const int64_t> s1, EinsumGemm& e) {
  const auto& a = node.as<ir::EinsumAttrs>();
  e.shapes[0] = s0;
  e.shapes[1] = s1;
  ir::plan_einsum(a, e.shapes, e.p);
  const ir::EinsumPlan& p = e.p;
  auto in = [&](int o, int l) { return std::find(p.dims[o], p.dims[o] + p.rank[o], l) != p.dims[o] + p.rank[o]; };
  auto in_out = [&](int l) { return std::find(p.out, p.out + p.out_rank, l) != p.out + p.out_rank; };
  for (int o = 0; o < 2; ++o)
    for (int d = 0; d < p.rank[o]; ++d) {
      const int l = p.dims[o][d];
      if (e.shapes[o][d] != p.size[l] || p.size[l] <= 0) return;  // broadcasting or empty: the reference
      if (std::count(p.dims[o], p.dims[o] + p.rank[o], l) > 1) return;  // a diagonal
      if (!in(1 - o, l) && !in_out(l)) return;  // summed within one operand
    }
  for (int i = 0; i < p.out_rank; ++i) {
    const int l = p.out[i];
    const bool a0 = in(0, l), a1 = in(1, l);
    if (a0 && a1) e.batch[e.nb++] = l, e.B *= p.size[l];
    else if (a0) e.rows[e.nr++] = l, e.M *= p.size[l];
    else e.cols[e.nc++] = l, e.N *= p.size[l];
  }
  for (int d = 0; d < p.rank[0]; ++d) {
    const int l = p.dims[0][d];
    if (!in_out(l)) e.contracted[e.nk++] = l, e.K *= p.size[l];
  }
  e.ok = true;
}

// Offsets of operand `o` along the labels `order` (each of its labels once), and whether they
// are already its row-major layout.
bool steps_for(const EinsumGemm& e, int o, const int* order, int n, int64_t* steps) {
  int64_t by_label[L] = {};
  int64_t stride = 1;
  for (int d = e.p.rank[o] - 1; d >= 0; --d) {
    by_label[e.p.dims[o][d]] = stride;
    stride *= e.shapes[o][d];
  }
  bool contiguous = true;
  int64_t want = 1;
  for (int i = n - 1; i >= 0; --i) {
    steps[i] = by_label[order[i]];
    contiguous = contiguous && steps[i] == want;
    want *= e.p.size[order[i]];
  }
  return contiguous;
}

// dst in row-major order over `sizes` = src read through `steps`.
void gather(const float* src, const int64_t* steps, const int64_t* sizes, int n, float* dst) {
  int64_t total = 1;
  for (int i = 0; i < n; ++i) total *= sizes[i];
  int64_t idx[L] = {};
  int64_t off = 0;
  for (int64_t t = 0; t < total; ++t) {
    dst[t] = src[off];
    for (int i = n - 1; i >= 0; --i) {
      off += steps[i];
      if (++idx[i] < sizes[i]) break;
      off -= steps[i] * sizes[i];
      idx[i] = 0;
    }
  }
}

struct Layouts {
  int a_order[L], b_order[L], c_order[L];
  int na = 0, nb = 0, nc = 0;
};

Layouts layouts(const EinsumGemm& e) {
  Layouts l;
  for (int i = 0; i < e.nb; ++i) l.a_order[l.na++] = l.b_order[l.nb++] = l.c_order[l.nc++] = e.batch[i];
  for (int i = 0; i < e.nr; ++i) l.a_order[l.na++] = l.c_order[l.nc++] = e.rows[i];
  for (int i = 0; i < e.nk; ++i) l.a_order[l.na++] = l.b_order[l.nb++] = e.contracted[i];
  for (int i = 0; i < e.nc; ++i) l.b_order[l.nb++] = l.c_order[l.nc++] = e.cols[i];
  return l;
}

std::span<const int64_t> operand_shape(const ir::Node& node, std::span<const TensorType> in, int o) {
  if (o < static_cast<int>(in.size())) return in[o].shape;
  return node.weight(0).shape;
}

// The weight operand as a packed [contracted, cols] matrix, when it has no batch labels.
struct PackedWeight {
  PackedB b;
};

std::shared_ptr<const void> einsum_prepare(const ir::Node& node) {
  const auto& a = node.as<ir::EinsumAttrs>();
  if (!a.weight_operand || a.inputs.size() != 2) return nullptr;
  const std::vector<int>& x = a.inputs[0];
  const std::vector<int>& w = a.inputs[1];
  const std::vector<int>& o = a.output;
  auto has = [](const std::vector<int>& t, int l) { return std::find(t.begin(), t.end(), l) != t.end(); };
  const Shape& ws = node.weight(0).shape;
  if (ws.size() != w.size()) return nullptr;
  int64_t by_label[L] = {}, size[L] = {};
  int64_t stride = 1;
  for (int d = static_cast<int>(w.size()) - 1; d >= 0; --d) {
    const int l = w[d];
    if (l < 0 || std::count(w.begin(), w.end(), l) > 1) return nullptr;  // "..." or a diagonal
    if (has(x, l) && has(o, l)) return nullptr;                           // a batch label
    if (!has(x, l) && !has(o, l)) return nullptr;                         // summed within the weight
    by_label[l] = stride;
    size[l] = ws[d];
    stride *= ws[d];
  }
  // Contracted labels in the input's order, then columns in the output's, as plan_gemm orders them.
  int order[L];
  int n = 0;
  int64_t K = 1, N = 1;
  for (int l : x)
    if (l >= 0 && has(w, l)) order[n++] = l, K *= size[l];
  for (int l : o)
    if (l >= 0 && has(w, l) && !has(x, l)) order[n++] = l, N *= size[l];
  int64_t steps[L], sizes[L];
  for (int i = 0; i < n; ++i) steps[i] = by_label[order[i]], sizes[i] = size[order[i]];
  std::vector<float> kn(static_cast<size_t>(K * N));
  gather(node.weight(0).values<float>().data(), steps, sizes, n, kn.data());
  return std::make_shared<const PackedWeight>(PackedWeight{pack_b(K, N, kn.data(), N)});
}

bool einsum_supports(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::EinsumAttrs>();
  if (a.inputs.size() != 2) return false;
  EinsumGemm e;
  plan_gemm(node, operand_shape(node, in, 0), operand_shape(node, in, 1), e);
  return e.ok;
}

size_t einsum_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  EinsumGemm e;
  plan_gemm(node, operand_shape(node, in, 0), operand_shape(node, in, 1), e);
  return static_cast<size_t>(e.B * (e.M * e.K + e.K * e.N + e.M * e.N)) * sizeof(float);
}

void run_einsum(const KernelCall& c) {
  const auto& a = c.node.as<ir::EinsumAttrs>();
  const float* data[2];
  std::span<const int64_t> shapes[2];
  for (int o = 0; o < 2; ++o) {
    const bool w = a.weight_operand && o == 1;
    shapes[o] = w ? std::span<const int64_t>(c.node.weight(0).shape) : c.in[o].shape;
    data[o] = w ? c.node.weight(0).values<float>().data() : static_cast<const float*>(c.in[o].data);
  }
  EinsumGemm e;
  plan_gemm(c.node, shapes[0], shapes[1], e);
  const Layouts l = layouts(e);
  float* sa = reinterpret_cast<float*>(c.ctx.scratch.data());
  float* sb = sa + e.B * e.M * e.K;
  float* sc = sb + e.B * e.K * e.N;
  int64_t steps[L], sizes[L];
  auto arrange = [&](int o, const int* order, int n, float* dst) -> const float* {
    for (int i = 0; i < n; ++i) sizes[i] = e.p.size[order[i]];
    if (steps_for(e, o, order, n, steps)) return data[o];
    gather(data[o], steps, sizes, n, dst);
    return dst;
  };
  const float* A = arrange(0, l.a_order, l.na, sa);
  const auto* packed = static_cast<const PackedWeight*>(c.prepared);
  if (packed && (e.B != 1 || packed->b.K() != e.K || packed->b.N() != e.N)) packed = nullptr;
  const float* B = packed ? nullptr : arrange(1, l.b_order, l.nb, sb);
  // The output's offsets along the [batch, rows, cols] order; contiguous means write straight in.
  int64_t out_by_label[L] = {};
  int64_t stride = 1;
  for (int i = e.p.out_rank - 1; i >= 0; --i) {
    out_by_label[e.p.out[i]] = stride;
    stride *= e.p.size[e.p.out[i]];
  }
  bool direct = true;
  int64_t want = 1;
  for (int i = l.nc - 1; i >= 0; --i) {
    steps[i] = out_by_label[l.c_order[i]];
    sizes[i] = e.p.size[l.c_order[i]];
    direct = direct && steps[i] == want;
    want *= sizes[i];
  }
  float* out = static_cast<float*>(c.out[0].data);
  float* C = direct ? out : sc;
  if (packed)
    gemm_packed(e.M, A, e.K, packed->b, C, e.N, false, c.ctx);
  else
    for (int64_t b = 0; b < e.B; ++b)
      gemm(e.M, e.N, e.K, A + b * e.M * e.K, e.K, B + b * e.K * e.N, e.N, C + b * e.M * e.N, e.N, false, c.ctx);
  if (direct) return;
  // Scatter: walk C in its order, writing each element at its output offset.
  int64_t total = e.B * e.M * e.N;
  int64_t idx[L] = {};
  int64_t off = 0;
  for (int64_t t = 0; t < total; ++t) {
    out[off] = C[t];
    for (int i = l.nc - 1; i >= 0; --i) {
      off += steps[i];
      if (++idx[i] < sizes[i]) break;
      off -= steps[i] * sizes[i];
      idx[i] = 0;
    }
  }
}

}  // namespace

const Kernel kMatmulGemm{"gemm", ir::OpKind::kMatmul, nullptr, matmul_scratch, nullptr, run_matmul};
const Kernel kEinsumGemm{"gemm", ir::OpKind::kEinsum, einsum_supports, einsum_scratch, einsum_prepare, run_einsum};

}  // namespace kerasrt::kernels::x86
