// Layer wrappers: Bidirectional (two rnn walks, outputs merged), TimeDistributed (time folded into
// the batch around the wrapped layer's nodes) and SpectralNormalization (the wrapped layer's nodes).
// A wrapped layer without a typed form (a user registration, a class not typed yet) is one custom
// node running its kerasrt::Op. Bidirectional takes the built-in recurrent layers, all typed.
#include "format/keras/call_args.hpp"
#include "format/keras/config.hpp"
#include "format/keras/layer_registry.hpp"
#include "format/keras/recurrent.hpp"
#include "ir/concat.hpp"
#include "ir/shape.hpp"

namespace kerasrt::format {
namespace {

// The parser of a wrapped layer's class, or null (no typed form, or a user registration wins).
TypedParser sublayer_parser(const Json& layer_json) {
  LayerKey key = layer_key(layer_json);
  return user_registered(key) ? nullptr : typed_parser(key.key);
}

std::shared_ptr<const TypedLayer> parse_sublayer(const LayerSpec& outer, const Json& layer_json) {
  TypedParser p = sublayer_parser(layer_json);
  return p ? p(layer_spec(layer_json, outer.weights, outer.where, saved_by(outer))) : nullptr;
}

// A wrapped layer that runs as a kerasrt::Op: one custom node over float32 inputs.
class OpLayer : public TypedLayer {
 public:
  OpLayer(std::shared_ptr<const Op> op, std::string cls) : op_(std::move(op)), cls_(std::move(cls)) {}
  int64_t param_count() const override { return op_->param_count(); }
  void check_call(const Call& call) const override { op_->bind(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    std::vector<int> in;
    for (int v : inputs) in.push_back(sink.cast(v, DType::kFloat32));
    return sink.add(ir::OpKind::kCustom, ir::CustomAttrs{op_->bind(call), cls_}, {}, std::move(in));
  }

 private:
  std::shared_ptr<const Op> op_;
  std::string cls_;
};

// The wrapped layer, typed when its class has a typed form, else as its Op (a declining parser
// takes no weights).
std::shared_ptr<const TypedLayer> any_sublayer(const LayerSpec& outer, const Json& layer_json) {
  if (auto typed = parse_sublayer(outer, layer_json)) return typed;
  const std::string cls = layer_json.contains("class_name") && layer_json["class_name"].is_string()
                              ? layer_json["class_name"].get<std::string>()
                              : std::string();
  return std::make_shared<OpLayer>(make_layer(layer_json, outer.weights, outer.where, saved_by(outer)), cls);
}

// A call of one positional tensor, for the wrapped layer.
Call single_tensor_call(const std::string& where) {
  Call c;
  c.where = where;
  c.roles = {""};
  c.args = Json::array({tensor_placeholder(0)});
  return c;
}

// ---- Bidirectional ------------------------------------------------------------------------------
enum class Merge { kConcat, kSum, kMul, kAve, kNone };

class BidirectionalLayer : public TypedLayer {
 public:
  BidirectionalLayer(std::shared_ptr<const RnnLayer> forward, std::shared_ptr<const RnnLayer> backward,
                     RnnLayer::Walk fw, RnnLayer::Walk bw, Merge merge)
      : forward_(std::move(forward)), backward_(std::move(backward)), fw_(fw), bw_(bw), merge_(merge) {}

  int64_t param_count() const override { return forward_->param_count() + backward_->param_count(); }

