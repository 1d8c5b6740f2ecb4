#include "ir/linalg.hpp"

#include <algorithm>

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {
namespace {

bool agree(int64_t x, int64_t y) { return x < 0 || y < 0 || x == y; }

}  // namespace

std::vector<TensorType> infer_matmul(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 2);
  const auto& a = node.as<MatmulAttrs>();
  for (const TensorType& t : in)
    if (t.dtype != DType::kFloat32) throw Error(std::string("matmul takes float32, got ") + dtype_name(t.dtype));
  const Shape &x = in[0].shape, &y = in[1].shape;
  if (x.empty() || y.empty()) throw Error("matmul does not take rank-0 operands");
  const bool vx = x.size() == 1, vy = y.size() == 1;
  const size_t rx = x.size(), ry = y.size();
  const int64_t m = vx ? 1 : (a.transpose_a ? x[rx - 1] : x[rx - 2]);
  const int64_t kx = vx ? x[0] : (a.transpose_a ? x[rx - 2] : x[rx - 1]);
  const int64_t ky = vy ? y[0] : (a.transpose_b ? y[ry - 1] : y[ry - 2]);
  const int64_t n = vy ? 1 : (a.transpose_b ? y[ry - 2] : y[ry - 1]);
  if (!agree(kx, ky))
    throw Error("matmul shapes " + shape_to_string(x) + " and " + shape_to_string(y) + " do not line up");
  Shape bx(x.begin(), x.end() - (vx ? 1 : 2)), by(y.begin(), y.end() - (vy ? 1 : 2));
  Shape out = broadcast_shapes(bx, by);
  if (!vx) out.push_back(m);
  if (!vy) out.push_back(n);
  return {{out, DType::kFloat32}};
}

void plan_einsum(const EinsumAttrs& a, std::span<const std::span<const int64_t>> shapes, EinsumPlan& p) {
  const int k = static_cast<int>(a.inputs.size());
  if (k < 1 || k > EinsumPlan::kMaxOperands || shapes.size() != a.inputs.size())
    throw Error("einsum takes 1 to " + std::to_string(EinsumPlan::kMaxOperands) + " operands, one per term");
  p.operands = k;
  int ell = 0;
  int own[EinsumPlan::kMaxOperands];
  for (int o = 0; o < k; ++o) {
    const auto& t = a.inputs[o];
    const bool dots = std::count(t.begin(), t.end(), kEinsumEllipsis) > 0;
    const int letters = static_cast<int>(t.size()) - (dots ? 1 : 0);
    const int r = static_cast<int>(shapes[o].size());
    if (r < letters || (!dots && r != letters))
      throw Error("einsum operand " + std::to_string(o) + " of shape " + shape_to_string(shapes[o]) +
                  " does not match its subscripts");
    own[o] = r - letters;
    ell = std::max(ell, own[o]);
  }
  if (kEinsumLetters + ell > EinsumPlan::kMaxLabels) throw Error("einsum: '...' covers too many axes");
  p.ellipsis = ell;
  bool sized[EinsumPlan::kMaxLabels];
  int counts[EinsumPlan::kMaxLabels];
  for (int l = 0; l < EinsumPlan::kMaxLabels; ++l) {
    p.size[l] = 1;
    p.used[l] = sized[l] = false;
    counts[l] = 0;
  }
  for (int o = 0; o < k; ++o) {
    int r = 0;
    for (int l : a.inputs[o]) {
      if (l != kEinsumEllipsis) {
        if (l < 0 || l >= kEinsumLetters) throw Error("einsum label out of range");
        p.dims[o][r++] = l;
        continue;
      }
      for (int j = 0; j < own[o]; ++j) p.dims[o][r++] = kEinsumLetters + ell - own[o] + j;
    }
    p.rank[o] = r;
    for (int d = 0; d < r; ++d) {
      const int l = p.dims[o][d];
      const int64_t sz = shapes[o][d];
      p.used[l] = true;
      ++counts[l];
      if (!sized[l] || p.size[l] == 1) {
        if (!sized[l] || sz != 1) p.size[l] = sz;
        sized[l] = true;
      } else if (sz != 1 && sz >= 0 && p.size[l] >= 0 && sz != p.size[l]) {
        throw Error("einsum sizes " + std::to_string(sz) + " and " + std::to_string(p.size[l]) +
                    " of one subscript do not match");
      } else if (p.size[l] < 0 && sz > 1) {
        p.size[l] = sz;
      }
    }
  }
  p.out_rank = 0;
  bool out_dots = false;
  for (int l : a.output) {
    if (l == kEinsumEllipsis) {
      out_dots = true;
      for (int j = 0; j < ell; ++j) p.out[p.out_rank++] = kEinsumLetters + j;
      continue;
    }
    if (l < 0 || l >= kEinsumLetters || !p.used[l]) throw Error("einsum output subscript does not appear in the inputs");
    if (std::find(p.out, p.out + p.out_rank, l) != p.out + p.out_rank) throw Error("einsum output repeats a subscript");
    p.out[p.out_rank++] = l;
  }
  if (ell > 0 && !out_dots) throw Error("einsum output must keep '...' when the inputs have it");
}

std::vector<TensorType> infer_einsum(const Node& node, std::span<const TensorType> in) {
  const auto& a = node.as<EinsumAttrs>();
  const size_t operands = in.size() + (a.weight_operand ? 1 : 0);
  if (operands != a.inputs.size())
    throw Error("einsum names " + std::to_string(a.inputs.size()) + " operands, the node has " +
                std::to_string(operands));
  if (a.weight_operand && node.weights.empty()) throw Error("einsum's weight operand is missing");
  std::vector<std::span<const int64_t>> shapes;
  for (const TensorType& t : in) {
    if (t.dtype != DType::kFloat32) throw Error(std::string("einsum takes float32, got ") + dtype_name(t.dtype));
    shapes.emplace_back(t.shape);
  }
  if (a.weight_operand) shapes.emplace_back(node.weight(0).shape);
  EinsumPlan p;
  plan_einsum(a, shapes, p);
  Shape out;
  for (int i = 0; i < p.out_rank; ++i) out.push_back(p.size[p.out[i]]);
  return {{out, DType::kFloat32}};
}

}  // namespace kerasrt::ir
