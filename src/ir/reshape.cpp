#include <string>

#include "ir/infer.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

std::vector<TensorType> infer_expand_dims(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<ExpandDimsAttrs>();
  if (a.axis < 0 || a.axis > static_cast<int>(in[0].shape.size()) || a.count < 0)
    throw Error("expand_dims at axis " + std::to_string(a.axis) + " of a rank " + std::to_string(in[0].shape.size()) +
                " tensor");
  TensorType out = in[0];
  out.shape.insert(out.shape.begin() + a.axis, static_cast<size_t>(a.count), 1);
  return {out};
}

}  // namespace kerasrt::ir
