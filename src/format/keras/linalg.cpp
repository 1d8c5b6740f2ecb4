// Linear algebra layers and op nodes: keras.ops.matmul and einsum, the Dot merge layer (batch_dot,
// optionally l2-normalized first), EinsumDense (einsum with its kernel, then bias and activation)
// and TernaryDense (a dense node over the kernel as its forward pass snaps it).
#include <algorithm>
#include <cmath>
#include <optional>

#include "format/keras/call_args.hpp"
#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config
#include "format/keras/layer_registry.hpp"  // op_node_key

namespace kerasrt::format {
namespace {

// ---- einsum subscripts ------------------------------------------------------------------------------

struct Subscripts {
  std::vector<std::vector<int>> inputs;
  std::optional<std::vector<int>> output;  // nullopt: the implicit form (no "->")
};

int label_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -2;
}

// One term ("ij", "...ij"); false on anything but letters and at most one "...".
bool parse_term(const std::string& t, std::vector<int>& out) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '.') {
      if (t.compare(i, 3, "...") != 0 || std::count(out.begin(), out.end(), ir::kEinsumEllipsis)) return false;
      out.push_back(ir::kEinsumEllipsis);
      i += 2;
      continue;
    }
    const int l = label_of(t[i]);
    if (l < 0) return false;
    out.push_back(l);
  }
  return true;
}

