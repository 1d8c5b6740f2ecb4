// Normalization layers: BatchNormalization -> batch_norm (moving statistics folded at load into a
// per-feature scale and shift); Layer/RMS/UnitNormalization -> normalize (one kind: each normalizes
// the groups of elements sharing their coordinates off some axes and differs only in the statistic);
// GroupNormalization -> group_norm (its groups are slices of the channel axis, with per-channel
// weights, which is not an axes-set normalization). SpectralNormalization wraps another layer
// (wrappers.cpp).
#include <algorithm>
#include <cmath>

#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
namespace {

// "axis" given as an int or a list of ints (Keras 3 and tf.keras both allow either for some layers).
std::vector<int64_t> axis_values(const Config& c, const char* key, int64_t fallback) {
  if (!c.has(key)) return {fallback};
  const Json& v = c.raw(key);
  if (v.is_number_integer()) return {v.get<int64_t>()};
  std::vector<int64_t> out = c.int_list(key);
  if (out.empty()) c.fail(std::string("'") + key + "' must name at least one axis");
  return out;
}

// Sorted, distinct axes in [0, rank).
std::vector<int> resolve_axes(const std::vector<int64_t>& axes, size_t rank, const std::string& layer) {
  std::vector<int> out;
  for (int64_t a : axes) out.push_back(normalize_axis(a, rank, layer + ": "));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw Error(layer + ": duplicate axes in " + shape_to_string(axes));
  return out;
}

// A missing epsilon means Keras's default; an explicit null means backend.epsilon().
double epsilon_from(const Config& c, double fallback) {
  double eps = fallback;
  if (c.has("epsilon")) eps = c.number("epsilon");
  else if (c.spec().config.contains("epsilon")) eps = 1e-7;
  if (!(eps >= 0)) c.fail("'epsilon' must be non-negative");
  return eps;
}

int64_t weight_values(const std::vector<ir::Weight>& w) {
  int64_t n = 0;
  for (const ir::Weight& x : w) n += x.value->size();
  return n;
}

// ---- BatchNormalization -----------------------------------------------------------------------
// Inference: y = x * scale + shift with scale = gamma / sqrt(moving_variance + epsilon) (computed as
// Keras does in float32) and shift = beta - moving_mean * scale. A call with training=True uses the
// batch's own statistics.
class BatchNormLayer : public TypedLayer {
 public:
  explicit BatchNormLayer(const LayerSpec& spec) {
    Config c(spec);
    axes_ = axis_values(c, "axis", -1);
    epsilon_ = epsilon_from(c, 1e-3);
    if (c.integer("mode", 0) != 0) c.fail("Keras 1 BatchNormalization mode " + std::to_string(c.integer("mode")) + " is not supported");
    trainable_ = c.flag("trainable", true);
    const bool scale = c.flag("scale", true), center = c.flag("center", true);
    const Weights::Entry* first = spec.weights.peek();
    if (!first) c.fail("missing weights (expected moving_mean and moving_variance)");
    Shape shape = first->shape;
    if (axes_.size() == 1 && shape.size() != 1)
      c.fail("weight '" + first->name + "' has shape " + shape_to_string(shape) + ", expected a vector");
    std::vector<float> gamma, beta;
    if (scale) gamma = spec.weights.take("gamma", shape);
    if (center) beta = spec.weights.take("beta", shape);
    std::vector<float> mean = spec.weights.take("moving_mean", shape);
    std::vector<float> variance = spec.weights.take("moving_variance", shape);
    params_ = static_cast<int64_t>(gamma.size() + beta.size() + mean.size() + variance.size());
    if (c.flag("renorm", false))  // statistics for training only
      for (const char* w : {"moving_stddev", "renorm_mean", "renorm_stddev"})
        params_ += static_cast<int64_t>(spec.weights.take(w, shape).size());
    const size_t n = mean.size();
    std::vector<float> mult(n), shift(n);
    for (size_t i = 0; i < n; ++i) {
      const float inv = static_cast<float>(1.0 / std::sqrt(static_cast<double>(variance[i] + static_cast<float>(epsilon_))));
      mult[i] = gamma.empty() ? inv : inv * gamma[i];
      shift[i] = (beta.empty() ? 0.f : beta[i]) - mean[i] * mult[i];
    }
    folded_ = {weight("scale", std::move(mult), shape), weight("shift", std::move(shift), shape)};
    if (scale) batch_weights_.push_back(weight("gamma", std::move(gamma), shape));
    if (center) batch_weights_.push_back(weight("beta", std::move(beta), shape));
  }

