// Preprocessing layers: the random augmentation layers (their input, as float32, at inference),
// Normalization (float32 subtract/divide nodes with the mean and sqrt-variance folded into
// constants at load), CategoryEncoding and Discretization (category_encode / bucketize nodes), and
// Pipeline (its layers' nodes in a chain).
#include <algorithm>
#include <cmath>

#include "format/keras/typed_layer.hpp"
#include "format/keras/call_args.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config
#include "format/keras/layer_registry.hpp"  // layer_key, layer_spec, make_layer: Pipeline layers without a parser

namespace kerasrt::format {
namespace {

// `x` as a value of its own (a layer's output is never its input value).
int own_value(NodeSink& sink, int x, int input) {
  if (x != input) return x;
  return sink.add(ir::OpKind::kReshape, ir::ReshapeAttrs{{}, true}, {}, {x}).at(0);
}

// ---- augmentation layers ------------------------------------------------------------------------
// At inference they return their (rank-3 or rank-4 image) input unchanged, as float32. Training draws
// random transformations from Keras's seed generator, which cannot be reproduced here, so it is refused.
class AugmentationLayer : public TypedLayer {
 public:
  explicit AugmentationLayer(std::string cls) : cls_(std::move(cls)) {}
  void check_call(const Call& call) const override {
    if (call_wants_training(call))
      throw Error(call.where + ": " + cls_ +
                  " called with training=True applies random transformations, which kerasrt does not reproduce");
    positional_only(call);
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    expect_one_input(call, inputs, cls_);
    const Shape& s = sink.type(inputs[0]).shape;
    if (s.size() != 3 && s.size() != 4)
      throw Error(call.where + ": expects a rank-3 image or a rank-4 batch of images, got " + shape_to_string(s));
    return {own_value(sink, sink.cast(inputs[0], DType::kFloat32), inputs[0])};
  }

 private:
  std::string cls_;
};

// ---- Normalization ------------------------------------------------------------------------------
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

// (x - mean) / max(sqrt(variance), 1e-7), or its inverse mean + x * that; mean/variance per index of
// the kept axes (their trailing axes when the config gives fewer dims), as constants shaped to
// broadcast against the input.
class NormalizationLayer : public TypedLayer {
 public:
  NormalizationLayer(std::vector<int64_t> axes, bool invert, bool broadcast, Shape mean_shape, std::vector<float> mean,
                     std::vector<float> denom)
      : axes_(std::move(axes)), invert_(invert), broadcast_(broadcast), mean_shape_(std::move(mean_shape)),
        mean_(std::move(mean)), denom_(std::move(denom)) {}
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    positional_only(call);
    expect_one_input(call, inputs, "Normalization");
    const Shape s = sink.type(inputs[0]).shape;
    std::vector<int> keep;
    for (int64_t a : axes_) keep.push_back(normalize_axis(a, s.size(), call.where + ": "));
    std::sort(keep.begin(), keep.end());
    if (std::adjacent_find(keep.begin(), keep.end()) != keep.end())
      throw Error(call.where + ": 'axis' names the same axis twice");
    const size_t m = mean_shape_.size();
    Shape cshape(s.size(), 1);
    for (size_t j = 0; j < m; ++j) {
      const int axis = keep[keep.size() - m + j];
      const int64_t want = mean_shape_[j], got = s[axis];
      if (!(got < 0 || got == want || (broadcast_ && want == 1)))
        throw Error(call.where + ": mean/variance of shape " + shape_to_string(mean_shape_) + " do not fit input shape " +
                    shape_to_string(s));
      cshape[axis] = want;
    }
    auto constant = [&](const std::vector<float>& v, const char* name) {
      return sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {weight(name, v, cshape)}, {}).at(0);
    };
    int x = sink.cast(inputs[0], DType::kFloat32);
    const int mean = constant(mean_, "mean"), denom = constant(denom_, "denominator");
    if (invert_) {
      x = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kMul}, {}, {x, denom}).at(0);
      return sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kAdd}, {}, {x, mean});
    }
    x = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kSub}, {}, {x, mean}).at(0);
    return sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kDiv}, {}, {x, denom});
  }

 private:
  std::vector<int64_t> axes_;
  bool invert_;
  bool broadcast_;  // config values broadcast (size-1 dims); stored weights match exactly
  Shape mean_shape_;
  std::vector<float> mean_, denom_;
};

// ---- CategoryEncoding and Discretization --------------------------------------------------------
enum class Output { kInt, kOneHot, kMultiHot, kCount };

Output parse_output_mode(const Config& c, bool allow_int, const std::string& fallback) {
  std::string mode = c.str("output_mode", fallback);
  if (mode == "binary") mode = "multi_hot";
  if (mode == "one_hot") return Output::kOneHot;
  if (mode == "multi_hot") return Output::kMultiHot;
  if (mode == "count") return Output::kCount;
  if (mode == "int" && allow_int) return Output::kInt;
  c.fail("unsupported output_mode '" + mode + "'");
}

ir::EncodeMode encode_mode(Output o) {
  return o == Output::kOneHot ? ir::EncodeMode::kOneHot : o == Output::kCount ? ir::EncodeMode::kCount
                                                                             : ir::EncodeMode::kMultiHot;
}