// "ij,jk->ik", "...ij->...ji", implicit "ij,jk"; spaces are ignored. nullopt when malformed.
std::optional<Subscripts> parse_subscripts(const std::string& spelled) {
  std::string s;
  for (char c : spelled)
    if (c != ' ') s += c;
  Subscripts out;
  const size_t arrow = s.find("->");
  const std::string lhs = s.substr(0, arrow);
  if (arrow != std::string::npos) {
    out.output.emplace();
    if (!parse_term(s.substr(arrow + 2), *out.output)) return std::nullopt;
  }
  size_t start = 0;
  while (true) {
    const size_t comma = lhs.find(',', start);
    out.inputs.emplace_back();
    if (!parse_term(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start), out.inputs.back()))
      return std::nullopt;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// The ir attrs: the implicit output is the broadcast axes, then the labels seen once, sorted.
ir::EinsumAttrs einsum_attrs(const Subscripts& s) {
  ir::EinsumAttrs a;
  a.inputs = s.inputs;
  if (s.output) {
    a.output = *s.output;
    return a;
  }
  int counts[ir::kEinsumLetters] = {};
  bool dots = false;
  for (const auto& t : s.inputs)
    for (int l : t) {
      if (l == ir::kEinsumEllipsis) dots = true;
      else ++counts[l];
    }
  if (dots) a.output.push_back(ir::kEinsumEllipsis);
  for (int l = 0; l < ir::kEinsumLetters; ++l)
    if (counts[l] == 1) a.output.push_back(l);
  return a;
}

// ---- keras.ops.matmul, keras.ops.einsum --------------------------------------------------------------

class MatmulNode : public TypedLayer {
 public:
  void check_call(const Call& call) const override {
    CallArgs args(call);
    args.tensor(0, "x1");
    args.tensor(1, "x2");
    args.finish();
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    CallArgs args(call);
    const int a = inputs[args.tensor(0, "x1")], b = inputs[args.tensor(1, "x2")];
    args.finish();
    return sink.add(ir::OpKind::kMatmul, ir::MatmulAttrs{}, {},
                    {sink.cast(a, DType::kFloat32), sink.cast(b, DType::kFloat32)});
  }
};

class EinsumNode : public TypedLayer {
 public:
  EinsumNode(std::string spelled, Subscripts s) : spelled_(std::move(spelled)), s_(std::move(s)) {}
  void check_call(const Call& call) const override { operands(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    std::vector<int> in;
    for (int o : operands(call)) in.push_back(sink.cast(inputs[o], DType::kFloat32));
    return sink.add(ir::OpKind::kEinsum, einsum_attrs(s_), {}, std::move(in));
  }

 private:
  std::vector<int> operands(const Call& call) const {
    CallArgs args(call);
    std::vector<int> out;
    for (size_t i = 0; i < args.positional_count(); ++i) out.push_back(args.tensor(i, "operands"));
    if (out.empty()) args.fail("einsum needs at least one operand");
    if (s_.inputs.size() != out.size())
      args.fail("einsum subscripts '" + spelled_ + "' name " + std::to_string(s_.inputs.size()) +
                " operands, the call passes " + std::to_string(out.size()));
    args.finish();
    return out;
  }
  std::string spelled_;
  Subscripts s_;
};

std::shared_ptr<const TypedLayer> parse_matmul_node(const LayerSpec&) { return std::make_shared<MatmulNode>(); }

std::shared_ptr<const TypedLayer> parse_einsum_node(const LayerSpec& spec) {
  Config c(spec);
  const std::string spelled = c.str("subscripts", "");
  if (spelled.empty()) c.fail("'subscripts' is missing");
  std::optional<Subscripts> s = parse_subscripts(spelled);
  if (!s) c.fail("malformed einsum subscripts '" + spelled + "'");
  return std::make_shared<EinsumNode>(spelled, std::move(*s));
}

// ---- Dot ----------------------------------------------------------------------------------------------
// Keras's batch_dot: per batch item, x's axis a0 contracted with y's axis a1; the output holds x's
// remaining axes, then y's, with a trailing 1 when none remain. Both operands become (batch, rest,
// depth) or (batch, depth, rest) matrices (a transpose first only when the axis is neither the
// first nor the last non-batch axis), one matmul, then the output's shape.

class DotLayer : public TypedLayer {
 public:
  DotLayer(std::vector<int64_t> axes, bool normalize) : axes_(std::move(axes)), normalize_(normalize) {}

  void check_call(const Call& call) const override {
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": Dot does not take the tensor argument '" + r + "'");
  }

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    if (inputs.size() != 2) throw Error("Dot takes 2 inputs, got " + std::to_string(inputs.size()));
    int x = sink.cast(inputs[0], DType::kFloat32), y = sink.cast(inputs[1], DType::kFloat32);
    const Shape xs = sink.type(x).shape, ys = sink.type(y).shape;
    if (xs.size() < 2 || ys.size() < 2)
      throw Error("Dot needs inputs of rank >= 2, got " + shape_to_string(xs) + " and " + shape_to_string(ys));
    const int a0 = normalize_axis(axes_[0], xs.size(), "Dot: ");
    const int a1 = normalize_axis(axes_[1], ys.size(), "Dot: ");
    if (a0 == 0 || a1 == 0) throw Error("Dot cannot contract the batch axis (axes " + shape_to_string(axes_) + ")");
    if (!dims_agree(xs[0], ys[0]))
      throw Error("Dot inputs have different batch sizes: " + shape_to_string(xs) + " and " + shape_to_string(ys));
    if (!dims_agree(xs[a0], ys[a1]))
      throw Error("Dot: axis " + std::to_string(a0) + " of " + shape_to_string(xs) + " does not match axis " +
                  std::to_string(a1) + " of " + shape_to_string(ys));
    if (normalize_) {
      x = l2_normalize(sink, x, a0);
      y = l2_normalize(sink, y, a1);
    }
    Shape out{xs[0] >= 0 ? xs[0] : ys[0]};
    for (size_t i = 1; i < xs.size(); ++i)
      if (static_cast<int>(i) != a0) out.push_back(xs[i]);
    for (size_t i = 1; i < ys.size(); ++i)
      if (static_cast<int>(i) != a1) out.push_back(ys[i]);
    if (out.size() == 1) out.push_back(1);
    ir::MatmulAttrs m;
    // x as (batch, rest, depth) or, with transpose_a, (batch, depth, rest); y the other way round.
    x = as_matrix(sink, x, a0, /*depth_last=*/true, m.transpose_a);
    y = as_matrix(sink, y, a1, /*depth_last=*/false, m.transpose_b);
    int r = sink.add(ir::OpKind::kMatmul, m, {}, {x, y}).at(0);
    const Shape target(out.begin() + 1, out.end());
    if (sink.type(r).shape != out) r = sink.add(ir::OpKind::kReshape, ir::ReshapeAttrs{target, false}, {}, {r}).at(0);
    return {r};
  }

 private:
  static int l2_normalize(NodeSink& sink, int v, int axis) {
    ir::NormalizeAttrs a;
    a.mode = ir::NormalizeMode::kUnit;
    a.axes = {axis};
    a.epsilon = 1e-7;  // Keras's default epsilon
    return sink.add(ir::OpKind::kNormalize, a, {}, {v}).at(0);
  }

  // v (batch, ...) with its contracted axis `axis` as a rank-3 (batch, rest, depth) value when
  // `depth_last`, else (batch, depth, rest); `transposed` says the matmul must read it the other way.
  static int as_matrix(NodeSink& sink, int v, int axis, bool depth_last, bool& transposed) {
    const Shape s = sink.type(v).shape;
    const int rank = static_cast<int>(s.size());
    transposed = false;
    bool at_end = axis == rank - 1, at_front = axis == 1;
    if (!at_end && !at_front) {  // move the axis to the end
      std::vector<int> perm;
      for (int i = 0; i < rank; ++i)
        if (i != axis) perm.push_back(i);
      perm.push_back(axis);
      v = sink.add(ir::OpKind::kTranspose, ir::TransposeAttrs{perm}, {}, {v}).at(0);
      at_end = true;
      at_front = false;
    }
    const int64_t depth = s[axis];
    int64_t rest = 1;
    for (int i = 1; i < rank; ++i)
      if (i != axis) rest = (rest < 0 || s[i] < 0) ? -1 : rest * s[i];
    // At most one unknown: depth known, or the rest; Reshape takes one -1.
    const bool end_layout = at_end && !(at_front && !depth_last);  // rank 2: both at once
    Shape target = end_layout ? Shape{rest, depth} : Shape{depth, rest};
    if (depth < 0 && rest < 0) throw Error("Dot needs the contracted axis or the other axes to be known");
    if (sink.type(v).shape.size() != 3 || sink.type(v).shape[1] != target[0] || sink.type(v).shape[2] != target[1] ||
        target[0] < 0 || target[1] < 0)
      v = sink.add(ir::OpKind::kReshape, ir::ReshapeAttrs{target, false}, {}, {v}).at(0);
    // The matmul wants x as (rest, depth) and y as (depth, rest).
    transposed = end_layout != depth_last;
    return v;
  }

  std::vector<int64_t> axes_;
  bool normalize_;
};