  void check_call(const Call& call) const override { tensors(call); }

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    RecurrentCallTensors t = tensors(call);
    const size_t half = t.states.size() / 2;
    // Each half sees the sequence, the mask and its half of the initial states.
    auto run = [&](const RnnLayer& layer, const RnnLayer::Walk& walk, size_t first_state) {
      Call c = single_tensor_call(call.where);
      std::vector<int> in{inputs[t.sequence]};
      if (t.mask >= 0) {
        c.kwargs["mask"] = tensor_placeholder(static_cast<int>(in.size()));
        c.roles.push_back("mask");
        in.push_back(inputs[t.mask]);
      }
      if (half > 0) {
        Json list = Json::array();
        for (size_t k = 0; k < half; ++k) {
          list.push_back(tensor_placeholder(static_cast<int>(in.size())));
          c.roles.push_back("initial_state");
          in.push_back(inputs[t.states[first_state + k]]);
        }
        c.kwargs["initial_state"] = list;
      }
      return layer.call_with(sink, c, in, walk);
    };
    std::vector<int> f = run(*forward_, fw_, 0);
    std::vector<int> b = run(*backward_, bw_, half);
    std::vector<int> out;
    const int y = f[0], yr = b[0];
    check_merge(sink.type(y).shape, sink.type(yr).shape);
    switch (merge_) {
      case Merge::kNone:
        out = {y, yr};
        break;
      case Merge::kConcat:
        out = sink.add(ir::OpKind::kConcat, ir::ConcatAttrs{-1, false}, {}, {y, yr});
        break;
      case Merge::kSum:
        out = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kAdd}, {}, {y, yr});
        break;
      case Merge::kMul:
        out = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kMul}, {}, {y, yr});
        break;
      case Merge::kAve: {
        int sum = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kAdd}, {}, {y, yr}).at(0);
        auto two = std::make_shared<Tensor>(Shape{}, std::vector<float>{2.f});
        int c = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {ir::Weight{"two", std::move(two)}}, {}).at(0);
        out = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kDiv}, {}, {sum, c});
        break;
      }
    }
    // Then the forward layer's states, then the backward layer's.
    out.insert(out.end(), f.begin() + 1, f.end());
    out.insert(out.end(), b.begin() + 1, b.end());
    return out;
  }

 private:
  RecurrentCallTensors tensors(const Call& call) const {
    RecurrentCallTensors t = recurrent_call_tensors(call, "Bidirectional");
    if (t.states.size() % 2 != 0)
      throw Error(call.where + ": Bidirectional needs as many initial states for each direction, got " +
                  std::to_string(t.states.size()) + " in all");
    return t;
  }

  // The halves' outputs agree but for the last axis, which an element-wise merge needs equal too
  // (no broadcasting).
  void check_merge(const Shape& y, const Shape& yr) const {
    auto agree = [](int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; };
    auto mismatch = [&](const std::string& what) {
      throw Error("Bidirectional: forward output " + shape_to_string(y) + " and backward output " +
                  shape_to_string(yr) + " " + what);
    };
    if (y.size() != yr.size() || y.empty()) mismatch("differ in rank");
    for (size_t i = 0; i + 1 < y.size(); ++i)
      if (!agree(y[i], yr[i])) mismatch("do not match");
    if (merge_ != Merge::kConcat && merge_ != Merge::kNone && !agree(y.back(), yr.back()))
      mismatch("cannot be merged element-wise");
  }

  std::shared_ptr<const RnnLayer> forward_, backward_;
  RnnLayer::Walk fw_, bw_;
  Merge merge_;
};

bool is_typed_recurrent(const Json& layer_json) {
  static const char* kClasses[] = {"SimpleRNN", "LSTM", "GRU", "CuDNNLSTM", "CuDNNGRU", "RNN",
                                   "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"};
  LayerKey key = layer_key(layer_json);
  if (user_registered(key)) return false;
  for (const char* c : kClasses)
    if (key.key == c) return true;
  return false;
}

// ---- TimeDistributed ------------------------------------------------------------------------------
class TimeDistributedLayer : public TypedLayer {
 public:
  explicit TimeDistributedLayer(std::shared_ptr<const TypedLayer> inner) : inner_(std::move(inner)) {}
  int64_t param_count() const override { return inner_->param_count(); }

  void check_call(const Call& call) const override { data_index(call); }

