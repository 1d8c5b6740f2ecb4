// `kerasrt info --ir`: the ir as JSON (schema: docs/ir.schema.json).
#include <nlohmann/json.hpp>

#include "api/model_impl.hpp"

namespace kerasrt {
namespace {

using Json = nlohmann::ordered_json;

Json shape_json(const Shape& s) {
  Json a = Json::array();
  for (int64_t d : s) a.push_back(d < 0 ? Json(nullptr) : Json(d));
  return a;
}

// One overload per attribute struct: adding an op family without one does not compile.
Json attrs_json(const ir::CustomAttrs& a) { return {{"class", a.class_name}}; }
Json attrs_json(const ir::UnaryAttrs& a) {
  Json j = {{"fn", ir::unary_fn_name(a.fn)}};
  if (a.alpha != 0.f) j["alpha"] = a.alpha;
  if (a.beta != 0.f) j["beta"] = a.beta;
  if (a.gamma != 0.f) j["gamma"] = a.gamma;
  return j;
}
Json attrs_json(const ir::BinaryAttrs& a) { return {{"fn", ir::binary_fn_name(a.fn)}}; }
Json attrs_json(const ir::CastAttrs& a) {
  Json j = {{"to", dtype_name(a.to)}};
  if (a.narrow != ir::Narrow::kNone) j["narrow"] = ir::narrow_name(a.narrow);
  return j;
}
Json attrs_json(const ir::ConstantAttrs&) { return Json::object(); }
Json attrs_json(const ir::WhereAttrs&) { return Json::object(); }
Json attrs_json(const ir::GatherAttrs& a) { return {{"rows", a.rows}, {"dim", a.dim}}; }
Json attrs_json(const ir::ExpandDimsAttrs& a) { return {{"axis", a.axis}, {"count", a.count}}; }
Json attrs_json(const ir::RnnAttrs& a) {
  return {{"cell", ir::rnn_cell_name(a.cell)}, {"in", a.in}, {"units", a.units},
          {"activation", attrs_json(a.activation)}, {"recurrent_activation", attrs_json(a.recurrent_activation)},
          {"return_sequences", a.return_sequences}, {"return_state", a.return_state},
          {"go_backwards", a.go_backwards}, {"zero_output_for_mask", a.zero_output_for_mask},
          {"reset_after", a.reset_after}, {"has_bias", a.has_bias}, {"initial_states", a.initial_states},
          {"has_mask", a.has_mask}, {"reverse_output", a.reverse_output}};
}
Json attrs_json(const ir::AttentionAttrs& a) {
  return {{"heads", a.heads}, {"kv_heads", a.kv_heads}, {"key_dim", a.key_dim}, {"value_dim", a.value_dim},
          {"scale", a.scale}, {"causal", a.causal}, {"window", a.window}, {"attention_mask", a.has_attention_mask},
          {"query_mask", a.has_query_mask}, {"value_mask", a.has_value_mask}, {"key_mask", a.has_key_mask},
          {"uniform_if_fully_masked", a.uniform_if_fully_masked}, {"return_scores", a.return_scores}};
}
Json attrs_json(const ir::DenseAttrs& a) {
  return {{"in", a.in}, {"units", a.units}, {"has_bias", a.has_bias}, {"activation", attrs_json(a.activation)},
          {"bfloat16_compute", a.bfloat16_compute}};
}
Json attrs_json(const ir::ConvAttrs& a) {
  auto dims = [&](const ir::ConvDims& d) { return Json(std::vector<int64_t>(d.begin(), d.begin() + a.rank)); };
  Json j = {{"rank", a.rank}, {"kernel", dims(a.kernel)}, {"strides", dims(a.strides)},
            {"dilations", dims(a.dilations)}, {"padding", ir::conv_padding_name(a.padding)},
            {"in_channels", a.in_channels}, {"filters", a.filters}, {"groups", a.groups},
            {"transpose", a.transpose}, {"channels_first", a.channels_first}, {"has_bias", a.has_bias},
            {"activation", attrs_json(a.activation)}};
  if (a.transpose) j["output_padding"] = dims(a.output_padding);
  return j;
}
Json attrs_json(const ir::ConvLstmAttrs& a) {
  return {{"input", attrs_json(a.input)}, {"activation", attrs_json(a.activation)},
          {"recurrent_activation", attrs_json(a.recurrent_activation)}, {"return_sequences", a.return_sequences},
          {"return_state", a.return_state}, {"go_backwards", a.go_backwards},
          {"zero_output_for_mask", a.zero_output_for_mask}, {"reverse_output", a.reverse_output},
          {"initial_states", a.initial_states}, {"has_mask", a.has_mask}};
}
Json attrs_json(const ir::PoolAttrs& a) {
  Json j = {{"reduce", ir::pool_reduce_name(a.reduce)}, {"window", ir::pool_window_name(a.window)},
            {"spatial", a.spatial}, {"channels_first", a.channels_first}};
  const std::vector<int64_t> size(a.size.begin(), a.size.begin() + a.spatial);
  const std::vector<int64_t> strides(a.strides.begin(), a.strides.begin() + a.spatial);
  if (a.window == ir::PoolWindow::kSliding) {
    j["size"] = size;
    j["strides"] = strides;
    j["padding"] = a.same_padding ? "same" : "valid";
    if (a.same_replicates_edges) j["same_replicates_edges"] = true;
  }
  if (a.window == ir::PoolWindow::kAdaptive) j["output_size"] = size;
  if (a.window == ir::PoolWindow::kGlobal) j["keepdims"] = a.keepdims;
  return j;
}
Json attrs_json(const ir::BatchNormAttrs& a) {
  Json j = {{"axes", a.axes}, {"batch_statistics", a.batch_statistics}};
  if (a.batch_statistics) j["epsilon"] = a.epsilon;
  return j;
}
Json attrs_json(const ir::NormalizeAttrs& a) {
  return {{"mode", ir::normalize_mode_name(a.mode)}, {"axes", a.axes}, {"epsilon", a.epsilon}, {"center", a.center},
          {"has_gamma", a.has_gamma}, {"has_beta", a.has_beta}};
}
Json attrs_json(const ir::GroupNormAttrs& a) {
  return {{"axis", a.axis}, {"groups", a.groups}, {"epsilon", a.epsilon}, {"has_gamma", a.has_gamma}, {"has_beta", a.has_beta}};
}
Json attrs_json(const ir::ReshapeAttrs& a) {
  if (a.keep_shape) return {{"keep_shape", true}};
  if (a.time_fold != ir::TimeFold::kNone) return {{"time_fold", a.time_fold == ir::TimeFold::kFold ? "fold" : "unfold"}};
  if (!a.squeeze.empty()) return {{"squeeze", a.squeeze}};
  Json j = {{"target", a.target}};  // -1: whatever is left
  if (a.full) j["full"] = true;
  return j;
}
Json attrs_json(const ir::TransposeAttrs& a) { return {{"perm", a.perm}}; }
Json attrs_json(const ir::RepeatAttrs& a) { return {{"axis", a.axis}, {"times", a.times}}; }
Json attrs_json(const ir::ConcatAttrs& a) { return {{"axis", a.axis}, {"stack", a.stack}}; }
Json attrs_json(const ir::SoftmaxAttrs& a) { return {{"axes", a.axes}, {"log", a.log}}; }
Json attrs_json(const ir::PadAttrs& a) { return {{"before", a.before}, {"after", a.after}}; }
Json attrs_json(const ir::UpsampleAttrs& a) { return {{"factors", a.factors}}; }
Json attrs_json(const ir::SliceAttrs& a) {
  // Bounds past an end print as null, as Python writes an open slice.
  auto bound = [](int64_t b) { return b == ir::kSliceEnd || b == ir::kSliceBegin ? Json(nullptr) : Json(b); };
  Json axes = Json::array();
  for (const ir::SliceAxis& s : a.axes)
    axes.push_back(s.index ? Json{{"index", s.start}} : Json{{"start", bound(s.start)}, {"stop", bound(s.stop)}, {"step", s.step}});
  return {{"axes", axes}, {"new_axes", a.new_axes}};
}
Json attrs_json(const ir::ReduceAttrs& a) {
  Json j = {{"fn", ir::reduce_fn_name(a.fn)}, {"axes", a.axes}, {"keepdims", a.keepdims}};
  if (a.has_initial) j["initial"] = a.initial;
  return j;
}
Json attrs_json(const ir::MatmulAttrs& a) { return {{"transpose_a", a.transpose_a}, {"transpose_b", a.transpose_b}}; }
// The equation spelled back as letters ("...ij,jk->...ik").
Json attrs_json(const ir::EinsumAttrs& a) {
  auto term = [](const std::vector<int>& t) {
    std::string s;
    for (int l : t) s += l == ir::kEinsumEllipsis ? std::string("...") : std::string(1, static_cast<char>(l < 26 ? 'A' + l : 'a' + l - 26));
    return s;
  };
  std::string eq;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    if (i) eq += ',';
    eq += term(a.inputs[i]);
  }
  return {{"equation", eq + "->" + term(a.output)}, {"weight_operand", a.weight_operand}};
}
Json attrs_json(const ir::CategoryEncodeAttrs& a) { return {{"mode", ir::encode_mode_name(a.mode)}, {"depth", a.depth}}; }
Json attrs_json(const ir::BucketizeAttrs& a) { return {{"boundaries", a.boundaries}}; }
Json attrs_json(const ir::ResizeAttrs& a) {
  Json j = {{"interpolation", ir::interpolation_name(a.interpolation)}, {"fit", ir::resize_fit_name(a.fit)},
            {"channels_first", a.channels_first}, {"antialias", a.antialias}, {"double_precision", a.double_precision}};
  if (a.factor_h > 0) j["factors"] = {a.factor_h, a.factor_w};
  else j["size"] = {a.height, a.width};
  if (a.fit == ir::ResizeFit::kPadToAspect) j["fill_value"] = a.fill_value;
  return j;
}
Json attrs_json(const ir::StftAttrs& a) {
  return {{"frame_length", a.frame_length}, {"frame_step", a.frame_step}, {"freq", a.freq},
          {"fft_length", a.fft_length}, {"padding", ir::stft_padding_name(a.padding)},
          {"output", ir::stft_output_name(a.output)}, {"exponent", a.exponent}, {"window", a.window},
          {"channels_first", a.channels_first}, {"expand_dims", a.expand_dims}};
}
Json attrs_json(const ir::PowerToDbAttrs& a) {
  return {{"min_power", a.min_power}, {"ref_db", a.ref_db}, {"top_db", a.top_db}};
}
Json attrs_json(const ir::AutoContrastAttrs& a) { return {{"value_range", {a.low, a.high}}}; }
Json attrs_json(const ir::EqualizeAttrs& a) {
  return {{"bins", a.bins}, {"value_range", {a.low, a.high}}, {"channels_first", a.channels_first}};
}
Json attrs_json(const ir::ClaheAttrs& a) {
  return {{"value_range", {a.low, a.high}}, {"clip_limit", a.clip_limit}, {"tile_grid", {a.grid_h, a.grid_w}},
          {"channels_first", a.channels_first}};
}

}  // namespace