// ---- EinsumDense ---------------------------------------------------------------------------------------

// Tensor dtypes are stored in configs as a name or a DTypePolicy object; a quantized policy
// carries a "mode" ("int8", "ternary", ...).
std::string quantization_mode(const Json& config) {
  auto it = config.find("dtype");
  if (it == config.end() || !it->is_object()) return "";
  auto c = it->find("config");
  if (c == it->end() || !c->is_object()) return "";
  auto m = c->find("mode");
  return m != c->end() && m->is_string() ? m->get<std::string>() : "";
}

constexpr int kEll = ir::kEinsumEllipsis;

size_t letters(const std::vector<int>& t) {
  return static_cast<size_t>(std::count_if(t.begin(), t.end(), [](int l) { return l != kEll; }));
}

// The term with "..." expanded to n labels kEinsumLetters, kEinsumLetters + 1, ...
std::vector<int> expand(const std::vector<int>& term, size_t n) {
  std::vector<int> out;
  for (int l : term) {
    if (l != kEll) out.push_back(l);
    else
      for (size_t i = 0; i < n; ++i) out.push_back(ir::kEinsumLetters + static_cast<int>(i));
  }
  return out;
}

// y = activation(einsum(equation, x, kernel) + bias): an einsum node with the kernel as its weight
// operand, then an add of the bias (stored by Keras shaped to broadcast over the output's trailing
// axes) and the activation.
class EinsumDenseLayer : public TypedLayer {
 public:
  explicit EinsumDenseLayer(const LayerSpec& spec) {
    Config c(spec);
    if (!c.has("equation") || !c.raw("equation").is_string()) c.fail("config needs an 'equation' string");
    equation_ = c.str("equation", "");
    auto bad = [&](const std::string& why) { c.fail("equation '" + equation_ + "' " + why); };
    const size_t arrow = equation_.find("->");
    if (arrow == std::string::npos) bad("has no '->'");
    const std::string lhs = equation_.substr(0, arrow);
    const size_t comma = lhs.find(',');
    if (comma == std::string::npos || lhs.find(',', comma + 1) != std::string::npos)
      bad("should name exactly two operands (input and kernel)");
    std::optional<Subscripts> s = parse_subscripts(equation_);
    if (!s) bad("is malformed (letters and at most one '...' per term)");
    input_ = s->inputs[0];
    kernel_ = s->inputs[1];
    output_ = *s->output;
    if (std::count(kernel_.begin(), kernel_.end(), kEll)) bad("uses '...' in the kernel term");
    const bool in_dots = letters(input_) != input_.size(), out_dots = letters(output_) != output_.size();
    if (in_dots != out_dots) bad("must use '...' in both the input and the output, or in neither");
    for (int l : output_) {
      if (l == kEll) continue;
      if (std::count(output_.begin(), output_.end(), l) > 1) bad("repeats an output label");
      if (!std::count(input_.begin(), input_.end(), l) && !std::count(kernel_.begin(), kernel_.end(), l))
        bad("has an output label found in neither operand");
    }
    if (in_dots) {
      // Keras takes "...X,Y->...Z" and "X...,Y->Z..." (X of two or more letters) only.
      left_ellipsis_ = input_.front() == kEll && output_.front() == kEll;
      const bool right = input_.back() == kEll && output_.back() == kEll && letters(input_) >= 2;
      if (!left_ellipsis_ && !right) c.fail("equation '" + equation_ + "' puts '...' where EinsumDense does not take it");
    }
    const std::string mode = quantization_mode(spec.config);
    if (!mode.empty()) c.fail("quantized EinsumDense (mode '" + mode + "') is not supported");

    if (!c.has("output_shape")) c.fail("config needs 'output_shape'");
    const Json& os = c.raw("output_shape");
    if (os.is_number_integer()) {
      partial_output_.push_back(os.get<int64_t>());
    } else if (os.is_array()) {
      for (const Json& d : os) {
        if (d.is_null()) partial_output_.push_back(-1);
        else if (d.is_number_integer() && d.get<int64_t>() >= 0) partial_output_.push_back(d.get<int64_t>());
        else c.fail("'output_shape' should hold non-negative integers or null, got " + os.dump());
      }
    } else {
      c.fail("'output_shape' should be an integer or a list, got " + os.dump());
    }
    activation_ = c.has("activation") ? parse_activation(c.raw("activation"), spec) : ir::Activation{};
    if (activation_.fn == ir::UnaryFn::kGlu) c.fail("activation 'glu' is not supported on EinsumDense");

    const Weights::Entry* k = spec.weights.peek();
    if (!k || k->shape.size() != kernel_.size())
      c.fail("missing kernel weight or its rank differs from the equation's kernel term");
    kernel_shape_ = k->shape;
    kernel_weight_ = stored_weight(spec.weights, "kernel", "kernel", kernel_shape_);

    const std::string bias_axes = c.str("bias_axes", "");
    if (!bias_axes.empty()) {
      for (char ch : bias_axes) {
        const int l = label_of(ch);
        if (l < 0 || std::find(output_.begin(), output_.end(), l) == output_.end())
          c.fail("bias axis '" + std::string(1, ch) + "' is not in the equation's output");
        bias_labels_.push_back(l);
      }
      const Weights::Entry* b = spec.weights.peek();
      if (!b) c.fail("missing bias weight");
      bias_shape_ = b->shape;
      bias_weight_ = stored_weight(spec.weights, "bias", "bias", bias_shape_);
      // Sizes the kernel fixes can be checked now; the rest once the input shape is known.
      check_bias(kernel_only_sizes(), std::nullopt, spec.where);
    }
  }

