// Preprocessing layers: Normalization, CategoryEncoding, Discretization, Pipeline, and the image
// augmentation layers, which pass their input through at inference.
#include <algorithm>
#include <cmath>

#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// Flattens a number or a rectangular nested list of numbers; false when ragged or not numeric.
bool flatten_nested(const Json& j, std::vector<float>& out, Shape& shape, size_t depth) {
  if (j.is_number()) {
    if (depth != shape.size()) return false;
    out.push_back(static_cast<float>(j.get<double>()));
    return true;
  }
  if (!j.is_array()) return false;
  if (depth == shape.size()) {
    if (!out.empty()) return false;  // a list where an earlier element was a number
    shape.push_back(static_cast<int64_t>(j.size()));
  } else if (depth > shape.size() || shape[depth] != static_cast<int64_t>(j.size())) {
    return false;
  }
  for (const Json& e : j)
    if (!flatten_nested(e, out, shape, depth + 1)) return false;
  return true;
}

// ---- Normalization ----------------------------------------------------------------------------
// (x - mean) / max(sqrt(variance), 1e-7), or its inverse; mean/variance per index of the kept axes,
// given in the config or stored as the weights mean, variance, count (Keras's order).
class Normalization : public ElementwiseOp {
 public:
  explicit Normalization(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    const Json& cfg = spec.config;
    if (!cfg.contains("axis")) {
      axes_ = {-1};
    } else if (cfg["axis"].is_null()) {
      axes_ = {};  // one mean/variance for everything
    } else if (cfg["axis"].is_number_integer()) {
      axes_ = {cfg["axis"].get<int64_t>()};
    } else {
      axes_ = c.int_list("axis");
    }
    invert_ = c.flag("invert", false);
    bool has_mean = c.has("mean"), has_variance = c.has("variance");
    if (has_mean != has_variance) c.fail("'mean' and 'variance' must be given together");
    std::vector<float> mean, variance;
    if (has_mean) {
      Shape variance_shape;
      if (!flatten_nested(c.raw("mean"), mean, mean_shape_, 0) ||
          !flatten_nested(c.raw("variance"), variance, variance_shape, 0))
        c.fail("'mean' and 'variance' must be numbers or rectangular lists of numbers");
      if (variance_shape != mean_shape_) c.fail("'mean' and 'variance' must have the same shape");
      if (mean_shape_.size() > axes_.size())
        c.fail("the rank of 'mean' (" + std::to_string(mean_shape_.size()) + ") exceeds the number of axes (" +
               std::to_string(axes_.size()) + ")");
      broadcast_ = true;
    } else {
      const Weights::Entry* m = spec.weights.peek();
      if (!m) c.fail("has neither 'mean'/'variance' in its config nor stored weights");
      if (m->shape.size() != axes_.size())
        c.fail("stored mean has shape " + shape_to_string(m->shape) + ", expected one dimension per axis (" +
               std::to_string(axes_.size()) + ")");
      mean_shape_ = m->shape;
      mean = spec.weights.take("mean", mean_shape_);
      variance = spec.weights.take("variance", mean_shape_);
      spec.weights.take("count", {});
    }
    mean_ = std::move(mean);
    denom_.resize(variance.size());
    for (size_t i = 0; i < variance.size(); ++i) denom_[i] = std::max(std::sqrt(variance[i]), 1e-7f);
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, 1);
    kept_axes(in[0]);
    return {in[0]};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const auto& shape = in[0].shape;
    Shape s(shape.begin(), shape.end());
    std::vector<int> keep = kept_axes(s);
    // Stride into mean_/denom_ per input axis (0 for reduced or broadcast axes).
    std::vector<int64_t> stride(s.size(), 0);
    int64_t step = 1;
    size_t m = mean_shape_.size();
    for (size_t j = m; j-- > 0;) {
      if (mean_shape_[j] != 1) stride[keep[keep.size() - m + j]] = step;
      step *= mean_shape_[j];
    }
    std::vector<int64_t> idx(s.size(), 0);
    for (int64_t i = 0; i < in[0].size(); ++i) {
      int64_t k = 0;
      for (size_t a = 0; a < s.size(); ++a) k += idx[a] * stride[a];
      float x = in[0].data[i];
      out[0].data[i] = invert_ ? mean_[k] + x * denom_[k] : (x - mean_[k]) / denom_[k];
      next_index(idx, shape);
    }
  }

 private:
  // Sorted, non-negative kept axes; checks them against the mean's shape.
  std::vector<int> kept_axes(const Shape& s) const {
    std::vector<int> keep;
    for (int64_t a : axes_) keep.push_back(normalize_axis(a, s.size(), where_ + ": "));
    std::sort(keep.begin(), keep.end());
    if (std::adjacent_find(keep.begin(), keep.end()) != keep.end())
      throw Error(where_ + ": 'axis' names the same axis twice");
    size_t m = mean_shape_.size();
    for (size_t j = 0; j < m; ++j) {
      int64_t want = mean_shape_[j], got = s[keep[keep.size() - m + j]];
      bool ok = got < 0 || got == want || (broadcast_ && want == 1);
      if (!ok)
        throw Error(where_ + ": mean/variance of shape " + shape_to_string(mean_shape_) +
                    " do not fit input shape " + shape_to_string(s));
    }
    return keep;
  }

  std::string where_;
  std::vector<int64_t> axes_;
  bool invert_ = false;
  bool broadcast_ = false;  // config values broadcast (size-1 dims); stored weights match exactly
  Shape mean_shape_;
  std::vector<float> mean_, denom_;
};

