#include "ir/dense.hpp"

#include "ir/rules.hpp"

namespace kerasrt::ir {

std::vector<TensorType> infer_dense(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<DenseAttrs>();
  const Shape& x = in[0].shape;
  if (in[0].dtype != DType::kFloat32) throw Error(std::string("dense takes float32, got ") + dtype_name(in[0].dtype));
  if (x.empty() || (x.back() >= 0 && x.back() != a.in))
    throw Error("dense expects last dimension " + std::to_string(a.in) + ", got input " + shape_to_string(x));
  TensorType out = in[0];
  out.shape.back() = a.activation.fn == UnaryFn::kGlu ? a.units / 2 : a.units;
  return {out};
}

}  // namespace kerasrt::ir
