#include "ir/infer.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

std::vector<TensorType> infer_gather(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<GatherAttrs>();
  if (in[0].dtype != DType::kInt32 && in[0].dtype != DType::kInt64)
    throw Error(std::string("gather takes int32 or int64 indices, got ") + dtype_name(in[0].dtype));
  if (node.weights.size() != 1 || node.weight(0).shape != Shape{a.rows, a.dim} ||
      node.weight(0).dtype != DType::kFloat32)
    throw Error("gather needs a float32 table of shape (" + std::to_string(a.rows) + ", " + std::to_string(a.dim) + ")");
  Shape out = in[0].shape;
  out.push_back(a.dim);
  return {{out, DType::kFloat32}};
}

}  // namespace kerasrt::ir