  int64_t param_count() const override { return params_; }

  void check_call(const Call& call) const override { x_index(call); }

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    const int xi = x_index(call);
    const int x = sink.cast(inputs[xi], DType::kFloat32);
    ir::BatchNormAttrs a;
    a.axes = resolve_axes(axes_, sink.type(x).shape.size(), "BatchNormalization");
    a.epsilon = epsilon_;
    a.batch_statistics = training(call);
    if (!a.batch_statistics) return sink.add(ir::OpKind::kBatchNorm, a, folded_, {x});
    for (const ir::Weight& w : batch_weights_) (w.name == "gamma" ? a.has_gamma : a.has_beta) = true;
    return sink.add(ir::OpKind::kBatchNorm, a, batch_weights_, {x});
  }

 private:
  bool training(const Call& call) const {
    return trainable_ && call.kwargs.contains("training") && call.kwargs["training"].is_boolean() &&
           call.kwargs["training"].get<bool>();
  }

  // The data tensor's index; a mask is accepted and ignored (it only matters for training statistics).
  int x_index(const Call& call) const {
    int x = -1;
    bool mask = false;
    for (size_t i = 0; i < call.roles.size(); ++i) {
      const std::string& r = call.roles[i];
      if (r.empty() && x < 0) x = static_cast<int>(i);
      else if (r == "mask") mask = true;
      else throw Error(call.where + ": BatchNormalization does not take the tensor argument " + (r.empty() ? "#" + std::to_string(i) : "'" + r + "'"));
    }
    if (x < 0) throw Error(call.where + ": BatchNormalization called without an input tensor");
    if (mask && training(call)) throw Error(call.where + ": BatchNormalization with training=True and a mask is not supported");
    return x;
  }

  std::vector<int64_t> axes_;
  double epsilon_ = 1e-3;
  bool trainable_ = true;
  int64_t params_ = 0;
  std::vector<ir::Weight> folded_, batch_weights_;
};

// ---- Layer/RMS/UnitNormalization --------------------------------------------------------------
// Takes a parameter laid out over the normalized axes (one dim per axis).
ir::Weight take_axes_param(const LayerSpec& spec, const char* what, size_t n_axes, Shape& shape) {
  Weights::Entry e = spec.weights.take_entry(what);
  if (e.shape.size() != n_axes)
    spec.fail("weight '" + std::string(what) + "' ('" + e.name + "') has shape " + shape_to_string(e.shape) +
              ", expected one dimension per normalized axis (" + std::to_string(n_axes) + ")");
  if (!shape.empty() && shape != e.shape)
    spec.fail("weight '" + std::string(what) + "' has shape " + shape_to_string(e.shape) + ", expected " +
              shape_to_string(shape));
  shape = e.shape;
  return weight(what, std::move(e.data), e.shape);
}

class NormalizeLayer : public TypedLayer {
 public:
  NormalizeLayer(ir::NormalizeAttrs a, std::vector<int64_t> axes, std::vector<ir::Weight> w, const char* name)
      : attrs_(std::move(a)), axes_(std::move(axes)), weights_(std::move(w)), name_(name) {}
  int64_t param_count() const override { return weight_values(weights_); }
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    expect_one_input(call, inputs, name_);
    const int x = sink.cast(inputs[0], DType::kFloat32);
    ir::NormalizeAttrs a = attrs_;
    a.axes = resolve_axes(axes_, sink.type(x).shape.size(), name_);
    return sink.add(ir::OpKind::kNormalize, a, weights_, {x});
  }

 private:
  ir::NormalizeAttrs attrs_;
  std::vector<int64_t> axes_;
  std::vector<ir::Weight> weights_;
  std::string name_;
};

// ---- GroupNormalization -----------------------------------------------------------------------
class GroupNormLayer : public TypedLayer {
 public:
  GroupNormLayer(ir::GroupNormAttrs a, int64_t axis, std::vector<ir::Weight> w)
      : attrs_(a), axis_(axis), weights_(std::move(w)) {}
  int64_t param_count() const override { return weight_values(weights_); }
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    expect_one_input(call, inputs, "GroupNormalization");
    const int x = sink.cast(inputs[0], DType::kFloat32);
    const Shape& s = sink.type(x).shape;
    if (s.size() < 2) throw Error(call.where + ": GroupNormalization expects an input of rank >= 2, got " + shape_to_string(s));
    ir::GroupNormAttrs a = attrs_;
    a.axis = normalize_axis(axis_, s.size(), call.where + ": GroupNormalization: ");
    if (a.axis == 0) throw Error(call.where + ": GroupNormalization cannot group the batch axis");
    return sink.add(ir::OpKind::kGroupNorm, a, weights_, {x});
  }

 private:
  ir::GroupNormAttrs attrs_;
  int64_t axis_;
  std::vector<ir::Weight> weights_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_batch_norm(const LayerSpec& spec) { return std::make_shared<BatchNormLayer>(spec); }