  int64_t param_count() const override {
    return kernel_weight_.value->size() + (bias_weight_.value ? bias_weight_.value->size() : 0);
  }

  void check_call(const Call& call) const override {
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": EinsumDense does not take the tensor argument '" + r + "'");
  }

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    if (inputs.size() != 1) throw Error("EinsumDense takes 1 input, got " + std::to_string(inputs.size()));
    const int x = sink.cast(inputs[0], DType::kFloat32);
    const Shape in = sink.type(x).shape;
    const size_t n = letters(input_);
    const bool dots = n != input_.size();
    if (in.size() < n || (!dots && in.size() != n))
      throw Error("EinsumDense '" + equation_ + "' expects an input of rank " + (dots ? "at least " : "") +
                  std::to_string(n) + ", got rank " + std::to_string(in.size()));
    const size_t n_ell = in.size() - n;
    ir::EinsumAttrs a;
    a.inputs = {input_, kernel_};
    a.output = output_;
    a.weight_operand = true;
    int y;
    try {
      y = sink.add(ir::OpKind::kEinsum, a, {kernel_weight_}, {x}).at(0);
    } catch (const Error& e) {
      throw Error("EinsumDense '" + equation_ + "': " + e.what());
    }
    const Shape out = sink.type(y).shape;
    check_partial_output(n_ell, out);
    if (bias_weight_.value) {
      check_bias(out, n_ell, call.where);
      const int b = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {bias_weight_}, {}).at(0);
      y = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kAdd}, {}, {y, b}).at(0);
    }
    if (activation_.fn != ir::UnaryFn::kIdentity) y = sink.add(ir::OpKind::kUnary, activation_, {}, {y}).at(0);
    return {y};
  }

 private:
  // Output shape over the non-ellipsis output labels with only the kernel's sizes known.
  Shape kernel_only_sizes() const {
    Shape out;
    for (int l : output_) {
      int64_t s = -1;
      for (size_t i = 0; l != kEll && i < kernel_.size(); ++i)
        if (kernel_[i] == l) s = kernel_shape_[i];
      out.push_back(s);
    }
    return out;
  }

  // Keras's bias covers the output from its first bias axis to the end: the axis's size where the
  // axis is a bias axis, 1 elsewhere (ellipsis dimensions included). `out` is the full output shape
  // with `n_ellipsis` known, or (without it) one entry per output term label.
  void check_bias(const Shape& out, std::optional<size_t> n_ellipsis, const std::string& where) const {
    const std::vector<int> labels = n_ellipsis ? expand(output_, *n_ellipsis) : output_;
    size_t first = labels.size();
    for (size_t i = 0; i < labels.size(); ++i)
      if (std::find(bias_labels_.begin(), bias_labels_.end(), labels[i]) != bias_labels_.end()) {
        first = i;
        break;
      }
    if (!n_ellipsis && std::find(labels.begin() + static_cast<std::ptrdiff_t>(first), labels.end(), kEll) != labels.end())
      return;  // its length is known once the input is
    Shape expected;
    for (size_t i = first; i < labels.size(); ++i) {
      const bool biased = std::find(bias_labels_.begin(), bias_labels_.end(), labels[i]) != bias_labels_.end();
      expected.push_back(biased ? out[i] : 1);
    }
    bool ok = expected.size() == bias_shape_.size();
    for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || expected[i] == bias_shape_[i];
    if (!ok)
      throw Error(where + ": bias has shape " + shape_to_string(bias_shape_) + ", the equation '" + equation_ +
                  "' with bias_axes needs " + shape_to_string(expected));
  }

  // The config's output_shape lists the output without the batch axis and the ellipsis; its known
  // entries must agree with what the weights and the input give.
  void check_partial_output(size_t n_ell, const Shape& out) const {
    // Keras puts the batch axis (and for a leading "...", the other ellipsis dims) first.
    const size_t offset = left_ellipsis_ ? std::max<size_t>(n_ell, 1) : 1;
    const size_t end = out.size() - (left_ellipsis_ ? 0 : n_ell);
    for (size_t i = 0; i < partial_output_.size() && offset + i < end; ++i)
      if (!dims_agree(partial_output_[i], out[offset + i]))
        throw Error("EinsumDense '" + equation_ + "': output_shape " + shape_to_string(partial_output_) +
                    " disagrees with the output " + shape_to_string(out) + " the input and kernel give");
  }

  std::string equation_;
  std::vector<int> input_, kernel_, output_;
  bool left_ellipsis_ = false;
  Shape partial_output_, kernel_shape_, bias_shape_;
  ir::Weight kernel_weight_, bias_weight_;
  std::vector<int> bias_labels_;
  ir::Activation activation_;
};