// ---- categorical encoding (shared by CategoryEncoding and Discretization) -----------------------
enum class Encoding { kInt, kOneHot, kMultiHot, kCount };

Encoding parse_encoding(const Config& c, bool allow_int, const std::string& fallback) {
  std::string mode = c.str("output_mode", fallback);
  if (mode == "binary") mode = "multi_hot";
  if (mode == "one_hot") return Encoding::kOneHot;
  if (mode == "multi_hot") return Encoding::kMultiHot;
  if (mode == "count") return Encoding::kCount;
  if (mode == "int" && allow_int) return Encoding::kInt;
  c.fail("unsupported output_mode '" + mode + "'");
}

// Keras's encode_categorical_inputs on the torch backend: one_hot replaces a trailing size-1 axis
// (else appends one); multi_hot/count reduce over axis 1 (axis 0 for rank 1).
Shape encoded_shape(const Shape& in, Encoding mode, int64_t depth) {
  if (mode == Encoding::kInt) return in;
  if (in.empty()) return {depth};
  Shape out = in;
  if (mode == Encoding::kOneHot) {
    if (in.size() > 1 && in.back() == 1) out.back() = depth;
    else out.push_back(depth);
    return out;
  }
  if (in.size() == 1) return {depth};
  out.erase(out.begin() + 1);
  out.push_back(depth);
  return out;
}

// `ids` are class indices in (-inf, depth); negative ones encode as all zeros (torch's one_hot here).
void encode(const std::vector<int64_t>& ids, std::span<const int64_t> shape, Encoding mode, int64_t depth,
            const float* count_weights, float* out) {
  int64_t n = static_cast<int64_t>(ids.size());
  if (mode == Encoding::kInt) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(ids[i]);
    return;
  }
  if (mode == Encoding::kOneHot) {
    for (int64_t i = 0; i < n; ++i)
      if (ids[i] >= 0) out[i * depth + ids[i]] = 1.f;
    return;
  }
  // Reduced axis 1 (or 0 for rank <= 1): element i = (outer, r, inner) -> out[(outer, inner), id].
  int64_t reduced = shape.empty() ? 1 : shape.size() == 1 ? shape[0] : shape[1];
  int64_t inner = 1;
  for (size_t a = 2; a < shape.size(); ++a) inner *= shape[a];
  if (shape.size() < 2) inner = 1;
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0) continue;
    int64_t outer = i / (reduced * inner), in_i = i % inner;
    float* row = out + (outer * inner + in_i) * depth;
    if (mode == Encoding::kMultiHot) row[ids[i]] = 1.f;
    else row[ids[i]] += count_weights ? count_weights[i] : 1.f;
  }
}

