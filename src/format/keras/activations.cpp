// keras.activations and the activation layers: Activation, LeakyReLU, ELU, ReLU, PReLU.
#include <cmath>
#include <map>

#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config
#include "format/keras/keras_version.hpp"

namespace kerasrt::format {

ir::Activation parse_activation(const Json& j, const LayerSpec& spec) {
  const std::string& where = spec.where;
  std::string name;
  if (j.is_null()) return {};
  if (j.is_string()) {
    name = j.get<std::string>();
  } else if (j.is_object()) {
    // Keras 3 serializes functions as {"class_name": "function", "config": "relu", ...} and
    // activation objects as {"class_name": "ReLU", "config": {...}}.
    const Json& c = j.contains("config") ? j["config"] : Json();
    if (c.is_string()) name = c.get<std::string>();
    else if (j.contains("class_name") && j["class_name"].is_string()) name = j["class_name"].get<std::string>();
  }
  using F = ir::UnaryFn;
  static const std::map<std::string, F> fns = {
      {"linear", F::kIdentity}, {"relu", F::kRelu}, {"relu6", F::kRelu6}, {"sigmoid", F::kSigmoid},
      {"hard_sigmoid", F::kHardSigmoid}, {"tanh", F::kTanh}, {"softmax", F::kSoftmax},
      {"log_softmax", F::kLogSoftmax}, {"elu", F::kElu}, {"selu", F::kSelu}, {"softplus", F::kSoftplus},
      {"softsign", F::kSoftsign}, {"silu", F::kSilu}, {"swish", F::kSilu}, {"hard_silu", F::kHardSilu},
      {"hard_swish", F::kHardSilu}, {"gelu", F::kGelu}, {"exponential", F::kExp},
      {"leaky_relu", F::kLeakyRelu}, {"mish", F::kMish}, {"celu", F::kCelu}, {"log_sigmoid", F::kLogSigmoid},
      {"tanh_shrink", F::kTanhShrink}, {"soft_shrink", F::kSoftShrink}, {"hard_shrink", F::kHardShrink},
      {"hard_tanh", F::kHardTanh}, {"sparse_plus", F::kSparsePlus}, {"sparse_sigmoid", F::kSparseSigmoid},
      {"squareplus", F::kSquarePlus}, {"threshold", F::kThreshold}, {"glu", F::kGlu}, {"sparsemax", F::kSparsemax},
  };
  auto it = fns.find(name);
  if (it == fns.end()) throw Error(where + ": unsupported activation " + (name.empty() ? j.dump() : "'" + name + "'"));
  ir::Activation a{it->second, 0.f, 0.f};
  const KerasSemantics semantics = keras_semantics(spec);
  switch (a.fn) {  // defaults of the keras.activations functions
    case F::kHardSigmoid: a.alpha = semantics.hard_sigmoid_slope, a.beta = 0.5f; break;
    case F::kSparsemax: a.alpha = semantics.sparsemax_summed_threshold ? 1.f : 0.f; break;
    case F::kLeakyRelu: a.alpha = 0.2f; break;
    case F::kElu: case F::kCelu: a.alpha = 1.f; break;
    case F::kSoftShrink: case F::kHardShrink: a.alpha = 0.5f; break;
    case F::kSquarePlus: a.alpha = 4.f; break;
    default: break;
  }
  return a;
}

std::shared_ptr<const TypedLayer> parse_activation_layer(const LayerSpec& spec) {
  Config c(spec);
  ir::Activation a = c.has("activation") ? parse_activation(c.raw("activation"), spec) : ir::Activation{};
  if (a.fn == ir::UnaryFn::kGlu) spec.fail("activation 'glu' is not supported as a layer yet");
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kUnary, a);
}

std::shared_ptr<const TypedLayer> parse_leaky_relu(const LayerSpec& spec) {
  Config c(spec);
  // Keras 3 calls the slope negative_slope (default 0.3); Keras 2 called it alpha.
  float slope = static_cast<float>(c.number("negative_slope", c.number("alpha", 0.3)));
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kUnary, ir::UnaryAttrs{ir::UnaryFn::kLeakyRelu, slope, 0.f});
}

// keras.layers.ReLU(max_value, negative_slope, threshold): plain relu, relu6 and leaky_relu where
// the parameters make it one of those, relu_general otherwise.
std::shared_ptr<const TypedLayer> parse_relu(const LayerSpec& spec) {
  Config c(spec);
  const bool capped = c.has("max_value");
  const double max_value = capped ? c.number("max_value") : 0.0;
  const double slope = c.number("negative_slope", 0.0), threshold = c.number("threshold", 0.0);
  ir::UnaryAttrs a;
  if (threshold == 0.0 && slope == 0.0 && !capped) a.fn = ir::UnaryFn::kRelu;
  else if (threshold == 0.0 && slope == 0.0 && max_value == 6.0) a.fn = ir::UnaryFn::kRelu6;
  else if (threshold == 0.0 && !capped && slope > 0.0) a = {ir::UnaryFn::kLeakyRelu, static_cast<float>(slope), 0.f};
  else
    a = {ir::UnaryFn::kReluGeneral, static_cast<float>(slope), capped ? static_cast<float>(max_value) : INFINITY,
         static_cast<float>(threshold)};
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kUnary, a);
}

namespace {

// PReLU: a float32 prelu node against its alpha (the input's shape without the batch axis, shared
// axes 1), which broadcasts over the batch.
class PReLULayer : public TypedLayer {
 public:
  explicit PReLULayer(ir::Weight alpha) : alpha_(std::move(alpha)) {}
  int64_t param_count() const override { return alpha_.value->size(); }
  void check_call(const Call& call) const override {
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": PReLU does not take the tensor argument '" + r + "'");
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    if (inputs.size() != 1) throw Error(call.where + ": PReLU takes 1 input, got " + std::to_string(inputs.size()));
    int x = sink.cast(inputs[0], DType::kFloat32);
    const Shape& s = sink.type(x).shape;
    const Shape& alpha = alpha_.value->shape;
    // The input must be what alpha was built for: broadcasting alone would also take other ranks.
    bool fits = s.size() == alpha.size() + 1;
    for (size_t i = 0; fits && i < alpha.size(); ++i) fits = alpha[i] == 1 || s[i + 1] < 0 || s[i + 1] == alpha[i];
    if (!fits)
      throw Error(call.where + ": PReLU alpha " + shape_to_string(alpha) + " does not fit input " + shape_to_string(s));
    int a = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {alpha_}, {}).at(0);
    return sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kPrelu}, {}, {x, a});
  }

 private:
  ir::Weight alpha_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_prelu(const LayerSpec& spec) {
  Weights::Entry e = spec.weights.take_entry("alpha");
  return std::make_shared<PReLULayer>(weight("alpha", std::move(e.data), std::move(e.shape)));
}

std::shared_ptr<const TypedLayer> parse_elu(const LayerSpec& spec) {
  float alpha = static_cast<float>(Config(spec).number("alpha", 1.0));
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kUnary, ir::UnaryAttrs{ir::UnaryFn::kElu, alpha, 0.f});
}

}  // namespace kerasrt::format
