// SimpleRNN, LSTM, GRU and Keras 2's CuDNNLSTM/CuDNNGRU: config and weights to one rnn ir node per
// call. Keras 1 spellings and weight layouts were converted before (keras1_compat, weight_source).
#include "format/keras/typed_layer.hpp"
#include "ir/recurrent.hpp"
#include "layers/common.hpp"  // Config, recurrent_call_tensors

namespace kerasrt::format {
namespace {

// An activation given by `key`; a missing key means `fallback`, an explicit null means linear.
ir::Activation cell_activation(const layers::Config& c, const char* key, const char* legacy_key, const char* fallback) {
  const Json& j = c.spec().config;
  const char* k = j.contains(key) ? key : (legacy_key && j.contains(legacy_key) ? legacy_key : nullptr);
  ir::Activation a = parse_activation(k ? j[k] : Json(fallback), c.spec().where);
  if (a.fn == ir::UnaryFn::kGlu) c.fail("activation 'glu' is not supported in a recurrent cell");
  return a;
}

class RnnLayer : public TypedLayer {
 public:
  RnnLayer(std::string class_name, ir::RnnAttrs attrs, std::vector<ir::Weight> weights)
      : class_name_(std::move(class_name)), attrs_(attrs), weights_(std::move(weights)) {}

  int64_t param_count() const override {
    int64_t n = 0;
    for (const ir::Weight& w : weights_) n += w.value->size();
    return n;
  }

  void check_call(const Call& call) const override { tensors(call); }

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    layers::RecurrentCallTensors t = tensors(call);
    ir::RnnAttrs a = attrs_;
    std::vector<int> in{inputs[t.sequence]};
    for (int s : t.states) in.push_back(inputs[s]);
    a.initial_states = !t.states.empty();
    a.has_mask = t.mask >= 0;
    if (a.has_mask) in.push_back(sink.cast(inputs[t.mask], DType::kFloat32));  // nonzero: the step counts
    return sink.add(ir::OpKind::kRnn, a, weights_, std::move(in));
  }

 private:
  layers::RecurrentCallTensors tensors(const Call& call) const {
    layers::RecurrentCallTensors t = layers::recurrent_call_tensors(call, class_name_);
    const size_t want = static_cast<size_t>(ir::rnn_state_count(attrs_.cell));
    if (!t.states.empty() && t.states.size() != want)
      throw Error(call.where + ": " + class_name_ + " takes " + std::to_string(want) + " initial state(s), got " +
                  std::to_string(t.states.size()));
    return t;
  }

  std::string class_name_;
  ir::RnnAttrs attrs_;
  std::vector<ir::Weight> weights_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_rnn(const LayerSpec& spec) {
  layers::Config c(spec);
  const std::string& cls = spec.class_name;
  const bool cudnn = cls == "CuDNNLSTM" || cls == "CuDNNGRU";
  ir::RnnAttrs a;
  a.cell = cls == "SimpleRNN" ? ir::RnnCell::kSimple
           : cls == "LSTM" || cls == "CuDNNLSTM" ? ir::RnnCell::kLstm
                                                 : ir::RnnCell::kGru;
  a.return_sequences = c.flag("return_sequences", false);
  a.return_state = c.flag("return_state", false);
  a.go_backwards = c.flag("go_backwards", false);
  a.zero_output_for_mask = c.flag("zero_output_for_mask", false);
  if (c.flag("time_major", false)) c.fail("time_major=True is not supported");
  // stateful: at inference each run starts from zero states, as a freshly loaded Keras model does.
  a.units = c.integer("units", c.integer("output_dim", -1));  // Keras 1 called it output_dim
  if (a.units <= 0) c.fail("'units' must be positive");
  if (cudnn) {  // fixed activations
    a.activation = {ir::UnaryFn::kTanh};
    a.recurrent_activation = {ir::UnaryFn::kSigmoid};
  } else {
    a.activation = cell_activation(c, "activation", nullptr, "tanh");
    a.recurrent_activation = a.cell == ir::RnnCell::kSimple
                                 ? ir::Activation{}
                                 : cell_activation(c, "recurrent_activation", "inner_activation", "sigmoid");
  }
  const Weights::Entry* k = spec.weights.peek();
  if (!k || k->shape.size() != 2) c.fail("missing or malformed kernel weight");
  a.in = k->shape[0];
  const int64_t u = a.units, g = ir::rnn_gates(a.cell) * u;
  std::vector<ir::Weight> w{weight("kernel", spec.weights.take("kernel", {a.in, g}), {a.in, g}),
                            weight("recurrent_kernel", spec.weights.take("recurrent_kernel", {u, g}), {u, g})};
  a.has_bias = cudnn || c.flag("use_bias", c.flag("bias", true));
  if (a.cell == ir::RnnCell::kGru) {
    if (cudnn) {
      a.reset_after = true;
    } else if (c.has("reset_after")) {
      a.reset_after = c.flag("reset_after", true);
    } else {
      // Configs from before reset_after existed used the reset-before form with a (3*units,) bias.
      const Weights::Entry* b = spec.weights.peek();
      a.reset_after = a.has_bias && b && b->shape.size() == 2;
    }
  }
  if (a.has_bias) {
    if (a.cell == ir::RnnCell::kLstm && cudnn) {
      // CuDNNLSTM keeps an input and a recurrent bias; the cell only ever uses their sum.
      std::vector<float> both = spec.weights.take("bias", {2 * g});
      std::vector<float> sum(both.begin(), both.begin() + g);
      for (int64_t i = 0; i < g; ++i) sum[i] += both[g + i];
      w.push_back(weight("bias", std::move(sum), {g}));
    } else if (a.cell == ir::RnnCell::kGru && a.reset_after) {
      std::vector<float> b = cudnn ? spec.weights.take("bias", {2 * g}) : spec.weights.take("bias", {2, g});
      w.push_back(weight("bias", std::move(b), {2, g}));
    } else {
      w.push_back(weight("bias", spec.weights.take("bias", {g}), {g}));
    }
  }
  return std::make_shared<RnnLayer>(cls, a, std::move(w));
}

}  // namespace kerasrt::format