// CategoryEncoding: integer ids (as floats, truncated like a cast to int) to one/multi-hot or counts.
class CategoryEncoding : public Op {
 public:
  explicit CategoryEncoding(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    depth_ = c.integer("num_tokens", c.integer("max_tokens", -1));  // Keras 2.x called it max_tokens
    if (depth_ < 1) c.fail("'num_tokens' must be set and >= 1");
    mode_ = parse_encoding(c, false, "multi_hot");
    if (c.flag("sparse", false)) c.fail("sparse outputs are not supported");
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    auto copy = std::make_shared<CategoryEncoding>(*this);
    copy->has_count_weights_ = false;
    for (size_t i = 0; i < call.roles.size(); ++i) {
      const std::string& r = call.roles[i];
      bool weights = r == "count_weights" || (r.empty() && i == 1);
      if (i == 0 && r.empty()) continue;
      if (!weights || copy->has_count_weights_)
        throw Error(call.where + ": CategoryEncoding takes the ids and an optional 'count_weights' tensor");
      copy->has_count_weights_ = true;
    }
    if (copy->has_count_weights_ && mode_ != Encoding::kCount)
      throw Error(call.where + ": 'count_weights' is only used with output_mode 'count'");
    return copy;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, has_count_weights_ ? 2 : 1, "CategoryEncoding");
    const Shape& s = in[0];
    if (s.empty()) throw Error(where_ + ": expects a tensor of rank >= 1");
    if (mode_ != Encoding::kOneHot && s.size() > 2)
      throw Error(where_ + ": output_mode multi_hot/count supports inputs up to rank 2, got " + shape_to_string(s));
    if (has_count_weights_ && in[1] != s)
      throw Error(where_ + ": count_weights shape " + shape_to_string(in[1]) + " differs from the input's " +
                  shape_to_string(s));
    return {encoded_shape(s, mode_, depth_)};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::vector<int64_t> ids(static_cast<size_t>(in[0].size()));
    for (size_t i = 0; i < ids.size(); ++i) {
      float v = in[0].data[i];
      if (!std::isfinite(v) || v >= static_cast<float>(depth_))
        throw Error(where_ + ": token id " + std::to_string(v) + " is outside [0, " + std::to_string(depth_) + ")");
      ids[i] = v < 0.f ? -1 : static_cast<int64_t>(v);
    }
    encode(ids, in[0].shape, mode_, depth_, has_count_weights_ ? in[1].data : nullptr, out[0].data);
  }

 private:
  std::string where_;
  int64_t depth_ = 0;
  Encoding mode_ = Encoding::kMultiHot;
  bool has_count_weights_ = false;
};

// Discretization: bucket index = number of boundaries <= x (torch.bucketize(right=True), compared in
// float64 like torch does with the float64 boundaries), then encoded.
class Discretization : public Op {
 public:
  explicit Discretization(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    if (!c.has("bin_boundaries"))
      c.fail("has no 'bin_boundaries' (a layer with only 'num_bins' was never adapted)");
    const Json& b = c.raw("bin_boundaries");
    if (!b.is_array()) c.fail("'bin_boundaries' should be a list of numbers");
    for (const Json& v : b) {
      if (!v.is_number()) c.fail("'bin_boundaries' should be a list of numbers");
      boundaries_.push_back(v.get<double>());
    }
    if (!std::is_sorted(boundaries_.begin(), boundaries_.end())) c.fail("'bin_boundaries' must be sorted");
    mode_ = parse_encoding(c, true, "int");
    if (c.flag("sparse", false)) c.fail("sparse outputs are not supported");
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Discretization");
    return {encoded_shape(in[0], mode_, depth())};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::vector<int64_t> ids(static_cast<size_t>(in[0].size()));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = bucket(in[0].data[i]);
    encode(ids, in[0].shape, mode_, depth(), nullptr, out[0].data);
  }