// Ids (float32 ids are truncated like a cast to int) to one/multi-hot or counts, with optional
// count weights by keyword or as the second positional tensor.
class CategoryEncodingLayer : public TypedLayer {
 public:
  CategoryEncodingLayer(Output mode, int64_t depth) : mode_(mode), depth_(depth) {}
  void check_call(const Call& call) const override { count_weights_of(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    const bool weighted = count_weights_of(call);
    if (inputs.size() != (weighted ? 2u : 1u))
      throw Error(call.where + ": CategoryEncoding takes " + std::to_string(weighted ? 2 : 1) + " input(s), got " +
                  std::to_string(inputs.size()));
    const Shape& s = sink.type(inputs[0]).shape;
    if (s.empty()) throw Error(call.where + ": expects a tensor of rank >= 1");
    if (mode_ != Output::kOneHot && s.size() > 2)
      throw Error(call.where + ": output_mode multi_hot/count supports inputs up to rank 2, got " + shape_to_string(s));
    std::vector<int> in{ids(sink, inputs[0])};
    if (weighted) in.push_back(sink.cast(inputs[1], DType::kFloat32));
    return sink.add(ir::OpKind::kCategoryEncode, ir::CategoryEncodeAttrs{encode_mode(mode_), depth_}, {}, in);
  }

 private:
  static int ids(NodeSink& sink, int v) {
    const DType d = sink.type(v).dtype;
    return d == DType::kInt32 || d == DType::kInt64 ? v : sink.cast(v, DType::kFloat32);
  }
  bool count_weights_of(const Call& call) const {
    bool weighted = false;
    for (size_t i = 0; i < call.roles.size(); ++i) {
      const std::string& r = call.roles[i];
      if (i == 0 && r.empty()) continue;
      if (!(r == "count_weights" || (r.empty() && i == 1)) || weighted)
        throw Error(call.where + ": CategoryEncoding takes the ids and an optional 'count_weights' tensor");
      weighted = true;
    }
    if (weighted && mode_ != Output::kCount)
      throw Error(call.where + ": 'count_weights' is only used with output_mode 'count'");
    return weighted;
  }

  Output mode_;
  int64_t depth_;
};

// Bucket index = number of boundaries <= x (int64 for output_mode int), else encoded.
class DiscretizationLayer : public TypedLayer {
 public:
  DiscretizationLayer(Output mode, std::vector<double> boundaries) : mode_(mode), boundaries_(std::move(boundaries)) {}
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    positional_only(call);
    expect_one_input(call, inputs, "Discretization");
    int x = sink.cast(inputs[0], DType::kFloat32);
    int ids = sink.add(ir::OpKind::kBucketize, ir::BucketizeAttrs{boundaries_}, {}, {x}).at(0);
    if (mode_ == Output::kInt) return {ids};  // int64, as Keras gives them
    const int64_t depth = static_cast<int64_t>(boundaries_.size()) + 1;
    return sink.add(ir::OpKind::kCategoryEncode, ir::CategoryEncodeAttrs{encode_mode(mode_), depth}, {}, {ids});
  }

 private:
  Output mode_;
  std::vector<double> boundaries_;
};

// ---- Pipeline -----------------------------------------------------------------------------------
// One layer of a Pipeline: typed, or (for a class without a parser) its kerasrt::Op as a custom node.
struct Stage {
  std::shared_ptr<const TypedLayer> typed;
  std::shared_ptr<Op> op;
  std::string cls;
};

// Its layers applied in order, each called with the one tensor; a call's training=True reaches each.
class PipelineLayer : public TypedLayer {
 public:
  explicit PipelineLayer(std::vector<Stage> stages) : stages_(std::move(stages)) {}
  int64_t param_count() const override {
    int64_t n = 0;
    for (const Stage& s : stages_) n += s.typed ? s.typed->param_count() : s.op->param_count();
    return n;
  }
  void check_call(const Call& call) const override {
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": Pipeline does not take the tensor keyword '" + r + "'");
    Call sub = sub_call(call);
    for (const Stage& s : stages_) {
      if (s.typed) s.typed->check_call(sub);
      else s.op->bind(sub);
    }
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    expect_one_input(call, inputs, "Pipeline");
    Call sub = sub_call(call);
    int x = inputs[0];
    for (const Stage& s : stages_) {
      std::vector<int> outs;
      if (s.typed) {
        const int in[1] = {x};
        outs = s.typed->call(sink, sub, in);
      } else {
        outs = sink.add(ir::OpKind::kCustom, ir::CustomAttrs{s.op->bind(sub), s.cls}, {},
                        {sink.cast(x, DType::kFloat32)});
      }
      if (outs.size() != 1) throw Error(call.where + ": every layer in a Pipeline must have one output");
      x = outs[0];
    }
    return {own_value(sink, sink.cast(x, DType::kFloat32), inputs[0])};
  }

 private:
  static Call sub_call(const Call& call) {
    Call sub;
    sub.roles = {""};
    sub.args = Json::array({tensor_placeholder(0)});
    if (call_wants_training(call)) sub.kwargs["training"] = true;
    sub.where = call.where;
    return sub;
  }

  std::vector<Stage> stages_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_augmentation(const LayerSpec& spec) {
  return std::make_shared<AugmentationLayer>(spec.class_name);
}

