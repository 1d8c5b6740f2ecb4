#include "format/keras/implicit_masks.hpp"

#include <algorithm>

#include "format/keras/call_args.hpp"

namespace kerasrt::format {
namespace {

bool one_of(const std::string& cls, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return cls == n; });
}

// Classes whose compute_mask hands the input's mask to the output unchanged.
bool passes_mask(const std::string& cls) {
  return one_of(cls, {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                      "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Activation", "Dense",
                      "BatchNormalization", "LayerNormalization", "TimeDistributed", "LeakyReLU", "ReLU", "ELU",
                      "PReLU", "ThresholdedReLU", "Softmax", "Identity"});
}

bool is_recurrent(const std::string& cls) { return one_of(cls, {"SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional"}); }

bool flag(const Json& config, const char* key) {
  return config.is_object() && config.contains(key) && config[key].is_boolean() && config[key].get<bool>();
}

// return_sequences of a recurrent layer, or of the layer Bidirectional wraps.
bool returns_sequences(const std::string& cls, const Json& config) {
  if (cls != "Bidirectional") return flag(config, "return_sequences");
  if (!config.is_object() || !config.contains("layer") || !config["layer"].is_object()) return false;
  const Json& inner = config["layer"];
  return inner.contains("config") && flag(inner["config"], "return_sequences");
}

int logical_and(NodeSink& sink, std::span<const int> masks) {
  int out = -1;
  for (int m : masks) {
    if (m < 0) continue;
    out = out < 0 ? m : sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kLogicalAnd}, {}, {out, m}).at(0);
  }
  return out;
}

// A scalar constant of `dtype` holding `value`.
int scalar(NodeSink& sink, DType dtype, float value) {
  auto t = std::make_shared<Tensor>(Shape{}, DType::kFloat32);
  t->floats()[0] = value;
  auto c = std::make_shared<const Tensor>(t->cast(dtype));
  return sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {ir::Weight{"value", c}}, {}).at(0);
}

}  // namespace

void attach_implicit_masks(const std::string& cls, std::span<const int> input_masks, Call& call, std::vector<int>& inputs) {
  auto mask_of = [&](size_t i) { return i < input_masks.size() ? input_masks[i] : -1; };
  auto passed = [&](const char* key) { return call.kwargs.contains(key) && !call.kwargs[key].is_null(); };
  auto add = [&](int value, const char* role) {
    inputs.push_back(value);
    call.roles.emplace_back(role);
    return tensor_placeholder(static_cast<int>(inputs.size()) - 1);
  };
  if (is_recurrent(cls) || cls == "GlobalAveragePooling1D") {
    if (mask_of(0) >= 0 && !passed("mask")) call.kwargs["mask"] = add(mask_of(0), "mask");
    return;
  }
  if (cls == "Attention" || cls == "AdditiveAttention") {  // called on [query, value(, key)]
    if ((mask_of(0) >= 0 || mask_of(1) >= 0) && !passed("mask"))
      call.kwargs["mask"] = Json::array({mask_of(0) >= 0 ? add(mask_of(0), "mask") : Json(nullptr),
                                         mask_of(1) >= 0 ? add(mask_of(1), "mask") : Json(nullptr)});
    return;
  }
  if (cls == "MultiHeadAttention") {  // query positional, value and key by keyword or position
    std::vector<int> positional;
    if (call.args.is_array()) collect_tensors(call.args, positional);
    auto tensor_of = [&](const char* key, size_t pos) -> int {
      std::optional<int> i;
      if (call.kwargs.contains(key)) i = placeholder_index(call.kwargs[key]);
      else if (pos < positional.size()) i = positional[pos];
      return i ? *i : -1;
    };
    const int q = tensor_of("query", 0), v = tensor_of("value", 1), k = tensor_of("key", 2);
    const int qm = q >= 0 ? mask_of(static_cast<size_t>(q)) : -1, vm = v >= 0 ? mask_of(static_cast<size_t>(v)) : -1;
    const int km = k >= 0 ? mask_of(static_cast<size_t>(k)) : -1;
    if (qm >= 0 && !passed("query_mask")) call.kwargs["query_mask"] = add(qm, "query_mask");
    if (vm >= 0 && !passed("value_mask")) call.kwargs["value_mask"] = add(vm, "value_mask");
    if (km >= 0 && !passed("key_mask")) call.kwargs["key_mask"] = add(km, "key_mask");
  }
}

std::vector<int> implicit_output_masks(NodeSink& sink, const std::string& cls, const Json& config,
                                       std::span<const int> inputs, std::span<const int> input_masks,
                                       std::span<const int> outputs) {
  std::vector<int> out(outputs.size(), -1);
  if (outputs.empty() || inputs.empty()) return out;
  const int first = input_masks.empty() ? -1 : input_masks[0];
  if (cls == "Masking") {  // any(x != mask_value) over the last axis
    const int x = sink.cast(inputs[0], DType::kFloat32);
    const double value = config.contains("mask_value") && config["mask_value"].is_number() ? config["mask_value"].get<double>() : 0.0;
    const int differs = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kNotEqual}, {},
                                 {x, scalar(sink, DType::kFloat32, static_cast<float>(value))}).at(0);
    ir::ReduceAttrs any;
    any.fn = ir::ReduceFn::kAny;
    any.axes = {static_cast<int>(sink.type(x).shape.size()) - 1};
    out[0] = sink.add(ir::OpKind::kReduce, any, {}, {differs}).at(0);
  } else if (cls == "Embedding") {  // ids != 0
    if (flag(config, "mask_zero")) {
      const DType t = sink.type(inputs[0]).dtype;
      out[0] = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kNotEqual}, {}, {inputs[0], scalar(sink, t, 0.f)}).at(0);
    }
  } else if (passes_mask(cls)) {
    std::fill(out.begin(), out.end(), first);
  } else if (is_recurrent(cls)) {
    // Sequences keep the input's mask (Bidirectional without merge_mode: both halves); states none.
    if (returns_sequences(cls, config)) {
      out[0] = first;
      const bool split = cls == "Bidirectional" && config.contains("merge_mode") && config["merge_mode"].is_null();
      if (split && out.size() > 1) out[1] = first;
    }
  } else if (one_of(cls, {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})) {
    out[0] = logical_and(sink, input_masks);
  } else if (cls == "Concatenate") {
    // Along the features: a step is kept where every masked input keeps it. Along the steps: the
    // masks joined, when every input has one.
    const int rank = static_cast<int>(sink.type(outputs[0]).shape.size());
    int axis = config.contains("axis") && config["axis"].is_number_integer() ? config["axis"].get<int>() : -1;
    if (axis < 0) axis += rank;
    const bool all = std::all_of(input_masks.begin(), input_masks.end(), [](int m) { return m >= 0; });
    if (axis == rank - 1) out[0] = logical_and(sink, input_masks);
    else if (axis == 1 && rank >= 3 && all)
      out[0] = sink.add(ir::OpKind::kConcat, ir::ConcatAttrs{1, false}, {}, {input_masks.begin(), input_masks.end()}).at(0);
  } else if (one_of(cls, {"Attention", "AdditiveAttention", "MultiHeadAttention"})) {
    out[0] = first;  // the query's mask
  }
  return out;
}

}  // namespace kerasrt::format