  // A mask only reaches layers that take one; the per-step layers Keras allows here ignore it.
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    const int x = inputs[data_index(call)];
    const Shape& s = sink.type(x).shape;
    if (s.size() < 3)
      throw Error(call.where + ": TimeDistributed expects an input of rank 3 or more (batch, time, ...), got " +
                  shape_to_string(s));
    ir::ReshapeAttrs fold;
    fold.time_fold = ir::TimeFold::kFold;
    const int folded = sink.add(ir::OpKind::kReshape, fold, {}, {x}).at(0);
    const int in[1] = {folded};
    std::vector<int> y = inner_->call(sink, single_tensor_call(call.where), in);
    if (y.size() != 1 || sink.type(y[0]).shape.empty())
      throw Error(call.where + ": TimeDistributed supports wrapped layers with one batched output");
    ir::ReshapeAttrs unfold;
    unfold.time_fold = ir::TimeFold::kUnfold;
    return sink.add(ir::OpKind::kReshape, unfold, {}, {y[0], x});
  }

 private:
  static int data_index(const Call& call) {
    int data = -1;
    for (size_t i = 0; i < call.roles.size(); ++i) {
      const std::string& r = call.roles[i];
      if (r.empty() && data < 0) data = static_cast<int>(i);
      else if (r != "mask") throw Error(call.where + ": TimeDistributed takes one input tensor (and an optional mask)");
    }
    if (data < 0) throw Error(call.where + ": TimeDistributed was called without an input");
    return data;
  }

  std::shared_ptr<const TypedLayer> inner_;
};

// ---- SpectralNormalization --------------------------------------------------------------------
// At inference the wrapped layer runs with its stored kernel (the normalized kernel is written back
// during training). The wrapper stores vector_u (1, kernel.shape[-1]) for the power iteration,
// and in .keras/.weights.h5 files also a second reference to the wrapped kernel, before the
// wrapped layer's own weights; legacy .h5 files list the wrapped layer's weights, then vector_u.
class SpectralNormLayer : public TypedLayer {
 public:
  SpectralNormLayer(std::shared_ptr<const TypedLayer> inner, int64_t extra_params)
      : inner_(std::move(inner)), extra_params_(extra_params) {}
  int64_t param_count() const override { return inner_->param_count() + extra_params_; }
  void check_call(const Call& call) const override { inner_->check_call(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    return inner_->call(sink, call, inputs);
  }

 private:
  std::shared_ptr<const TypedLayer> inner_;
  int64_t extra_params_;
};

// Keras 3 weight files name variables by path: the wrapper's own ".../vars/i" come before the
// wrapped layer's ".../layer/vars/i".
bool own_vars_first(const std::string& name) {
  size_t at = name.rfind("/vars/");
  if (at == std::string::npos) return false;
  const std::string sub = "/layer";
  return !(at >= sub.size() && name.compare(at - sub.size(), sub.size(), sub) == 0) && name.rfind("layer/vars/", 0) != 0;
}

}  // namespace