std::shared_ptr<const TypedLayer> parse_normalization(const LayerSpec& spec) {
  Config c(spec);
  const Json& cfg = spec.config;
  std::vector<int64_t> axes;
  if (!cfg.contains("axis")) axes = {-1};
  else if (cfg["axis"].is_null()) axes = {};  // one mean/variance for everything
  else if (cfg["axis"].is_number_integer()) axes = {cfg["axis"].get<int64_t>()};
  else axes = c.int_list("axis");
  const bool invert = c.flag("invert", false);
  const bool has_mean = c.has("mean"), has_variance = c.has("variance");
  if (has_mean != has_variance) c.fail("'mean' and 'variance' must be given together");
  std::vector<float> mean, variance;
  Shape mean_shape;
  if (has_mean) {
    Shape variance_shape;
    if (!flatten_nested(c.raw("mean"), mean, mean_shape, 0) ||
        !flatten_nested(c.raw("variance"), variance, variance_shape, 0))
      c.fail("'mean' and 'variance' must be numbers or rectangular lists of numbers");
    if (variance_shape != mean_shape) c.fail("'mean' and 'variance' must have the same shape");
    if (mean_shape.size() > axes.size())
      c.fail("the rank of 'mean' (" + std::to_string(mean_shape.size()) + ") exceeds the number of axes (" +
             std::to_string(axes.size()) + ")");
  } else {
    const Weights::Entry* m = spec.weights.peek();
    if (!m) c.fail("has neither 'mean'/'variance' in its config nor stored weights");
    if (m->shape.size() != axes.size())
      c.fail("stored mean has shape " + shape_to_string(m->shape) + ", expected one dimension per axis (" +
             std::to_string(axes.size()) + ")");
    mean_shape = m->shape;
    mean = spec.weights.take("mean", mean_shape);
    variance = spec.weights.take("variance", mean_shape);
    spec.weights.take("count", {});
  }
  std::vector<float> denom(variance.size());
  for (size_t i = 0; i < variance.size(); ++i) denom[i] = std::max(std::sqrt(variance[i]), 1e-7f);
  return std::make_shared<NormalizationLayer>(std::move(axes), invert, has_mean, std::move(mean_shape), std::move(mean),
                                              std::move(denom));
}

std::shared_ptr<const TypedLayer> parse_category_encoding(const LayerSpec& spec) {
  Config c(spec);
  const int64_t depth = c.integer("num_tokens", c.integer("max_tokens", -1));  // Keras 2.x called it max_tokens
  if (depth < 1) c.fail("'num_tokens' must be set and >= 1");
  const Output mode = parse_output_mode(c, false, "multi_hot");
  if (c.flag("sparse", false)) c.fail("sparse outputs are not supported");
  return std::make_shared<CategoryEncodingLayer>(mode, depth);
}

std::shared_ptr<const TypedLayer> parse_discretization(const LayerSpec& spec) {
  Config c(spec);
  if (!c.has("bin_boundaries")) c.fail("has no 'bin_boundaries' (a layer with only 'num_bins' was never adapted)");
  const Json& b = c.raw("bin_boundaries");
  if (!b.is_array()) c.fail("'bin_boundaries' should be a list of numbers");
  std::vector<double> boundaries;
  for (const Json& v : b) {
    if (!v.is_number()) c.fail("'bin_boundaries' should be a list of numbers");
    boundaries.push_back(v.get<double>());
  }
  if (!std::is_sorted(boundaries.begin(), boundaries.end())) c.fail("'bin_boundaries' must be sorted");
  const Output mode = parse_output_mode(c, true, "int");
  if (c.flag("sparse", false)) c.fail("sparse outputs are not supported");
  return std::make_shared<DiscretizationLayer>(mode, std::move(boundaries));
}

std::shared_ptr<const TypedLayer> parse_pipeline(const LayerSpec& spec) {
  Config c(spec);
  const Json& list = c.raw("layers");
  if (!list.is_array()) c.fail("'layers' should be a list of serialized layers");
  std::vector<Stage> stages;
  for (const Json& l : list) {
    if (!l.is_object()) c.fail("'layers' should be a list of serialized layers");
    Stage s;
    LayerKey key = layer_key(l);
    TypedParser parser = user_registered(key) ? nullptr : typed_parser(key.key);
    if (parser) s.typed = parser(layer_spec(l, spec.weights, spec.where, saved_by(spec)));
    if (!s.typed) {
      s.op = make_layer(l, spec.weights, spec.where, saved_by(spec));
      s.cls = key.key;
    }
    stages.push_back(std::move(s));
  }
  PipelineLayer p(stages);
  p.check_call(Call{{""}, Json::array({tensor_placeholder(0)}), Json::object(), spec.where});
  return std::make_shared<PipelineLayer>(std::move(stages));
}

}  // namespace kerasrt::format
