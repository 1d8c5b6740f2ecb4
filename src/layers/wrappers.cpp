// Layer wrappers: Bidirectional (two recurrent layers over the sequence, outputs merged) and
// TimeDistributed (one layer applied to every time step).
#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// A call's input shapes / views picked by index.
template <typename T>
std::vector<T> pick(std::span<const T> all, const std::vector<int>& which) {
  std::vector<T> out;
  for (int i : which) out.push_back(all[i]);
  return out;
}

// ---- Bidirectional ------------------------------------------------------------------------------
class Bidirectional : public Op {
 public:
  enum class Merge { kConcat, kSum, kMul, kAve, kNone };

  explicit Bidirectional(const LayerSpec& spec) {
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
    if (mode == "concat") merge_ = Merge::kConcat;
    else if (mode == "sum") merge_ = Merge::kSum;
    else if (mode == "mul") merge_ = Merge::kMul;
    else if (mode == "ave") merge_ = Merge::kAve;
    else if (mode == "none") merge_ = Merge::kNone;
    else c.fail("unknown merge_mode '" + mode + "'");

    Json forward = layer;
    Json backward;
    if (spec.config.contains("backward_layer") && !spec.config["backward_layer"].is_null()) {
      backward = spec.config["backward_layer"];
      if (!backward.is_object() || !backward.contains("config") || !backward["config"].is_object())
        c.fail("'backward_layer' should be a serialized layer");
    } else {
      // Keras builds the backward layer from the forward layer's config, walking the other way.
      backward = layer;
      backward["config"]["go_backwards"] = !flag_of(c, forward, "go_backwards");
    }
    if (flag_of(c, forward, "go_backwards") == flag_of(c, backward, "go_backwards"))
      c.fail("the forward and backward layers must differ in go_backwards");
    for (const char* key : {"return_sequences", "return_state"})
      if (flag_of(c, forward, key) != flag_of(c, backward, key))
        c.fail(std::string("the forward and backward layers must agree on ") + key);
    return_sequences_ = flag_of(c, forward, "return_sequences");
    return_state_ = flag_of(c, forward, "return_state");
    // Keras forces masked steps of returned sequences to zeros in both directions.
    for (Json* j : {&forward, &backward})
      if ((*j)["config"].contains("return_sequences")) (*j)["config"]["zero_output_for_mask"] = return_sequences_;

    forward_ = spec.make_sublayer(forward);   // forward weights come first in the stream
    backward_ = spec.make_sublayer(backward);
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    RecurrentCallTensors tensors = recurrent_call_tensors(call, "Bidirectional");
    const int seq = tensors.sequence, mask = tensors.mask;
    const std::vector<int>& states = tensors.states;
    if (states.size() % 2 != 0)
      throw Error(call.where + ": Bidirectional needs as many initial states for each direction, got " +
                  std::to_string(states.size()) + " in all");

    auto bound = std::make_shared<Bidirectional>(*this);
    bound->n_inputs_ = call.roles.size();
    const size_t half = states.size() / 2;
    auto inner = [&](const Op& op, std::vector<int>& map, size_t first_state) {
      Call c;
      c.where = call.where;
      c.roles = {""};
      c.args = Json::array({tensor_placeholder(0)});
      map = {seq};
      if (mask >= 0) {
        c.kwargs["mask"] = tensor_placeholder(static_cast<int>(map.size()));
        c.roles.push_back("mask");
        map.push_back(mask);
      }
      if (half > 0) {
        Json list = Json::array();
        for (size_t k = 0; k < half; ++k) {
          list.push_back(tensor_placeholder(static_cast<int>(map.size())));
          c.roles.push_back("initial_state");
          map.push_back(states[first_state + k]);
        }
        c.kwargs["initial_state"] = list;
      }
      return op.bind(c);
    };
    bound->forward_ = inner(*forward_, bound->forward_inputs_, 0);
    bound->backward_ = inner(*backward_, bound->backward_inputs_, half);
    return bound;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, n_inputs_, "Bidirectional");
    std::vector<Shape> f = forward_->output_shapes(pick(in, forward_inputs_));
    std::vector<Shape> b = backward_->output_shapes(pick(in, backward_inputs_));
    size_t want = return_state_ ? 0 : 1;
    if (f.empty() || b.empty() || (want && (f.size() != 1 || b.size() != 1)))
      throw Error("Bidirectional: the wrapped layers give unexpected outputs");
    const Shape& y = f[0];
    const Shape& yr = b[0];
    if (y.size() != yr.size() || y.empty())
      throw Error("Bidirectional: forward output " + shape_to_string(y) + " and backward output " +
                  shape_to_string(yr) + " differ in rank");
    for (size_t i = 0; i + 1 < y.size(); ++i)
      if (!dims_agree(y[i], yr[i]))
        throw Error("Bidirectional: forward output " + shape_to_string(y) + " and backward output " +
                    shape_to_string(yr) + " do not match");
    std::vector<Shape> out;
    if (merge_ == Merge::kNone) {
      out = {y, yr};
    } else if (merge_ == Merge::kConcat) {
      Shape m = y;
      m.back() = y.back() < 0 || yr.back() < 0 ? -1 : y.back() + yr.back();
      out = {m};
    } else {
      if (!dims_agree(y.back(), yr.back()))
        throw Error("Bidirectional: forward output " + shape_to_string(y) + " and backward output " +
                    shape_to_string(yr) + " cannot be merged element-wise");
      out = {y};
    }
    out.insert(out.end(), f.begin() + 1, f.end());
    out.insert(out.end(), b.begin() + 1, b.end());
    return out;
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    // Run each direction into its own buffers.
    auto run_inner = [&](const Op& op, const std::vector<int>& map, std::vector<Shape>& shapes,
                         std::vector<std::vector<float>>& data) {
      std::vector<ConstView> views = pick(in, map);
      std::vector<Shape> in_shapes;
      for (const auto& v : views) in_shapes.emplace_back(v.shape.begin(), v.shape.end());
      shapes = op.output_shapes(in_shapes);
      data.resize(shapes.size());
      std::vector<MutView> outs;
      for (size_t i = 0; i < shapes.size(); ++i) {
        data[i].assign(static_cast<size_t>(element_count(shapes[i])), 0.f);
        outs.push_back({data[i].data(), shapes[i]});
      }
      op.run(views, outs);
    };
    std::vector<Shape> fs, bs;
    std::vector<std::vector<float>> fd, bd;
    run_inner(*forward_, forward_inputs_, fs, fd);
    run_inner(*backward_, backward_inputs_, bs, bd);

