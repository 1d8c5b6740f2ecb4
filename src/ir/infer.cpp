#include "ir/infer.hpp"

#include <kerasrt/op.hpp>

namespace kerasrt::ir {
namespace {

std::vector<TensorType> infer_custom(const Node& node, std::span<const TensorType> inputs) {
  std::vector<Shape> shapes;
  shapes.reserve(inputs.size());
  for (const TensorType& t : inputs) shapes.push_back(t.shape);
  std::vector<TensorType> out;
  for (Shape& s : node.as<CustomAttrs>().op->output_shapes(shapes)) out.push_back({std::move(s), DType::kFloat32});
  return out;
}

}  // namespace

const char* op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::kCustom: return "custom";
    case OpKind::kCount: break;
  }
  return "?";
}

std::vector<TensorType> infer_types(const Node& node, std::span<const TensorType> inputs) {
  switch (node.kind) {
    case OpKind::kCustom: return infer_custom(node, inputs);
    case OpKind::kCount: break;
  }
  throw Error("unknown op kind");
}

}  // namespace kerasrt::ir
