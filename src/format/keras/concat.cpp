// The Concatenate layer and the keras.ops Concatenate/Stack nodes as concat nodes. Inputs of
// different dtypes are first cast to the widest of them, as Keras promotes them.
#include "format/keras/call_args.hpp"
#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config
#include "format/keras/layer_registry.hpp"  // op_node_key

namespace kerasrt::format {
namespace {

int concat(NodeSink& sink, std::span<const int> parts, ir::ConcatAttrs a) {
  DType t = sink.type(parts[0]).dtype;
  for (int v : parts) t = ir::binary_compute_dtype(ir::BinaryFn::kEqual, t, sink.type(v).dtype);
  std::vector<int> in;
  for (int v : parts) in.push_back(sink.cast(v, t));
  return sink.add(ir::OpKind::kConcat, a, {}, std::move(in)).at(0);
}

// The merge layer: its positional tensors, in order.
class ConcatenateLayer : public TypedLayer {
 public:
  explicit ConcatenateLayer(int64_t axis) : axis_(axis) {}
  void check_call(const Call& call) const override {
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": Concatenate does not take the tensor argument '" + r + "'");
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    if (inputs.empty()) throw Error(call.where + ": Concatenate needs at least one input");
    return {concat(sink, inputs, {axis_, false})};
  }

 private:
  int64_t axis_;
};

// keras.ops.concatenate(xs, axis) / keras.ops.stack(x, axis): a list of the call's tensors.
class ConcatNode : public TypedLayer {
 public:
  ConcatNode(int64_t axis, bool stack) : attrs_{axis, stack} {}
  void check_call(const Call& call) const override {
    CallArgs args(call);
    args.tensor_list(0, attrs_.stack ? "x" : "xs");
    args.finish();
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    CallArgs args(call);
    std::vector<int> parts;
    for (int t : args.tensor_list(0, attrs_.stack ? "x" : "xs")) parts.push_back(inputs[t]);
    args.finish();
    return {concat(sink, parts, attrs_)};
  }

 private:
  ir::ConcatAttrs attrs_;
};

std::shared_ptr<const TypedLayer> parse_concat_node(const LayerSpec& spec) {
  Config c(spec);
  if (!c.has("axis") || c.raw("axis").is_null()) c.fail("'axis' None (joining flattened tensors) is not supported");
  return std::make_shared<ConcatNode>(c.integer("axis"), spec.class_name == "Stack");
}

}  // namespace

std::shared_ptr<const TypedLayer> parse_concatenate(const LayerSpec& spec) {
  return std::make_shared<ConcatenateLayer>(Config(spec).integer("axis", -1));
}

TypedParser concat_op_parser(const std::string& key) {
  if (key == op_node_key("Concatenate") || key == op_node_key("Stack")) return parse_concat_node;
  return nullptr;
}

}  // namespace kerasrt::format
