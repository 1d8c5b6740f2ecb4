// Linear algebra: matmul (NumPy's matmul with optional transposes) and einsum (a parsed equation).
// Both compute in float32; exporters map them one to one (ONNX MatMul, Einsum).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <kerasrt/kerasrt.hpp>

namespace kerasrt::ir {

// out = op(a) · op(b) over the last two axes, op = transpose of those two axes when asked. The
// leading (batch) axes broadcast as NumPy does; a rank-1 operand is a row (a) or column (b) vector
// whose axis is dropped from the result. Transposes apply to rank >= 2 operands only.
struct MatmulAttrs {
  bool transpose_a = false, transpose_b = false;
};

// Einsum labels: 'A'..'Z' are 0..25, 'a'..'z' 26..51; kEinsumEllipsis marks where "..." stands.
constexpr int kEinsumEllipsis = -1;
constexpr int kEinsumLetters = 52;

// out = einsum(terms, operands): each output element is the sum over the labels absent from the
// output of the product of the operand elements. "..." dimensions broadcast across operands
// (right-aligned), a label of size 1 in one operand broadcasts against the others, and a label
// repeated within a term takes the diagonal. Sums in double (reference), as NumPy's results are.
// The operands are the node's inputs, then with weight_operand its weight 0 as the last operand.
struct EinsumAttrs {
  std::vector<std::vector<int>> inputs;  // one term per operand
  std::vector<int> output;               // explicit (a reader resolves the implicit form)
  bool weight_operand = false;
};

// The labels and sizes of one einsum over concrete (or partly unknown, -1) operand shapes; no heap,
// so kernels can build it per call. Ellipsis dimensions get labels kEinsumLetters + i.
struct EinsumPlan {
  static constexpr int kMaxOperands = 8;
  static constexpr int kMaxLabels = kEinsumLetters + 12;
  int operands = 0, ellipsis = 0;
  int64_t size[kMaxLabels];  // -1 unknown; 1 for unused labels
  bool used[kMaxLabels];
  int rank[kMaxOperands];
  int dims[kMaxOperands][kMaxLabels];  // label of each operand axis
  int out_rank = 0;
  int out[kMaxLabels];
};
// Throws Error when the shapes do not fit the terms.
void plan_einsum(const EinsumAttrs& a, std::span<const std::span<const int64_t>> shapes, EinsumPlan& p);

}  // namespace kerasrt::ir