// ---- TernaryDense ----------------------------------------------------------------------------------
// A dense node over the kernel as Keras's forward pass uses it, with the scale folded in: from a
// float kernel, kernel + (ternary - kernel) with ternary = sign(k) * (|k| > t), t = threshold or
// 0.5 * mean|k| (without a threshold the product is scaled by mean|k|); from the packed (quantized)
// form, five base-3 digits per byte along the input axis (digit = trit + 1, first least
// significant) times kernel_scale. A packed kernel covers up to 5 * rows inputs; a call takes the
// rows its input has.

class TernaryDenseLayer : public TypedLayer {
 public:
  explicit TernaryDenseLayer(const LayerSpec& spec) {
    Config c(spec);
    units_ = c.integer("units");
    if (units_ <= 0) c.fail("'units' must be positive");
    std::optional<float> threshold;
    if (c.has("threshold")) {
      const double t = c.number("threshold");
      if (t < 0) c.fail("'threshold' must be non-negative");
      threshold = static_cast<float>(t);
    }
    activation_ = c.has("activation") ? parse_activation(c.raw("activation"), spec) : ir::Activation{};
    if (activation_.fn == ir::UnaryFn::kGlu) c.fail("activation 'glu' is not supported on TernaryDense");
    const bool use_bias = c.flag("use_bias", true);
    const std::string mode = quantization_mode(spec.config);
    bool scaled = false;
    float scale = 1.f;
    if (mode.empty()) {
      const Weights::Entry* k = spec.weights.peek();
      if (!k || k->shape.size() != 2) c.fail("missing or malformed kernel weight");
      in_ = k->shape[0];
      const std::vector<float> kernel = spec.weights.take("kernel", {in_, units_});
      params_ = static_cast<int64_t>(kernel.size());
      double sum = 0;
      for (float v : kernel) sum += std::fabs(v);
      const float mean_abs = kernel.empty() ? 0.f : static_cast<float>(sum / static_cast<double>(kernel.size()));
      const float t = threshold ? *threshold : 0.5f * mean_abs;
      kernel_.resize(kernel.size());
      for (size_t i = 0; i < kernel.size(); ++i) {
        const float sign = kernel[i] > 0 ? 1.f : kernel[i] < 0 ? -1.f : 0.f;
        const float ternary = std::fabs(kernel[i]) > t ? sign : 0.f;
        kernel_[i] = kernel[i] + (ternary - kernel[i]);
      }
      scaled = !threshold.has_value();
      scale = mean_abs;
    } else if (mode == "ternary") {
      const Weights::Entry* k = spec.weights.peek();
      if (!k || k->shape.size() != 2) c.fail("missing or malformed packed kernel weight");
      packed_rows_ = k->shape[0];
      const std::vector<float> packed = spec.weights.take("kernel", {packed_rows_, units_});
      params_ = static_cast<int64_t>(packed.size());
      in_ = packed_rows_ * 5;
      kernel_.assign(static_cast<size_t>(in_ * units_), 0.f);
      for (int64_t r = 0; r < packed_rows_; ++r)
        for (int64_t u = 0; u < units_; ++u) {
          const float v = packed[r * units_ + u];
          if (!(v >= 0.f && v <= 242.f) || v != std::floor(v)) c.fail("packed ternary kernel holds a value outside 0..242");
          int code = static_cast<int>(v);
          for (int j = 0; j < 5; ++j, code /= 3) kernel_[(r * 5 + j) * units_ + u] = static_cast<float>(code % 3 - 1);
        }
      scaled = true;
    } else {
      c.fail("quantization mode '" + mode + "' is not supported on TernaryDense");
    }
    if (use_bias) {
      bias_ = stored_weight(spec.weights, "bias", "bias", {units_});
      params_ += units_;
    }
    if (mode == "ternary") {
      scale = spec.weights.take("kernel_scale", {})[0];
      params_ += 1;
    }
    if (scaled)
      for (float& v : kernel_) v *= scale;
  }

