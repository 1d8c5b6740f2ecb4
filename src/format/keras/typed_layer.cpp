#include "format/keras/typed_layer.hpp"

#include <map>

namespace kerasrt::format {

int NodeSink::cast(int value, DType to) {
  if (type(value).dtype == to) return value;
  return add(ir::OpKind::kCast, ir::CastAttrs{to}, {}, {value}).at(0);
}

SingleNodeLayer::SingleNodeLayer(ir::OpKind kind, ir::Attrs attrs, std::vector<ir::Weight> weights)
    : kind_(kind), attrs_(std::move(attrs)), weights_(std::move(weights)) {}

int64_t SingleNodeLayer::param_count() const {
  int64_t n = 0;
  for (const ir::Weight& w : weights_) n += w.value->size();
  return n;
}

std::vector<int> SingleNodeLayer::call(NodeSink& sink, const Call& call, std::span<const int> inputs) const {
  for (const auto& r : call.roles)
    if (!r.empty())
      throw Error(call.where + ": keyword argument '" + r + "' with a tensor is not supported by this layer");
  return sink.add(kind_, attrs_, weights_, {inputs.begin(), inputs.end()});
}

ir::Weight weight(std::string name, std::vector<float> values, Shape shape) {
  return {std::move(name), std::make_shared<const Tensor>(std::move(shape), std::move(values))};
}

TypedParser typed_parser(const std::string& key) {
  static const std::map<std::string, TypedParser> parsers = {
      {"Dense", parse_dense},
      {"Activation", parse_activation_layer},
      {"LeakyReLU", parse_leaky_relu},
      {"ELU", parse_elu},
  };
  auto it = parsers.find(key);
  return it == parsers.end() ? nullptr : it->second;
}

}  // namespace kerasrt::format
