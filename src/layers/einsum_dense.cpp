// EinsumDense: y = activation(einsum(equation, x, kernel) + bias), and TernaryDense: a Dense whose
// kernel is snapped to {-1, 0, +1} (times a scale) on every call.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "layers/common.hpp"
#include "layers/einsum.hpp"
#include "layers/matmul.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// ---- the equation of one input tensor and one kernel ----------------------------------------------
//
// Parsed and evaluated by the shared einsum (einsum.hpp); this class checks what EinsumDense takes
// and works out shapes. The input's "..." expands to fresh labels, one per dimension it covers, and
// the output's "..." names the same dimensions in the same order.
class EinsumEquation {
 public:
  static constexpr int kEllipsis = kEinsumEllipsis;

  static EinsumEquation parse(const std::string& equation, const std::string& where) {
    auto bad = [&](const std::string& why) -> EinsumEquation {
      throw Error(where + ": equation '" + equation + "' " + why);
    };
    size_t arrow = equation.find("->");
    if (arrow == std::string::npos) bad("has no '->'");
    std::string lhs = equation.substr(0, arrow);
    size_t comma = lhs.find(',');
    if (comma == std::string::npos || lhs.find(',', comma + 1) != std::string::npos)
      bad("should name exactly two operands (input and kernel)");
    std::optional<EinsumSubscripts> parsed = parse_einsum(equation);
    if (!parsed) bad("is malformed (letters and at most one '...' per term)");
    EinsumEquation e;
    e.input_ = parsed->inputs[0];
    e.kernel_ = parsed->inputs[1];
    e.output_ = *parsed->output;
    e.einsum_ = std::make_shared<Einsum>(std::move(*parsed));
    if (std::count(e.kernel_.begin(), e.kernel_.end(), kEllipsis)) bad("uses '...' in the kernel term");
    bool in_dots = std::count(e.input_.begin(), e.input_.end(), kEllipsis) > 0;
    bool out_dots = std::count(e.output_.begin(), e.output_.end(), kEllipsis) > 0;
    if (in_dots != out_dots) bad("must use '...' in both the input and the output, or in neither");
    for (size_t i = 0; i < e.output_.size(); ++i) {
      int l = e.output_[i];
      if (l == kEllipsis) continue;
      if (std::count(e.output_.begin(), e.output_.end(), l) > 1) bad("repeats an output label");
      if (!std::count(e.input_.begin(), e.input_.end(), l) && !std::count(e.kernel_.begin(), e.kernel_.end(), l))
        bad("has an output label found in neither operand");
    }
    return e;
  }

  const std::vector<int>& input() const { return input_; }
  const std::vector<int>& kernel() const { return kernel_; }
  const std::vector<int>& output() const { return output_; }
  size_t input_letters() const { return letters(input_); }
  bool has_ellipsis() const { return input_letters() != input_.size(); }

  // How many dimensions the input's "..." covers for an input of this rank.
  size_t ellipsis_dims(size_t input_rank) const {
    size_t n = input_letters();
    if (input_rank < n || (!has_ellipsis() && input_rank != n))
      throw Error("expects an input of rank " + std::string(has_ellipsis() ? "at least " : "") + std::to_string(n) +
                  ", got rank " + std::to_string(input_rank));
    return input_rank - n;
  }

  // Output labels with "..." expanded (ellipsis dimensions get ids 52, 53, ...).
  std::vector<int> expanded_output(size_t n_ellipsis) const { return expand(output_, n_ellipsis); }

  Shape output_shape(const Shape& in, const Shape& kernel) const {
    std::vector<int64_t> sizes = label_sizes(in, kernel);
    Shape out;
    for (int l : expand(output_, ellipsis_dims(in.size()))) out.push_back(sizes[l]);
    return out;
  }