  int64_t param_count() const override { return params_; }

  void check_call(const Call& call) const override {
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": TernaryDense does not take the tensor argument '" + r + "'");
  }

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    if (inputs.size() != 1) throw Error("TernaryDense takes 1 input, got " + std::to_string(inputs.size()));
    const int x = sink.cast(inputs[0], DType::kFloat32);
    const Shape& s = sink.type(x).shape;
    if (s.size() < 2) throw Error("TernaryDense expects an input of rank 2 or more, got " + shape_to_string(s));
    int64_t d = s.back();
    const bool ok = packed_rows_ < 0 ? (d < 0 || d == in_) : (d < 0 || (d > 0 && (d + 4) / 5 == packed_rows_));
    if (!ok)
      throw Error("TernaryDense's kernel does not fit an input with last dimension " + std::to_string(d) +
                  " (input " + shape_to_string(s) + ")");
    if (d < 0) d = in_;
    ir::DenseAttrs a;
    a.in = d;
    a.units = units_;
    a.has_bias = bias_.value != nullptr;
    a.activation = activation_;
    std::vector<ir::Weight> w{weight("kernel", {kernel_.begin(), kernel_.begin() + d * units_}, {d, units_})};
    if (a.has_bias) w.push_back(bias_);
    return sink.add(ir::OpKind::kDense, a, std::move(w), {x});
  }

 private:
  int64_t in_ = 0, units_ = 0, packed_rows_ = -1, params_ = 0;
  std::vector<float> kernel_;  // (in, units), as the forward pass uses it, scale folded in
  ir::Weight bias_;
  ir::Activation activation_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_einsum_dense(const LayerSpec& spec) {
  return std::make_shared<EinsumDenseLayer>(spec);
}

std::shared_ptr<const TypedLayer> parse_ternary_dense(const LayerSpec& spec) {
  return std::make_shared<TernaryDenseLayer>(spec);
}

std::shared_ptr<const TypedLayer> parse_dot(const LayerSpec& spec) {
  Config c(spec);
  const Json& axes = c.raw("axes");
  std::vector<int64_t> a;
  if (axes.is_number_integer()) {
    a = {axes.get<int64_t>(), axes.get<int64_t>()};
  } else {
    a = c.int_list("axes");
    if (a.size() != 2) c.fail("'axes' should be an integer or a pair, got " + axes.dump());
  }
  return std::make_shared<DotLayer>(std::move(a), c.flag("normalize", false));
}

TypedParser linalg_op_parser(const std::string& key) {
  if (key == op_node_key("Matmul")) return parse_matmul_node;
  if (key == op_node_key("Einsum")) return parse_einsum_node;
  return nullptr;
}

}  // namespace kerasrt::format