std::string Model::ir_json(const std::vector<Shape>& kernels_for) const {
  const ir::Graph& g = impl_->graph;
  std::shared_ptr<const plan::Plan> plan;
  if (!kernels_for.empty()) {
    if (kernels_for.size() != g.inputs.size())
      throw Error("the model takes " + std::to_string(g.inputs.size()) + " inputs, got " +
                  std::to_string(kernels_for.size()) + " shapes");
    plan = impl_->plan_for(kernels_for, g.output_values);  // nodes off the way to the outputs get no kernel
  }
  Json j;
  j["format"] = "kerasrt-ir";
  j["version"] = 1;
  j["name"] = g.name;
  auto io = [&](const std::vector<TensorInfo>& infos, const std::vector<int>& ids) {
    Json a = Json::array();
    for (size_t i = 0; i < infos.size(); ++i) a.push_back({{"name", infos[i].name}, {"value", ids[i]}});
    return a;
  };
  j["inputs"] = io(g.inputs, g.input_values);
  j["outputs"] = io(g.outputs, g.output_values);
  std::vector<Json> names(g.values.size(), Json::array());
  for (const auto& [name, v] : g.named_values) names[v].push_back(name);
  Json values = Json::array();
  for (size_t v = 0; v < g.values.size(); ++v) {
    const ir::Value& val = g.values[v];
    values.push_back({{"id", v},
                      {"shape", shape_json(val.type.shape)},
                      {"dtype", dtype_name(val.type.dtype)},
                      {"producer", val.producer < 0 ? Json(nullptr) : Json(val.producer)},
                      {"names", names[v]}});
  }
  j["values"] = values;
  std::vector<const plan::Step*> step_of(g.nodes.size(), nullptr);
  std::vector<int> fused_into(g.nodes.size(), -1);
  if (plan)
    for (const plan::Step& s : plan->steps) {
      step_of[s.node] = &s;
      for (int f : s.fused) fused_into[f] = s.node;
    }
  Json nodes = Json::array();
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    Json weights = Json::array();
    for (const ir::Weight& w : node.weights)
      weights.push_back({{"name", w.name}, {"shape", shape_json(w.value->shape)}, {"dtype", dtype_name(w.value->dtype)}});
    Json e = {{"id", n},
              {"op", ir::op_kind_name(node.kind)},
              {"layer", node.layer},
              {"inputs", node.inputs},
              {"outputs", node.outputs},
              {"attrs", std::visit([](const auto& a) { return attrs_json(a); }, node.attrs)},
              {"weights", weights}};
    if (step_of[n]) e["kernel"] = step_of[n]->kernel->name;
    if (fused_into[n] >= 0) e["fused_into"] = fused_into[n];  // run as a post op of that node's kernel
    nodes.push_back(std::move(e));
  }
  j["nodes"] = nodes;
  if (plan) j["arena_bytes"] = plan->arena_bytes;
  return j.dump(1);
}

}  // namespace kerasrt