  // out = einsum(x, k); `out` has the shape output_shape() gave.
  void run(ConstView x, const float* k, const Shape& kshape, MutView out) const {
    const ConstView operands[] = {x, ConstView{k, kshape}};
    einsum_->run(operands, out);
  }

 private:
  static constexpr int kFirstEllipsisLabel = kEinsumLetters;

  static size_t letters(const std::vector<int>& t) {
    return static_cast<size_t>(std::count_if(t.begin(), t.end(), [](int l) { return l != kEllipsis; }));
  }

  static std::vector<int> expand(const std::vector<int>& term, size_t n_ellipsis) {
    std::vector<int> out;
    for (int l : term) {
      if (l != kEllipsis) out.push_back(l);
      else
        for (size_t i = 0; i < n_ellipsis; ++i) out.push_back(kFirstEllipsisLabel + static_cast<int>(i));
    }
    return out;
  }

  // Size of every label (index = label id); -1 where unknown. Throws on disagreement.
  std::vector<int64_t> label_sizes(const Shape& in, const Shape& kernel) const {
    size_t n_ell = ellipsis_dims(in.size());
    if (kernel.size() != kernel_.size())
      throw Error("the kernel has rank " + std::to_string(kernel.size()) + ", the equation names " +
                  std::to_string(kernel_.size()) + " axes");
    std::vector<int64_t> sizes(kFirstEllipsisLabel + n_ell, -2);  // -2: label unused
    auto note = [&](const std::vector<int>& labels, const Shape& shape, const char* what) {
      for (size_t i = 0; i < labels.size(); ++i) {
        int64_t& s = sizes[labels[i]];
        int64_t d = shape[i];
        if (s == -2 || s == -1) s = (s == -1 && d < 0) ? -1 : d;
        else if (d >= 0 && d != s)
          throw Error(std::string("the ") + what + " has size " + std::to_string(d) + " on an axis of size " +
                      std::to_string(s) + " elsewhere in the equation (input " + shape_to_string(in) +
                      ", kernel " + shape_to_string(kernel) + ")");
      }
    };
    note(kernel_, kernel, "kernel");
    note(expand(input_, n_ell), in, "input");
    return sizes;
  }

  std::vector<int> input_, kernel_, output_;
  std::shared_ptr<const Einsum> einsum_;
};

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

// Adds `bias` (shape `bshape`, rank <= the output's) broadcast against the output's trailing axes.
void add_broadcast_bias(const std::vector<float>& bias, const Shape& bshape, MutView out) {
  size_t r = bshape.size(), rank = out.shape.size();
  int64_t tail = 1;
  for (size_t i = rank - r; i < rank; ++i) tail *= out.shape[i];
  if (tail == 0) return;
  std::vector<float> row(static_cast<size_t>(tail));
  std::vector<int64_t> idx(r, 0);
  for (int64_t t = 0; t < tail; ++t) {
    int64_t off = 0;
    for (size_t a = 0; a < r; ++a) off = off * bshape[a] + (bshape[a] == 1 ? 0 : idx[a]);
    row[t] = bias[off];
    next_index(idx, out.shape.subspan(rank - r));
  }
  int64_t n = out.size();
  for (int64_t i = 0; i < n; ++i) out.data[i] += row[i % tail];
}

