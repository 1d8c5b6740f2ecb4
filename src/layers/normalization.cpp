// Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization,
// UnitNormalization, RMSNormalization and the SpectralNormalization wrapper.
#include <algorithm>
#include <cmath>

#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// ---- axis helpers -----------------------------------------------------------------------------

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

// Offset of every combination of coordinates along the axes where `selected[a] == want`, in
// row-major order over those axes (other coordinates at 0). An element's offset is the sum of
// its offset along the selected axes and along the others.
std::vector<int64_t> offsets_along(std::span<const int64_t> shape, const std::vector<bool>& selected, bool want) {
  const std::vector<int64_t> strides = row_major_strides(shape);
  std::vector<int64_t> out{0};
  for (size_t a = 0; a < shape.size(); ++a) {
    if (selected[a] != want) continue;
    std::vector<int64_t> next;
    next.reserve(out.size() * static_cast<size_t>(shape[a]));
    for (int64_t base : out)
      for (int64_t i = 0; i < shape[a]; ++i) next.push_back(base + i * strides[a]);
    out.swap(next);
  }
  return out;
}

std::vector<bool> axis_mask(const std::vector<int>& axes, size_t rank) {
  std::vector<bool> m(rank, false);
  for (int a : axes) m[a] = true;
  return m;
}

// The dims of `shape` at `axes`, -1 where unknown.
Shape dims_at(const Shape& shape, const std::vector<int>& axes) {
  Shape out;
  for (int a : axes) out.push_back(shape[a]);
  return out;
}

// Parameters laid out over some axes must match the input's dims there (unknown dims pass).
void check_param_dims(const Shape& param_shape, const Shape& dims, const char* layer, const Shape& input) {
  bool ok = param_shape.size() == dims.size();
  for (size_t i = 0; ok && i < dims.size(); ++i) ok = dims[i] < 0 || dims[i] == param_shape[i];
  if (!ok)
    throw Error(std::string(layer) + ": weights of shape " + shape_to_string(param_shape) + " do not fit input " +
                shape_to_string(input) + " on the normalized axes");
}

// A missing epsilon means Keras's default; an explicit null means backend.epsilon().
double epsilon_from(const Config& c, double fallback) {
  if (c.has("epsilon")) return c.number("epsilon");
  if (c.spec().config.contains("epsilon")) return 1e-7;
  return fallback;
}

