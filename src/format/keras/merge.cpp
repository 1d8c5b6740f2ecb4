// The element-wise merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum as chains of
// binary nodes over the inputs in order (Average divides the sum by the count at the end).
#include <map>

#include "format/keras/typed_layer.hpp"

namespace kerasrt::format {
namespace {

class MergeLayer : public TypedLayer {
 public:
  MergeLayer(std::string cls, ir::BinaryFn fn, bool average) : cls_(std::move(cls)), fn_(fn), average_(average) {}

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    auto fail = [&](const std::string& what) { throw Error(call.where + ": " + cls_ + " " + what); };
    for (const auto& r : call.roles)
      if (!r.empty()) fail("does not take the tensor argument '" + r + "'");
    if (inputs.empty()) fail("needs at least one input");
    if (cls_ == "Subtract" && inputs.size() != 2) fail("takes exactly 2 inputs, got " + std::to_string(inputs.size()));
    size_t rank = 0;
    DType t = sink.type(inputs[0]).dtype;
    for (int v : inputs) {
      if (sink.type(v).shape.empty()) fail("cannot take a scalar input");
      rank = std::max(rank, sink.type(v).shape.size());
      t = ir::binary_compute_dtype(fn_, t, sink.type(v).dtype);
    }
    // Keras pads lower-rank inputs with size-1 axes after the batch axis, then broadcasts.
    auto operand = [&](int v) {
      int missing = static_cast<int>(rank - sink.type(v).shape.size());
      if (missing > 0) v = sink.add(ir::OpKind::kExpandDims, ir::ExpandDimsAttrs{1, missing}, {}, {v}).at(0);
      return sink.cast(v, t);
    };
    int acc = operand(inputs[0]);
    if (inputs.size() == 1 && acc == inputs[0])  // the layer's output is a value of its own
      acc = sink.add(ir::OpKind::kExpandDims, ir::ExpandDimsAttrs{0, 0}, {}, {acc}).at(0);
    for (size_t k = 1; k < inputs.size(); ++k)
      acc = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{fn_}, {}, {acc, operand(inputs[k])}).at(0);
    if (average_) {
      acc = sink.cast(acc, DType::kFloat32);
      auto n = std::make_shared<Tensor>(Shape{}, std::vector<float>{static_cast<float>(inputs.size())});
      int count = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {ir::Weight{"count", std::move(n)}}, {}).at(0);
      acc = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kDiv}, {}, {acc, count}).at(0);
    }
    return {acc};
  }

 private:
  std::string cls_;
  ir::BinaryFn fn_;
  bool average_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_merge(const LayerSpec& spec) {
  using B = ir::BinaryFn;
  static const std::map<std::string, B> fns = {{"Add", B::kAdd},     {"Subtract", B::kSub}, {"Multiply", B::kMul},
                                               {"Average", B::kAdd}, {"Maximum", B::kMax},  {"Minimum", B::kMin}};
  auto it = fns.find(spec.class_name);
  if (it == fns.end()) spec.fail("not an element-wise merge layer");
  return std::make_shared<MergeLayer>(spec.class_name, it->second, spec.class_name == "Average");
}

}  // namespace kerasrt::format