    // The backward layer returns its sequence in walking order; put it back in input order.
    std::vector<float>& yr = bd[0];
    if (return_sequences_ && bs[0].size() >= 3) {
      const int64_t batch = bs[0][0], steps = bs[0][1], inner = element_count(std::span(bs[0]).subspan(2));
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t t = 0; t < steps / 2; ++t)
          std::swap_ranges(yr.begin() + (b * steps + t) * inner, yr.begin() + (b * steps + t + 1) * inner,
                           yr.begin() + (b * steps + steps - 1 - t) * inner);
    }
    const std::vector<float>& y = fd[0];
    size_t next_out = 1;
    switch (merge_) {
      case Merge::kNone:
        std::copy(y.begin(), y.end(), out[0].data);
        std::copy(yr.begin(), yr.end(), out[1].data);
        next_out = 2;
        break;
      case Merge::kConcat: {
        const int64_t wf = fs[0].back(), wb = bs[0].back(), rows = static_cast<int64_t>(y.size()) / wf;
        for (int64_t r = 0; r < rows; ++r) {
          float* o = out[0].data + r * (wf + wb);
          std::copy(y.begin() + r * wf, y.begin() + (r + 1) * wf, o);
          std::copy(yr.begin() + r * wb, yr.begin() + (r + 1) * wb, o + wf);
        }
        break;
      }
      case Merge::kSum:
        for (size_t i = 0; i < y.size(); ++i) out[0].data[i] = y[i] + yr[i];
        break;
      case Merge::kMul:
        for (size_t i = 0; i < y.size(); ++i) out[0].data[i] = y[i] * yr[i];
        break;
      case Merge::kAve:
        for (size_t i = 0; i < y.size(); ++i) out[0].data[i] = (y[i] + yr[i]) / 2.f;
        break;
    }
    // Then the forward layer's states, then the backward layer's.
    for (size_t i = 1; i < fd.size(); ++i) std::copy(fd[i].begin(), fd[i].end(), out[next_out++].data);
    for (size_t i = 1; i < bd.size(); ++i) std::copy(bd[i].begin(), bd[i].end(), out[next_out++].data);
  }

  int64_t param_count() const override { return forward_->param_count() + backward_->param_count(); }

 private:
  static bool flag_of(const Config& c, const Json& layer, const char* key) {
    return Config(c.spec(), layer["config"]).flag(key, false);
  }

  Merge merge_ = Merge::kConcat;
  bool return_sequences_ = false, return_state_ = false;
  std::shared_ptr<const Op> forward_, backward_;
  size_t n_inputs_ = 1;
  std::vector<int> forward_inputs_{0}, backward_inputs_{0};
};