// ---- BatchNormalization -----------------------------------------------------------------------
// Inference: y = (x - moving_mean) * (gamma / sqrt(moving_variance + epsilon)) + beta, per
// position along `axis`. A node called with training=True uses the batch's own statistics.
class BatchNormalization : public Op {
 public:
  explicit BatchNormalization(const LayerSpec& spec) {
    Config c(spec);
    axes_ = axis_values(c, "axis", -1);
    epsilon_ = epsilon_from(c, 1e-3);
    if (!(epsilon_ >= 0)) c.fail("'epsilon' must be non-negative");
    if (c.integer("mode", 0) != 0) c.fail("Keras 1 BatchNormalization mode " + std::to_string(c.integer("mode")) + " is not supported");
    trainable_ = c.flag("trainable", true);
    bool scale = c.flag("scale", true), center = c.flag("center", true);
    const Weights::Entry* first = spec.weights.peek();
    if (!first) c.fail("missing weights (expected moving_mean and moving_variance)");
    param_shape_ = first->shape;
    if (axes_.size() == 1 && param_shape_.size() != 1)
      c.fail("weight '" + first->name + "' has shape " + shape_to_string(param_shape_) + ", expected a vector");
    if (scale) gamma_ = spec.weights.take("gamma", param_shape_);
    if (center) beta_ = spec.weights.take("beta", param_shape_);
    mean_ = spec.weights.take("moving_mean", param_shape_);
    variance_ = spec.weights.take("moving_variance", param_shape_);
    if (c.flag("renorm", false)) {  // statistics for training only
      for (const char* w : {"moving_stddev", "renorm_mean", "renorm_stddev"}) renorm_.push_back(spec.weights.take(w, param_shape_));
    }
    // Folded once: the multiplier gamma / sqrt(var + eps), as Keras computes it in float32.
    size_t n = mean_.size();
    multiplier_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      float inv = static_cast<float>(1.0 / std::sqrt(static_cast<double>(variance_[i] + static_cast<float>(epsilon_))));
      multiplier_[i] = gamma_.empty() ? inv : inv * gamma_[i];
    }
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    auto copy = std::make_shared<BatchNormalization>(*this);
    copy->x_index_ = -1;
    for (size_t i = 0; i < call.roles.size(); ++i) {
      const std::string& r = call.roles[i];
      if (r.empty() && copy->x_index_ < 0) copy->x_index_ = static_cast<int>(i);
      else if (r == "mask") copy->has_mask_ = true;  // only matters for training statistics
      else throw Error(call.where + ": BatchNormalization does not take the tensor argument " + (r.empty() ? "#" + std::to_string(i) : "'" + r + "'"));
    }
    if (copy->x_index_ < 0) throw Error(call.where + ": BatchNormalization called without an input tensor");
    copy->input_count_ = call.roles.size();
    if (call.kwargs.contains("training") && call.kwargs["training"].is_boolean())
      copy->batch_statistics_ = call.kwargs["training"].get<bool>() && trainable_;
    if (copy->batch_statistics_ && copy->has_mask_)
      throw Error(call.where + ": BatchNormalization with training=True and a mask is not supported");
    return copy;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, input_count_, "BatchNormalization");
    const Shape& x = in[x_index_];
    std::vector<int> axes = resolve_axes(axes_, x.size(), "BatchNormalization");
    int64_t count = 1;
    bool known = true;
    for (int a : axes) {
      known = known && x[a] >= 0;
      if (x[a] >= 0) count *= x[a];
    }
    if (known && count != static_cast<int64_t>(mean_.size()))
      throw Error("BatchNormalization: input " + shape_to_string(x) + " has " + std::to_string(count) +
                  " features on axis " + shape_to_string(axes_) + ", the weights have " + std::to_string(mean_.size()));
    return {x};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const ConstView& x = in[x_index_];
    std::vector<int> axes = resolve_axes(axes_, x.shape.size(), "BatchNormalization");
    std::vector<bool> mask = axis_mask(axes, x.shape.size());
    std::vector<int64_t> feature = offsets_along(x.shape, mask, true);  // in params' row-major order
    std::vector<int64_t> rest = offsets_along(x.shape, mask, false);
    const float* beta = beta_.empty() ? nullptr : beta_.data();
    for (size_t f = 0; f < feature.size(); ++f) {
      float mean = mean_[f], mult = multiplier_[f];
      if (batch_statistics_) {
        // Keras's ops.moments: var = E[x^2] - E[x]^2 over every axis but the feature axes.
        double s = 0, s2 = 0;
        for (int64_t r : rest) {
          double v = x.data[feature[f] + r];
          s += v;
          s2 += v * v;
        }
        double m = s / static_cast<double>(rest.size());
        double var = s2 / static_cast<double>(rest.size()) - m * m;
        mean = static_cast<float>(m);
        mult = static_cast<float>(1.0 / std::sqrt(var + epsilon_));
        if (!gamma_.empty()) mult *= gamma_[f];
      }
      float shift = beta ? beta[f] : 0.f;
      for (int64_t r : rest) {
        int64_t i = feature[f] + r;
        out[0].data[i] = (x.data[i] - mean) * mult + shift;
      }
    }
  }

  int64_t param_count() const override {
    int64_t n = static_cast<int64_t>(gamma_.size() + beta_.size() + mean_.size() + variance_.size());
    for (const auto& r : renorm_) n += static_cast<int64_t>(r.size());
    return n;
  }

 private:
  std::vector<int64_t> axes_;
  double epsilon_ = 1e-3;
  bool trainable_ = true;
  Shape param_shape_;
  std::vector<float> gamma_, beta_, mean_, variance_, multiplier_;
  std::vector<std::vector<float>> renorm_;
  int x_index_ = 0;
  size_t input_count_ = 1;
  bool has_mask_ = false, batch_statistics_ = false;
};

