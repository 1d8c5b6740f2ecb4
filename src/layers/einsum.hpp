// The one einsum of the layer kernels, used by the Einsum op node and the EinsumDense layer: a
// parser for subscripts ("ij,jk->ik", "...ij->...ji", implicit "ij,jk") and an evaluator by direct
// summation with "..." broadcasting, repeated labels within an operand (diagonals) and size-1
// broadcasting of a label, as torch.einsum allows.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "layers/common.hpp"

namespace kerasrt::layers {

// Labels are letters: 'A'-'Z' are 0..25, 'a'-'z' 26..51 (so sorting labels sorts them as NumPy
// does); the ellipsis dimensions get kEinsumLetters, kEinsumLetters + 1, ... once expanded.
constexpr int kEinsumEllipsis = -1;
constexpr int kEinsumLetters = 52;
// The label of a letter; -2 for anything else.
int einsum_label(char c);

struct EinsumSubscripts {
  std::vector<std::vector<int>> inputs;  // one term per operand; kEinsumEllipsis where "..." stands
  std::optional<std::vector<int>> output;  // nullopt for the implicit form (no "->")
};
// Parses subscripts without spaces; nullopt when a term holds anything but letters and at most one
// "...".
std::optional<EinsumSubscripts> parse_einsum(const std::string& subscripts);

class Einsum {
 public:
  explicit Einsum(EinsumSubscripts subscripts) : s_(std::move(subscripts)) {}

  // The output shape for operands of these shapes (-1 unknown); throws an Error when they do not fit.
  Shape output_shape(std::span<const Shape> operands) const;
  // out = einsum(operands). Each output element is the sum, in double, of the products of its
  // operand elements, over the summed labels in the order they first appear in the operands (the
  // last one fastest).
  void run(std::span<const ConstView> operands, const MutView& out) const;

 private:
  struct Plan {
    std::vector<std::vector<int>> dims;  // per operand, the label of each axis
    std::vector<int64_t> sizes;          // per label (-1 unknown)
    std::vector<bool> used;
    std::vector<int> out_labels;
  };
  Plan plan(std::span<const Shape> operands) const;

  EinsumSubscripts s_;
};

}  // namespace kerasrt::layers