// ---- TimeDistributed ------------------------------------------------------------------------------
// (batch, time, ...) is (batch*time, ...) in memory, so the inner layer runs on the same buffers.
class TimeDistributed : public Op {
 public:
  explicit TimeDistributed(const LayerSpec& spec) {
    Config c(spec);
    const Json& layer = c.raw("layer");
    if (!layer.is_object()) c.fail("'layer' should be a serialized layer");
    inner_ = spec.make_sublayer(layer);
  }

  // A mask only reaches layers that take one; the per-step layers Keras allows here ignore it.
  std::shared_ptr<const Op> bind(const Call& call) const override {
    int data = -1;
    for (size_t i = 0; i < call.roles.size(); ++i) {
      const std::string& r = call.roles[i];
      if (r.empty() && data < 0) data = static_cast<int>(i);
      else if (r != "mask") throw Error(call.where + ": TimeDistributed takes one input tensor (and an optional mask)");
    }
    if (data < 0) throw Error(call.where + ": TimeDistributed was called without an input");
    Call c;
    c.where = call.where;
    c.roles = {""};
    c.args = Json::array({tensor_placeholder(0)});
    auto bound = std::make_shared<TimeDistributed>(*this);
    bound->inner_ = inner_->bind(c);
    bound->data_ = data;
    bound->n_inputs_ = call.roles.size();
    return bound;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, n_inputs_, "TimeDistributed");
    const Shape& s = in[data_];
    if (s.size() < 3)
      throw Error("TimeDistributed expects an input of rank 3 or more (batch, time, ...), got " + shape_to_string(s));
    std::vector<Shape> inner_out = inner_->output_shapes(std::vector<Shape>{step_shape(s)});
    if (inner_out.size() != 1 || inner_out[0].empty())
      throw Error("TimeDistributed supports wrapped layers with one batched output");
    Shape out{s[0], s[1]};
    out.insert(out.end(), inner_out[0].begin() + 1, inner_out[0].end());
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const Shape x_shape = step_shape(Shape(in[data_].shape.begin(), in[data_].shape.end()));
    Shape y_shape{x_shape[0]};
    y_shape.insert(y_shape.end(), out[0].shape.begin() + 2, out[0].shape.end());
    const ConstView x{in[data_].data, x_shape};
    const MutView y{out[0].data, y_shape};
    inner_->run(std::span(&x, 1), std::span(&y, 1));
  }

  int64_t param_count() const override { return inner_->param_count(); }

 private:
  static Shape step_shape(const Shape& s) {
    Shape step{s[0] < 0 || s[1] < 0 ? -1 : s[0] * s[1]};
    step.insert(step.end(), s.begin() + 2, s.end());
    return step;
  }

  std::shared_ptr<const Op> inner_;
  int data_ = 0;
  size_t n_inputs_ = 1;
};

}  // namespace

void register_wrappers(const AddLayer& add) {
  add("Bidirectional", [](const LayerSpec& s) { return std::make_shared<Bidirectional>(s); });
  add("TimeDistributed", [](const LayerSpec& s) { return std::make_shared<TimeDistributed>(s); });
}

}  // namespace kerasrt::layers