// ---- LayerNormalization / RMSNormalization / UnitNormalization ----------------------------------
// All three normalize each group of elements that shares its coordinates off `axes`.
class AxesNormalization : public ElementwiseOp {
 public:
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, layer_);
    std::vector<int> axes = resolve_axes(axes_, in[0].size(), layer_);
    Shape dims = dims_at(in[0], axes);
    if (has_params_) check_param_dims(param_shape_, dims, layer_, in[0]);
    return {in[0]};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const ConstView& x = in[0];
    std::vector<int> axes = resolve_axes(axes_, x.shape.size(), layer_);
    std::vector<bool> mask = axis_mask(axes, x.shape.size());
    std::vector<int64_t> group = offsets_along(x.shape, mask, false);
    std::vector<int64_t> within = offsets_along(x.shape, mask, true);  // params' row-major order
    for (int64_t g : group) normalize_group(x.data + g, out[0].data + g, within);
  }

  int64_t param_count() const override { return static_cast<int64_t>(gamma_.size() + beta_.size()); }

 protected:
  virtual void normalize_group(const float* x, float* y, const std::vector<int64_t>& within) const = 0;

  static double mean_of(const float* x, const std::vector<int64_t>& within) {
    double s = 0;
    for (int64_t o : within) s += x[o];
    return s / static_cast<double>(within.size());
  }
  static double variance_of(const float* x, const std::vector<int64_t>& within, double mean) {
    double s = 0;
    for (int64_t o : within) s += (x[o] - mean) * (x[o] - mean);
    return s / static_cast<double>(within.size());
  }

  const char* layer_ = "";
  std::vector<int64_t> axes_;
  double epsilon_ = 0;
  bool has_params_ = false;
  Shape param_shape_;
  std::vector<float> gamma_, beta_;
};

// Takes a parameter laid out over the normalized axes (one dim per axis).
std::vector<float> take_axes_param(const LayerSpec& spec, const char* what, size_t n_axes, Shape& shape) {
  Weights::Entry e = spec.weights.take_entry(what);
  if (e.shape.size() != n_axes)
    spec.fail("weight '" + std::string(what) + "' ('" + e.name + "') has shape " + shape_to_string(e.shape) +
              ", expected one dimension per normalized axis (" + std::to_string(n_axes) + ")");
  if (!shape.empty() && shape != e.shape)
    spec.fail("weight '" + std::string(what) + "' has shape " + shape_to_string(e.shape) + ", expected " +
              shape_to_string(shape));
  shape = e.shape;
  return std::move(e.data);
}

// LayerNormalization: y = (x - mean) / sqrt(var + eps) * gamma + beta. With the deprecated
// rms_scaling: y = x / sqrt(var + eps) * gamma (variance, not mean square, and no centering).
class LayerNormalization : public AxesNormalization {
 public:
  explicit LayerNormalization(const LayerSpec& spec) {
    Config c(spec);
    layer_ = "LayerNormalization";
    axes_ = axis_values(c, "axis", -1);
    epsilon_ = epsilon_from(c, 1e-3);
    if (!(epsilon_ >= 0)) c.fail("'epsilon' must be non-negative");
    rms_scaling_ = c.flag("rms_scaling", false);
    bool scale = c.flag("scale", true), center = c.flag("center", true);
    if (scale || rms_scaling_) gamma_ = take_axes_param(spec, "gamma", axes_.size(), param_shape_);
    if (center && !rms_scaling_) beta_ = take_axes_param(spec, "beta", axes_.size(), param_shape_);
    has_params_ = !gamma_.empty() || !beta_.empty();
  }

 protected:
  void normalize_group(const float* x, float* y, const std::vector<int64_t>& within) const override {
    double mean = mean_of(x, within);
    double var = variance_of(x, within, mean);
    double inv = 1.0 / std::sqrt(var + epsilon_);
    double center = rms_scaling_ ? 0.0 : mean;
    for (size_t j = 0; j < within.size(); ++j) {
      double v = (x[within[j]] - center) * inv;
      if (!gamma_.empty()) v *= gamma_[j];
      if (!beta_.empty()) v += beta_[j];
      y[within[j]] = static_cast<float>(v);
    }
  }

 private:
  bool rms_scaling_ = false;
};

// RMSNormalization: y = x / sqrt(mean(x^2) + eps) * scale.
class RMSNormalization : public AxesNormalization {
 public:
  explicit RMSNormalization(const LayerSpec& spec) {
    Config c(spec);
    layer_ = "RMSNormalization";
    axes_ = axis_values(c, "axis", -1);
    epsilon_ = epsilon_from(c, 1e-6);
    if (!(epsilon_ >= 0)) c.fail("'epsilon' must be non-negative");
    gamma_ = take_axes_param(spec, "scale", axes_.size(), param_shape_);
    has_params_ = true;
  }

 protected:
  void normalize_group(const float* x, float* y, const std::vector<int64_t>& within) const override {
    double sq = 0;
    for (int64_t o : within) sq += static_cast<double>(x[o]) * x[o];
    double inv = 1.0 / std::sqrt(sq / static_cast<double>(within.size()) + epsilon_);
    for (size_t j = 0; j < within.size(); ++j) y[within[j]] = static_cast<float>(x[within[j]] * inv * gamma_[j]);
  }
};