class EinsumDense : public Op {
 public:
  explicit EinsumDense(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    if (!c.has("equation") || !c.raw("equation").is_string()) c.fail("config needs an 'equation' string");
    equation_ = c.str("equation", "");
    eq_ = EinsumEquation::parse(equation_, spec.where);
    if (eq_.has_ellipsis()) {
      // Keras takes "...X,Y->...Z" and "X...,Y->Z..." (X of two or more letters) only.
      const auto &x = eq_.input(), &z = eq_.output();
      left_ellipsis_ = x.front() == EinsumEquation::kEllipsis && z.front() == EinsumEquation::kEllipsis;
      bool right = x.back() == EinsumEquation::kEllipsis && z.back() == EinsumEquation::kEllipsis &&
                   eq_.input_letters() >= 2;
      if (!left_ellipsis_ && !right) c.fail("equation '" + equation_ + "' puts '...' where EinsumDense does not take it");
    }
    std::string mode = quantization_mode(spec.config);
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

    activation_ = activation_from(c);
    if (activation_.changes_shape()) c.fail("activation '" + activation_.name + "' is not supported on EinsumDense");

    const Weights::Entry* k = spec.weights.peek();
    if (!k || k->shape.size() != eq_.kernel().size())
      c.fail("missing kernel weight or its rank differs from the equation's kernel term");
    kernel_shape_ = k->shape;
    kernel_ = spec.weights.take("kernel", kernel_shape_);

    std::string bias_axes = c.str("bias_axes", "");
    if (!bias_axes.empty()) {
      for (char ch : bias_axes) {
        int l = einsum_label(ch);
        if (l < 0 || std::find(eq_.output().begin(), eq_.output().end(), l) == eq_.output().end())
          c.fail("bias axis '" + std::string(1, ch) + "' is not in the equation's output");
        bias_labels_.push_back(l);
      }
      const Weights::Entry* b = spec.weights.peek();
      if (!b) c.fail("missing bias weight");
      bias_shape_ = b->shape;
      bias_ = spec.weights.take("bias", bias_shape_);
      // Sizes the kernel fixes can be checked now; the rest once the input shape is known.
      check_bias(kernel_only_sizes(), std::nullopt);
    }
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "EinsumDense");
    Shape out;
    try {
      out = eq_.output_shape(in[0], kernel_shape_);
    } catch (const Error& e) {
      throw Error("EinsumDense '" + equation_ + "': " + e.what());
    }
    check_partial_output(in[0], out);
    if (!bias_.empty()) check_bias(out, eq_.ellipsis_dims(in[0].size()));
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    eq_.run(in[0], kernel_.data(), kernel_shape_, out[0]);
    if (!bias_.empty()) add_broadcast_bias(bias_, bias_shape_, out[0]);
    activation_.apply(out[0].data, out[0].shape);
  }

  int64_t param_count() const override { return static_cast<int64_t>(kernel_.size() + bias_.size()); }

 private:
  // Output shape over the non-ellipsis output labels with only the kernel's sizes known.
  Shape kernel_only_sizes() const {
    Shape out;
    for (int l : eq_.output()) {
      int64_t s = -1;
      for (size_t i = 0; l != EinsumEquation::kEllipsis && i < eq_.kernel().size(); ++i)
        if (eq_.kernel()[i] == l) s = kernel_shape_[i];
      out.push_back(s);
    }
    return out;
  }

  // Keras's bias covers the output from its first bias axis to the end: the axis's size where the
  // axis is a bias axis, 1 elsewhere (ellipsis dimensions included). `out` is the full output shape
  // with `n_ellipsis` known, or (without it) one entry per output term label.
  void check_bias(const Shape& out, std::optional<size_t> n_ellipsis) const {
    std::vector<int> labels = n_ellipsis ? eq_.expanded_output(*n_ellipsis) : eq_.output();
    size_t first = labels.size();
    for (size_t i = 0; i < labels.size(); ++i)
      if (std::find(bias_labels_.begin(), bias_labels_.end(), labels[i]) != bias_labels_.end()) {
        first = i;
        break;
      }
    bool trailing_ellipsis = !n_ellipsis && std::find(labels.begin() + static_cast<std::ptrdiff_t>(first),
                                                       labels.end(), EinsumEquation::kEllipsis) != labels.end();
    if (trailing_ellipsis) return;  // its length is known once the input is
    Shape expected;
    for (size_t i = first; i < labels.size(); ++i) {
      bool biased = std::find(bias_labels_.begin(), bias_labels_.end(), labels[i]) != bias_labels_.end();
      expected.push_back(biased ? out[i] : 1);
    }
    bool ok = expected.size() == bias_shape_.size();
    for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || expected[i] == bias_shape_[i];
    if (!ok)
      throw Error(where_ + ": bias has shape " + shape_to_string(bias_shape_) + ", the equation '" + equation_ +
                  "' with bias_axes needs " + shape_to_string(expected));
  }

  // The config's output_shape lists the output without the batch axis and the ellipsis; its
  // known entries must agree with what the weights and the input give.
  void check_partial_output(const Shape& in, const Shape& out) const {
    size_t n_ell = eq_.ellipsis_dims(in.size());
    // Keras puts the batch axis (and for a leading "...", the other ellipsis dims) first.
    size_t offset = left_ellipsis_ ? std::max<size_t>(n_ell, 1) : 1;
    size_t end = out.size() - (left_ellipsis_ ? 0 : n_ell);
    for (size_t i = 0; i < partial_output_.size() && offset + i < end; ++i) {
      int64_t want = partial_output_[i], got = out[offset + i];
      if (!dims_agree(want, got))
        throw Error("EinsumDense '" + equation_ + "': output_shape " + shape_to_string(partial_output_) +
                    " disagrees with the output " + shape_to_string(out) + " the input and kernel give");
    }
  }

  std::string where_, equation_;
  EinsumEquation eq_;
  bool left_ellipsis_ = false;
  Shape partial_output_;
  Shape kernel_shape_, bias_shape_;
  std::vector<float> kernel_, bias_;
  std::vector<int> bias_labels_;
  Activation activation_;
};