 private:
  int64_t depth() const { return static_cast<int64_t>(boundaries_.size()) + 1; }
  // First index whose boundary is > x (NaN lands past the end, as in torch's search).
  int64_t bucket(float x) const {
    double v = x;
    int64_t lo = 0, hi = static_cast<int64_t>(boundaries_.size());
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (!(boundaries_[mid] > v)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  std::string where_;
  std::vector<double> boundaries_;
  Encoding mode_ = Encoding::kInt;
};

// ---- Pipeline -----------------------------------------------------------------------------------
// Its layers applied in order; a node's training=True reaches each of them.
class Pipeline : public Op {
 public:
  explicit Pipeline(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    const Json& layers = c.raw("layers");
    if (!layers.is_array()) c.fail("'layers' should be a list of serialized layers");
    for (const Json& l : layers) {
      if (!l.is_object()) c.fail("'layers' should be a list of serialized layers");
      layers_.push_back(spec.make_sublayer(l));
    }
    bind_layers(false, spec.where);
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": Pipeline does not take the tensor keyword '" + r + "'");
    auto copy = std::make_shared<Pipeline>(*this);
    copy->bind_layers(call_wants_training(call), call.where);
    return copy;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Pipeline");
    Shape s = in[0];
    for (const auto& op : bound_) s = single_output(*op, s);
    return {s};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    if (bound_.empty()) {
      std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
      return;
    }
    Shape cur_shape(in[0].shape.begin(), in[0].shape.end());
    std::vector<float> cur(in[0].data, in[0].data + in[0].size()), next;
    for (size_t i = 0; i < bound_.size(); ++i) {
      Shape next_shape = single_output(*bound_[i], cur_shape);
      bool last = i + 1 == bound_.size();
      if (!last) next.assign(static_cast<size_t>(element_count(next_shape)), 0.f);
      ConstView iv{cur.data(), cur_shape};
      MutView ov{last ? out[0].data : next.data(), last ? out[0].shape : std::span<const int64_t>(next_shape)};
      bound_[i]->run(std::span<const ConstView>(&iv, 1), std::span<const MutView>(&ov, 1));
      if (!last) {
        cur.swap(next);
        cur_shape = next_shape;
      }
    }
  }

  int64_t param_count() const override {
    int64_t n = 0;
    for (const auto& op : bound_) n += op->param_count();
    return n;
  }

 private:
  void bind_layers(bool training, const std::string& where) {
    Call sub;
    sub.roles = {""};
    sub.args = Json::array({tensor_placeholder(0)});
    if (training) sub.kwargs["training"] = true;
    sub.where = where;
    bound_.clear();
    for (const auto& op : layers_) bound_.push_back(op->bind(sub));
  }

  Shape single_output(const Op& op, const Shape& s) const {
    std::vector<Shape> outs = op.output_shapes(std::span<const Shape>(&s, 1));
    if (outs.size() != 1) throw Error(where_ + ": every layer in a Pipeline must have one output");
    return outs[0];
  }

  std::string where_;
  std::vector<std::shared_ptr<Op>> layers_;
  std::vector<std::shared_ptr<const Op>> bound_;
};

// ---- augmentation layers --------------------------------------------------------------------------
// At inference they return their (rank-3 or rank-4 image) input unchanged. Training draws random
// transformations from Keras's seed generator, which cannot be reproduced here, so it is refused.
class InferencePassThrough : public ElementwiseOp {
 public:
  explicit InferencePassThrough(const LayerSpec& spec) : class_name_(spec.class_name), where_(spec.where) {}

  std::shared_ptr<const Op> bind(const Call& call) const override {
    if (call_wants_training(call))
      throw Error(call.where + ": " + class_name_ +
                  " called with training=True applies random transformations, which kerasrt does not reproduce");
    return Op::bind(call);
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, 1);
    if (in[0].size() != 3 && in[0].size() != 4)
      throw Error(where_ + ": expects a rank-3 image or a rank-4 batch of images, got " + shape_to_string(in[0]));
    return {in[0]};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
  }

 private:
  std::string class_name_, where_;
};

}  // namespace

void register_preprocessing(const AddLayer& add) {
  add("Normalization", [](const LayerSpec& s) { return std::make_shared<Normalization>(s); });
  add("CategoryEncoding", [](const LayerSpec& s) { return std::make_shared<CategoryEncoding>(s); });
  add("Discretization", [](const LayerSpec& s) { return std::make_shared<Discretization>(s); });
  add("Pipeline", [](const LayerSpec& s) { return std::make_shared<Pipeline>(s); });
  auto pass = [](const LayerSpec& s) { return std::make_shared<InferencePassThrough>(s); };
  for (const char* name :
       {"RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness",
        "RandomCrop", "RandomErasing", "RandomGaussianBlur", "RandomPerspective", "RandomShear",
        "RandomElasticTransform", "RandomColorDegeneration", "RandomColorJitter", "RandomGrayscale", "RandomHue",
        "RandomInvert", "RandomPosterization", "RandomSaturation", "RandomSharpness", "AugMix", "RandAugment",
        "CutMix", "MixUp", "Solarization"})
    add(name, pass);
}

}  // namespace kerasrt::layers