// UnitNormalization: y = x / max(||x||_2, 1e-12) over the axes.
class UnitNormalization : public AxesNormalization {
 public:
  explicit UnitNormalization(const LayerSpec& spec) {
    Config c(spec);
    layer_ = "UnitNormalization";
    axes_ = axis_values(c, "axis", -1);
  }

 protected:
  void normalize_group(const float* x, float* y, const std::vector<int64_t>& within) const override {
    constexpr double kEpsilon = 1e-12;  // fixed in Keras's UnitNormalization
    double sq = 0;
    for (int64_t o : within) sq += static_cast<double>(x[o]) * x[o];
    double inv = 1.0 / std::sqrt(std::max(sq, kEpsilon * kEpsilon));
    for (int64_t o : within) y[o] = static_cast<float>(x[o] * inv);
  }
};

// ---- GroupNormalization -----------------------------------------------------------------------
// The channel axis is split into `groups` equal groups; each (batch item, group) is normalized
// over its channels and all other non-batch axes, then scaled and shifted per channel.
class GroupNormalization : public ElementwiseOp {
 public:
  explicit GroupNormalization(const LayerSpec& spec) {
    Config c(spec);
    groups_ = c.integer("groups", 32);
    if (groups_ <= 0 && groups_ != -1) c.fail("'groups' must be positive or -1, got " + std::to_string(groups_));
    axis_ = c.integer("axis", -1);
    epsilon_ = epsilon_from(c, 1e-3);
    if (!(epsilon_ >= 0)) c.fail("'epsilon' must be non-negative");
    bool scale = c.flag("scale", true), center = c.flag("center", true);
    const Weights::Entry* first = spec.weights.peek();
    if (scale || center) {
      if (!first || first->shape.size() != 1) c.fail("missing or malformed gamma/beta weights");
      channels_ = first->shape[0];
      if (scale) gamma_ = spec.weights.take("gamma", {channels_});
      if (center) beta_ = spec.weights.take("beta", {channels_});
      check_groups(channels_, c.spec().where);
    }
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "GroupNormalization");
    if (in[0].size() < 2) throw Error("GroupNormalization expects an input of rank >= 2, got " + shape_to_string(in[0]));
    int axis = normalize_axis(axis_, in[0].size(), "GroupNormalization: ");
    if (axis == 0) throw Error("GroupNormalization cannot group the batch axis");
    int64_t ch = in[0][axis];
    if (ch >= 0) {
      if (channels_ > 0 && ch != channels_)
        throw Error("GroupNormalization: input " + shape_to_string(in[0]) + " has " + std::to_string(ch) +
                    " channels, the weights have " + std::to_string(channels_));
      check_groups(ch, "GroupNormalization");
    }
    return {in[0]};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const auto& s = in[0].shape;
    int axis = normalize_axis(axis_, s.size(), "GroupNormalization: ");
    int64_t batch = s[0], ch = s[axis];
    int64_t pre = element_count(s.subspan(1, axis - 1)), post = element_count(s.subspan(axis + 1));
    int64_t groups = groups_ == -1 ? ch : groups_, per_group = ch / groups;
    double count = static_cast<double>(pre * per_group * post);
    const float* x = in[0].data;
    float* y = out[0].data;
    auto index = [&](int64_t b, int64_t p, int64_t c, int64_t q) { return ((b * pre + p) * ch + c) * post + q; };
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t g = 0; g < groups; ++g) {
        int64_t c0 = g * per_group, c1 = c0 + per_group;
        double sum = 0;
        for (int64_t p = 0; p < pre; ++p)
          for (int64_t c = c0; c < c1; ++c)
            for (int64_t q = 0; q < post; ++q) sum += x[index(b, p, c, q)];
        double mean = sum / count, sq = 0;
        for (int64_t p = 0; p < pre; ++p)
          for (int64_t c = c0; c < c1; ++c)
            for (int64_t q = 0; q < post; ++q) sq += (x[index(b, p, c, q)] - mean) * (x[index(b, p, c, q)] - mean);
        double inv = 1.0 / std::sqrt(sq / count + epsilon_);
        for (int64_t p = 0; p < pre; ++p)
          for (int64_t c = c0; c < c1; ++c) {
            double mult = gamma_.empty() ? inv : inv * gamma_[c];
            double shift = beta_.empty() ? 0.0 : beta_[c];
            for (int64_t q = 0; q < post; ++q) {
              int64_t i = index(b, p, c, q);
              y[i] = static_cast<float>((x[i] - mean) * mult + shift);
            }
          }
      }
  }

  int64_t param_count() const override { return static_cast<int64_t>(gamma_.size() + beta_.size()); }

 private:
  void check_groups(int64_t ch, const std::string& where) const {
    int64_t groups = groups_ == -1 ? ch : groups_;
    if (ch < groups || ch % groups != 0)
      throw Error(where + ": " + std::to_string(ch) + " channels cannot be split into " + std::to_string(groups) + " equal groups");
  }

  int64_t groups_ = 32, axis_ = -1, channels_ = -1;
  double epsilon_ = 1e-3;
  std::vector<float> gamma_, beta_;
};

