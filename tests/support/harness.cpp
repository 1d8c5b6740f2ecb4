// The single-layer harness's make_op, built the way the graph builder builds a layer.
#include "harness.hpp"

#include "format/keras/typed_op.hpp"
#include "format/keras/layer_registry.hpp"

namespace kerasrt::testing {

std::shared_ptr<const Op> make_op(const nlohmann::json& layer_json, std::vector<Weights::Entry> weights,
                                  const Call& call) {
  Weights w(std::move(weights), "test");
  Call c = call;
  if (c.roles.empty()) c.roles.assign(1, "");
  if (c.where.empty()) c.where = "test";
  format::LayerKey key = format::layer_key(layer_json);
  format::TypedParser parser = format::user_registered(key) ? nullptr : format::typed_parser(key.key);
  std::shared_ptr<const format::TypedLayer> typed = parser ? parser(format::layer_spec(layer_json, w, "test")) : nullptr;
  std::shared_ptr<const Op> op = typed ? std::make_shared<format::TypedLayerOp>(std::move(typed), c)
                                       : format::make_layer(layer_json, w, "test")->bind(c);
  if (w.remaining() != 0) throw Error("test: layer left " + std::to_string(w.remaining()) + " weights unused");
  return op;
}

}  // namespace kerasrt::testing