std::shared_ptr<const TypedLayer> parse_bidirectional(const LayerSpec& spec) {
  Config c(spec);
  const Json& layer = c.raw("layer");
  if (!layer.is_object() || !layer.contains("config") || !layer["config"].is_object())
    c.fail("'layer' should be a serialized layer");
  std::string mode = "concat";
  if (spec.config.contains("merge_mode")) {
    const Json& m = spec.config["merge_mode"];
    if (m.is_null()) mode = "none";
    else if (m.is_string()) mode = m.get<std::string>();
    else c.fail("'merge_mode' should be a string or null");
  }
  Merge merge = Merge::kConcat;
  if (mode == "concat") merge = Merge::kConcat;
  else if (mode == "sum") merge = Merge::kSum;
  else if (mode == "mul") merge = Merge::kMul;
  else if (mode == "ave") merge = Merge::kAve;
  else if (mode == "none") merge = Merge::kNone;
  else c.fail("unknown merge_mode '" + mode + "'");

  auto flag_of = [&](const Json& l, const char* key) { return Config(spec, l["config"]).flag(key, false); };
  Json forward = layer;
  Json backward;
  if (spec.config.contains("backward_layer") && !spec.config["backward_layer"].is_null()) {
    backward = spec.config["backward_layer"];
    if (!backward.is_object() || !backward.contains("config") || !backward["config"].is_object())
      c.fail("'backward_layer' should be a serialized layer");
  } else {
    // Keras builds the backward layer from the forward layer's config, walking the other way.
    backward = layer;
    backward["config"]["go_backwards"] = !flag_of(forward, "go_backwards");
  }
  if (!is_typed_recurrent(forward) || !is_typed_recurrent(backward))
    c.fail("wraps a layer that is not a built-in recurrent layer (SimpleRNN, LSTM, GRU, ConvLSTM*, RNN)");
  if (flag_of(forward, "go_backwards") == flag_of(backward, "go_backwards"))
    c.fail("the forward and backward layers must differ in go_backwards");
  for (const char* key : {"return_sequences", "return_state"})
    if (flag_of(forward, key) != flag_of(backward, key))
      c.fail(std::string("the forward and backward layers must agree on ") + key);
  const bool return_sequences = flag_of(forward, "return_sequences");

  // Forward weights come first in the stream.
  auto f = std::dynamic_pointer_cast<const RnnLayer>(parse_sublayer(spec, forward));
  auto b = f ? std::dynamic_pointer_cast<const RnnLayer>(parse_sublayer(spec, backward)) : nullptr;
  if (!f || !b) c.fail("the wrapped layers are not recurrent layers kerasrt can run");
  RnnLayer::Walk fw = f->walk(), bw = b->walk();
  // Keras forces masked steps of returned sequences to zeros in both directions, and turns the
  // backward layer's sequence around.
  if (forward["config"].contains("return_sequences")) fw.zero_output_for_mask = return_sequences;
  if (backward["config"].contains("return_sequences")) bw.zero_output_for_mask = return_sequences;
  bw.reverse_output = return_sequences;
  return std::make_shared<BidirectionalLayer>(std::move(f), std::move(b), fw, bw, merge);
}

std::shared_ptr<const TypedLayer> parse_time_distributed(const LayerSpec& spec) {
  Config c(spec);
  const Json& layer = c.raw("layer");
  if (!layer.is_object()) c.fail("'layer' should be a serialized layer");
  return std::make_shared<TimeDistributedLayer>(any_sublayer(spec, layer));
}

std::shared_ptr<const TypedLayer> parse_spectral_norm(const LayerSpec& spec) {
  Config c(spec);
  if (c.integer("power_iterations", 1) <= 0) c.fail("'power_iterations' must be positive");
  const Json& layer = c.raw("layer");
  if (!layer.is_object()) c.fail("'layer' should be a serialized layer");
  const Weights::Entry* first = spec.weights.peek();
  if (!first) c.fail("missing weights (the wrapped kernel and vector_u)");
  std::shared_ptr<const TypedLayer> inner;
  int64_t units = -1;
  if (own_vars_first(first->name)) {
    Shape kernel_shape = spec.weights.take_entry("kernel").shape;
    if (kernel_shape.empty()) c.fail("the wrapped kernel is a scalar");
    units = kernel_shape.back();
    spec.weights.take("vector_u", {1, units});
    inner = any_sublayer(spec, layer);
  } else {
    inner = any_sublayer(spec, layer);
    const Weights::Entry* u = spec.weights.peek();
    if (!u || u->shape.size() != 2 || u->shape[0] != 1) c.fail("missing or malformed vector_u weight");
    units = u->shape[1];
    spec.weights.take("vector_u", {1, units});
  }
  return std::make_shared<SpectralNormLayer>(std::move(inner), units);
}

}  // namespace kerasrt::format