// ---- SpectralNormalization --------------------------------------------------------------------
// At inference the wrapped layer runs with its stored kernel (the normalized kernel is written back
// during training). The wrapper stores vector_u (1, kernel.shape[-1]) for the power iteration,
// and in .keras/.weights.h5 files also a second reference to the wrapped kernel, before the
// wrapped layer's own weights; legacy .h5 files list the wrapped layer's weights, then vector_u.
class SpectralNormalization : public Op {
 public:
  SpectralNormalization(std::shared_ptr<const Op> inner, int64_t extra_params)
      : inner_(std::move(inner)), extra_params_(extra_params) {}

  static std::shared_ptr<Op> make(const LayerSpec& spec) {
    Config c(spec);
    if (c.integer("power_iterations", 1) <= 0) c.fail("'power_iterations' must be positive");
    const Json& layer = c.raw("layer");
    if (!layer.is_object()) c.fail("'layer' should be a serialized layer");
    const Weights::Entry* first = spec.weights.peek();
    if (!first) c.fail("missing weights (the wrapped kernel and vector_u)");
    std::shared_ptr<Op> inner;
    int64_t units = -1;
    if (own_vars_first(first->name)) {
      Shape kernel_shape = spec.weights.take_entry("kernel").shape;
      if (kernel_shape.empty()) c.fail("the wrapped kernel is a scalar");
      units = kernel_shape.back();
      spec.weights.take("vector_u", {1, units});
      inner = spec.make_sublayer(layer);
    } else {
      inner = spec.make_sublayer(layer);
      const Weights::Entry* u = spec.weights.peek();
      if (!u || u->shape.size() != 2 || u->shape[0] != 1) c.fail("missing or malformed vector_u weight");
      units = u->shape[1];
      spec.weights.take("vector_u", {1, units});
    }
    return std::make_shared<SpectralNormalization>(inner, units);
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    std::shared_ptr<const Op> bound = inner_->bind(call);
    if (bound == inner_) return shared_from_this();
    return std::make_shared<SpectralNormalization>(bound, extra_params_);
  }
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override { return inner_->output_shapes(in); }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override { inner_->run(in, out); }
  int64_t param_count() const override { return inner_->param_count() + extra_params_; }

 private:
  // Keras 3 weight files name variables by path: the wrapper's own ".../vars/i" come before the
  // wrapped layer's ".../layer/vars/i".
  static bool own_vars_first(const std::string& name) {
    size_t at = name.rfind("/vars/");
    if (at == std::string::npos) return false;
    const std::string sub = "/layer";
    return !(at >= sub.size() && name.compare(at - sub.size(), sub.size(), sub) == 0) && name.rfind("layer/vars/", 0) != 0;
  }

  std::shared_ptr<const Op> inner_;
  int64_t extra_params_;
};

}  // namespace

void register_normalization(const AddLayer& add) {
  add("BatchNormalization", [](const LayerSpec& s) { return std::make_shared<BatchNormalization>(s); });
  add("LayerNormalization", [](const LayerSpec& s) { return std::make_shared<LayerNormalization>(s); });
  add("RMSNormalization", [](const LayerSpec& s) { return std::make_shared<RMSNormalization>(s); });
  add("UnitNormalization", [](const LayerSpec& s) { return std::make_shared<UnitNormalization>(s); });
  add("GroupNormalization", [](const LayerSpec& s) { return std::make_shared<GroupNormalization>(s); });
  add("SpectralNormalization", [](const LayerSpec& s) { return SpectralNormalization::make(s); });
}

}  // namespace kerasrt::layers