// LayerNormalization: y = (x - mean) / sqrt(var + eps) * gamma + beta. With the deprecated
// rms_scaling: y = x / sqrt(var + eps) * gamma (variance, not mean square, and no centering).
std::shared_ptr<const TypedLayer> parse_layer_norm(const LayerSpec& spec) {
  Config c(spec);
  ir::NormalizeAttrs a;
  a.mode = ir::NormalizeMode::kLayer;
  std::vector<int64_t> axes = axis_values(c, "axis", -1);
  a.epsilon = epsilon_from(c, 1e-3);
  const bool rms_scaling = c.flag("rms_scaling", false);
  const bool scale = c.flag("scale", true), center = c.flag("center", true);
  a.center = !rms_scaling;
  Shape shape;
  std::vector<ir::Weight> w;
  if (scale || rms_scaling) w.push_back(take_axes_param(spec, "gamma", axes.size(), shape)), a.has_gamma = true;
  if (center && !rms_scaling) w.push_back(take_axes_param(spec, "beta", axes.size(), shape)), a.has_beta = true;
  return std::make_shared<NormalizeLayer>(a, std::move(axes), std::move(w), "LayerNormalization");
}

// RMSNormalization: y = x / sqrt(mean(x^2) + eps) * scale.
std::shared_ptr<const TypedLayer> parse_rms_norm(const LayerSpec& spec) {
  Config c(spec);
  ir::NormalizeAttrs a;
  a.mode = ir::NormalizeMode::kRms;
  std::vector<int64_t> axes = axis_values(c, "axis", -1);
  a.epsilon = epsilon_from(c, 1e-6);
  Shape shape;
  std::vector<ir::Weight> w{take_axes_param(spec, "scale", axes.size(), shape)};
  w[0].name = "gamma";
  a.has_gamma = true;
  return std::make_shared<NormalizeLayer>(a, std::move(axes), std::move(w), "RMSNormalization");
}

// UnitNormalization: y = x / max(||x||_2, 1e-12) over the axes.
std::shared_ptr<const TypedLayer> parse_unit_norm(const LayerSpec& spec) {
  Config c(spec);
  ir::NormalizeAttrs a;
  a.mode = ir::NormalizeMode::kUnit;
  a.epsilon = 1e-12;  // fixed in Keras's UnitNormalization
  return std::make_shared<NormalizeLayer>(a, axis_values(c, "axis", -1), std::vector<ir::Weight>{}, "UnitNormalization");
}

// GroupNormalization: `groups` equal slices of the channel axis (-1: one per channel).
std::shared_ptr<const TypedLayer> parse_group_norm(const LayerSpec& spec) {
  Config c(spec);
  ir::GroupNormAttrs a;
  a.groups = c.integer("groups", 32);
  if (a.groups <= 0 && a.groups != -1) c.fail("'groups' must be positive or -1, got " + std::to_string(a.groups));
  const int64_t axis = c.integer("axis", -1);
  a.epsilon = epsilon_from(c, 1e-3);
  const bool scale = c.flag("scale", true), center = c.flag("center", true);
  std::vector<ir::Weight> w;
  if (scale || center) {
    const Weights::Entry* first = spec.weights.peek();
    if (!first || first->shape.size() != 1) c.fail("missing or malformed gamma/beta weights");
    const int64_t channels = first->shape[0];
    if (scale) w.push_back(stored_weight(spec.weights, "gamma", "gamma", {channels})), a.has_gamma = true;
    if (center) w.push_back(stored_weight(spec.weights, "beta", "beta", {channels})), a.has_beta = true;
    const int64_t groups = a.groups == -1 ? channels : a.groups;
    if (channels < groups || channels % groups != 0)
      c.fail(std::to_string(channels) + " channels cannot be split into " + std::to_string(groups) + " equal groups");
  }
  return std::make_shared<GroupNormLayer>(a, axis, std::move(w));
}

}  // namespace kerasrt::format
