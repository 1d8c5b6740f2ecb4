// Dense: config and weights to a dense ir node.
#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
namespace {

// The layer's compute dtype from its dtype policy ("float32", "mixed_bfloat16", ...).
bool computes_in_bfloat16(const Config& c) {
  if (!c.has("dtype")) return false;
  const Json& d = c.raw("dtype");
  std::string name = d.is_string() ? d.get<std::string>()
                     : d.is_object() && d.contains("config") && d["config"].is_object()
                         ? d["config"].value("name", "float32")
                         : "float32";
  return name == "mixed_bfloat16" || name == "bfloat16";
}

}  // namespace

std::shared_ptr<const TypedLayer> parse_dense(const LayerSpec& spec) {
  Config c(spec);
  ir::DenseAttrs a;
  a.units = c.integer("units", c.integer("output_dim", -1));  // Keras 1 called it output_dim
  if (a.units <= 0) c.fail("'units' must be positive");
  a.activation = c.has("activation") ? parse_activation(c.raw("activation"), spec) : ir::Activation{};
  if (a.activation.fn == ir::UnaryFn::kGlu) c.fail("activation 'glu' is not supported on Dense");
  const Weights::Entry* k = spec.weights.peek();
  if (!k || k->shape.size() != 2) c.fail("missing or malformed kernel weight");
  a.in = k->shape[0];
  std::vector<ir::Weight> w{stored_weight(spec.weights, "kernel", "kernel", {a.in, a.units})};
  a.has_bias = c.flag("use_bias", c.flag("bias", true));
  if (a.has_bias) w.push_back(stored_weight(spec.weights, "bias", "bias", {a.units}));
  a.bfloat16_compute = computes_in_bfloat16(c);
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kDense, a, std::move(w));
}

}  // namespace kerasrt::format
