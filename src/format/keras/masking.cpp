// Masking: x * any(x != mask_value over the last axis), in float32, as Keras computes its output.
// The mask itself reaches later layers through the NotEqual/Any op nodes Keras 3 configs carry.
#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
namespace {

class MaskingLayer : public TypedLayer {
 public:
  explicit MaskingLayer(float mask_value)
      : mask_value_{"value", std::make_shared<const Tensor>(Shape{}, std::vector<float>{mask_value})} {}
  void check_call(const Call& call) const override {
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": Masking does not take the tensor argument '" + r + "'");
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    if (inputs.size() != 1) throw Error(call.where + ": Masking takes 1 input, got " + std::to_string(inputs.size()));
    int x = sink.cast(inputs[0], DType::kFloat32);
    const int rank = static_cast<int>(sink.type(x).shape.size());
    if (rank == 0) throw Error(call.where + ": Masking needs an input of rank 1 or more");
    int m = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {mask_value_}, {}).at(0);
    int differs = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kNotEqual}, {}, {x, m}).at(0);
    ir::ReduceAttrs any;
    any.fn = ir::ReduceFn::kAny;
    any.axes = {rank - 1};
    any.keepdims = true;
    int keep = sink.add(ir::OpKind::kReduce, any, {}, {differs}).at(0);
    return sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kMul}, {}, {x, sink.cast(keep, DType::kFloat32)});
  }

 private:
  ir::Weight mask_value_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_masking(const LayerSpec& spec) {
  Config c(spec);
  if (c.has("mask_value") && !c.raw("mask_value").is_number())
    c.fail("'mask_value' should be a number, got " + c.raw("mask_value").dump().substr(0, 200));
  return std::make_shared<MaskingLayer>(static_cast<float>(c.number("mask_value", 0.0)));
}

}  // namespace kerasrt::format