// ---- TernaryDense ----------------------------------------------------------------------------------

class TernaryDense : public Op {
 public:
  explicit TernaryDense(const LayerSpec& spec) {
    Config c(spec);
    units_ = c.integer("units");
    if (units_ <= 0) c.fail("'units' must be positive");
    if (c.has("threshold")) {
      double t = c.number("threshold");
      if (t < 0) c.fail("'threshold' must be non-negative");
    }
    activation_ = activation_from(c);
    if (activation_.changes_shape()) c.fail("activation '" + activation_.name + "' is not supported on TernaryDense");
    bool use_bias = c.flag("use_bias", true);
    std::string mode = quantization_mode(spec.config);
    if (mode.empty()) {
      const Weights::Entry* k = spec.weights.peek();
      if (!k || k->shape.size() != 2) c.fail("missing or malformed kernel weight");
      in_ = k->shape[0];
      std::vector<float> kernel = spec.weights.take("kernel", {in_, units_});
      ternary_from_float(kernel, c.has("threshold") ? std::optional<float>(static_cast<float>(c.number("threshold")))
                                                    : std::nullopt);
      param_values_ = static_cast<int64_t>(kernel.size());
    } else if (mode == "ternary") {
      const Weights::Entry* k = spec.weights.peek();
      if (!k || k->shape.size() != 2) c.fail("missing or malformed packed kernel weight");
      packed_rows_ = k->shape[0];
      std::vector<float> packed = spec.weights.take("kernel", {packed_rows_, units_});
      param_values_ = static_cast<int64_t>(packed.size());
      unpack(packed, c);
    } else {
      c.fail("quantization mode '" + mode + "' is not supported on TernaryDense");
    }
    if (use_bias) bias_ = spec.weights.take("bias", {units_});
    if (mode == "ternary") {
      std::vector<float> s = spec.weights.take("kernel_scale", {});
      scale_ = s[0];
      param_values_ += 1;
    }
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "TernaryDense");
    const Shape& s = in[0];
    if (s.size() < 2) throw Error("TernaryDense expects an input of rank 2 or more, got " + shape_to_string(s));
    int64_t d = s.back();
    bool ok = packed_rows_ < 0 ? (d < 0 || d == in_) : (d < 0 || (d > 0 && (d + 4) / 5 == packed_rows_));
    if (!ok)
      throw Error("TernaryDense's kernel does not fit an input with last dimension " + std::to_string(d) +
                  " (input " + shape_to_string(s) + ")");
    Shape out = s;
    out.back() = units_;
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    int64_t d = in[0].shape.back();
    int64_t rows = d == 0 ? 0 : in[0].size() / d;
    if (packed_rows_ < 0)
      matmul(1, rows, d, units_, row_major(in[0].data, d), row_major(kernel_.data(), units_),
             row_major(out[0].data, units_), MatmulSum::kDouble);
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].data + r * d;
      float* y = out[0].data + r * units_;
      for (int64_t u = 0; u < units_; ++u) {
        float v = y[u];
        if (packed_rows_ >= 0) {
          // The packed form sums the +1 and -1 columns separately, as Keras does.
          double plus = 0, minus = 0;
          for (int64_t k = 0; k < d; ++k) {
            float w = kernel_[k * units_ + u];
            if (w > 0) plus += x[k];
            else if (w < 0) minus += x[k];
          }
          v = static_cast<float>(plus) - static_cast<float>(minus);
        }
        if (apply_scale_) v *= scale_;
        y[u] = v + (bias_.empty() ? 0.f : bias_[u]);
      }
    }
    activation_.apply(out[0].data, out[0].shape);
  }

  int64_t param_count() const override { return param_values_ + static_cast<int64_t>(bias_.size()); }

 private:
  // Keras's forward value: kernel + (ternary - kernel), ternary = sign(k) * (|k| > t), with
  // t = threshold or 0.5 * mean|k|; without a threshold the product is scaled by mean|k|.
  void ternary_from_float(const std::vector<float>& k, std::optional<float> threshold) {
    double sum = 0;
    for (float v : k) sum += std::fabs(v);
    float mean_abs = k.empty() ? 0.f : static_cast<float>(sum / static_cast<double>(k.size()));
    float t = threshold ? *threshold : 0.5f * mean_abs;
    kernel_.resize(k.size());
    for (size_t i = 0; i < k.size(); ++i) {
      float sign = k[i] > 0 ? 1.f : k[i] < 0 ? -1.f : 0.f;
      float ternary = std::fabs(k[i]) > t ? sign : 0.f;
      kernel_[i] = k[i] + (ternary - k[i]);
    }
    apply_scale_ = !threshold.has_value();
    scale_ = mean_abs;
  }

  // Five base-3 digits per byte along the input axis, digit = trit + 1, first trit least significant.
  void unpack(const std::vector<float>& packed, const Config& c) {
    in_ = packed_rows_ * 5;
    kernel_.assign(static_cast<size_t>(in_ * units_), 0.f);
    for (int64_t r = 0; r < packed_rows_; ++r)
      for (int64_t u = 0; u < units_; ++u) {
        float v = packed[r * units_ + u];
        if (!(v >= 0.f && v <= 242.f) || v != std::floor(v)) c.fail("packed ternary kernel holds a value outside 0..242");
        int code = static_cast<int>(v);
        for (int j = 0; j < 5; ++j, code /= 3) kernel_[(r * 5 + j) * units_ + u] = static_cast<float>(code % 3 - 1);
      }
    apply_scale_ = true;
  }

  int64_t in_ = 0, units_ = 0;
  int64_t packed_rows_ = -1;  // >= 0 for the packed (quantized) form
  std::vector<float> kernel_;  // (in, units), values as the forward pass uses them
  std::vector<float> bias_;
  bool apply_scale_ = false;
  float scale_ = 1.f;
  int64_t param_values_ = 0;
  Activation activation_;
};

}  // namespace

void register_einsum_dense(const AddLayer& add) {
  add("EinsumDense", [](const LayerSpec& s) { return std::make_shared<EinsumDense>(s); });
  add("TernaryDense", [](const LayerSpec& s) { return std::make_shared<TernaryDense>(s); });
}

}  // namespace kerasrt::layers
