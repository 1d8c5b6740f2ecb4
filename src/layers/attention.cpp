// Attention layers: Attention (dot / concat scores) and AdditiveAttention (Bahdanau scores), and the
// legacy MultiHeadAttention / GroupedQueryAttention Op that the typed parser (format/keras/attention.cpp)
// falls back to for some calls on inputs of rank > 3.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "layers/attention.hpp"
#include "layers/common.hpp"
#include "layers/matmul.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// ---- call arguments ------------------------------------------------------------------------------

// The tensor index an argument holds, -1 for null/absent; anything else is refused.
int tensor_arg(const Json* j, const Call& call, const std::string& name) {
  if (!j || j->is_null()) return -1;
  if (std::optional<int> i = placeholder_index(*j); i && *i >= 0 && static_cast<size_t>(*i) < call.roles.size())
    return *i;
  throw Error(call.where + ": argument '" + name + "' should be a tensor, got " + j->dump().substr(0, 200));
}

bool bool_arg(const Json* j, const Call& call, const std::string& name) {
  if (!j || j->is_null()) return false;
  if (j->is_boolean()) return j->get<bool>();
  throw Error(call.where + ": argument '" + name + "' should be true or false, got " + j->dump().substr(0, 200));
}

// Maps the call's positional args (in the order of `names`, Keras's call signature) and keyword
// args to argument names.
std::map<std::string, const Json*> named_args(const Call& call, const std::vector<std::string>& names,
                                              const std::string& class_name) {
  std::map<std::string, const Json*> out;
  if (call.args.is_array()) {
    if (call.args.size() > names.size())
      throw Error(call.where + ": " + class_name + " takes at most " + std::to_string(names.size()) +
                  " positional arguments, the call passes " + std::to_string(call.args.size()));
    for (size_t i = 0; i < call.args.size(); ++i) out[names[i]] = &call.args[i];
  }
  for (auto it = call.kwargs.begin(); it != call.kwargs.end(); ++it) {
    if (std::find(names.begin(), names.end(), it.key()) == names.end())
      throw Error(call.where + ": " + class_name + " has no call argument '" + it.key() + "'");
    if (out.count(it.key())) throw Error(call.where + ": argument '" + it.key() + "' is given twice");
    out[it.key()] = &it.value();
  }
  return out;
}

const Json* find_arg(const std::map<std::string, const Json*>& args, const std::string& name) {
  auto it = args.find(name);
  return it == args.end() ? nullptr : it->second;
}

bool is_true(float v) { return v != 0.f; }  // masks arrive as floats; Keras casts them to bool

int64_t product(std::span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// ---- projections ---------------------------------------------------------------------------------

// x · W + b over the last axis; W is an EinsumDense kernel whose input-side axes (`in` values)
// come first and output-side axes (`cols` values) last, so row-major it is an (in, cols) matrix.
struct Projection {
  int64_t in = 0, cols = 0;
  Shape kernel_shape;
  std::vector<float> kernel, bias;

  void apply(const float* x, int64_t rows, float* y) const {
    matmul(1, rows, in, cols, row_major(x, in), row_major(kernel.data(), cols), row_major(y, cols), MatmulSum::kDouble);
    if (bias.empty()) return;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j) y[r * cols + j] += bias[j];
  }
  int64_t params() const { return static_cast<int64_t>(kernel.size() + bias.size()); }
};

// Takes a kernel of shape lead + tail (a -1 in `lead` takes the stored size) and, with `use_bias`,
// a bias of shape tail.
Projection take_projection(Weights& w, const std::string& what, Shape lead, const Shape& tail, bool use_bias) {
  const Weights::Entry* e = w.peek();
  if (e && e->shape.size() == lead.size() + tail.size())
    for (size_t i = 0; i < lead.size(); ++i)
      if (lead[i] < 0) lead[i] = e->shape[i];
  Projection p;
  p.kernel_shape = lead;
  p.kernel_shape.insert(p.kernel_shape.end(), tail.begin(), tail.end());
  p.kernel = w.take(what + " kernel", p.kernel_shape);
  p.in = product(lead);
  p.cols = product(tail);
  if (use_bias) p.bias = w.take(what + " bias", tail);
  return p;
}

// ---- dot-product attention core -------------------------------------------------------------------

// Where each attention position lives. Projected tensors are laid out (batch, spatial, heads, dim);
// `q_pos[o * tq + t]` is the spatial index of query position t within the o-th combination of the
// non-attention axes, likewise `k_pos` for keys/values.
struct Geometry {
  int64_t batch = 0, heads = 0, kv_heads = 0, key_dim = 0, value_dim = 0;
  int64_t q_spatial = 0, k_spatial = 0, outer = 1, tq = 0, tk = 0;
  std::vector<int64_t> q_pos, k_pos;
};

// Which (batch, outer, head, query, key) pairs may attend.
struct Masks {
  // attention_mask, read through offsets per scores component (0 strides where it broadcasts)
  const float* explicit_mask = nullptr;
  std::vector<int64_t> off_b, off_o, off_n, off_t, off_s;
  // masks of sequence inputs (rank-3 calls only): (batch, tq) and (batch, tk)
  const float* query_mask = nullptr;
  const float* value_mask = nullptr;
  const float* key_mask = nullptr;
  bool causal = false;
  int64_t window = 0;  // sliding window, 0 for none

  bool any() const {
    return explicit_mask || query_mask || value_mask || key_mask || causal || window > 0;
  }
  bool allowed(int64_t b, int64_t o, int64_t n, int64_t t, int64_t s, int64_t tq, int64_t tk) const {
    if (explicit_mask && !is_true(explicit_mask[off_b[b] + off_o[o] + off_n[n] + off_t[t] + off_s[s]])) return false;
    if (query_mask && !is_true(query_mask[b * tq + t])) return false;
    if (value_mask && !is_true(value_mask[b * tk + s])) return false;
    if (key_mask && !is_true(key_mask[b * tk + s])) return false;
    if (causal && s > t) return false;
    if (window > 0 && std::abs(t - s) >= window) return false;
    return true;
  }
};

// out(b, q, n, :) = sum_s softmax_s(scale * q·k) v over allowed keys. A row with no allowed key gets
// zeros (Keras's masked Softmax), or equal weights on every key when Keras takes the fused
// dot_product_attention path (`fused`), where masked scores are only pushed to a huge negative.
void attend(const Geometry& g, const float* q, const float* k, const float* v, float scale, const Masks& masks,
            bool fused, float* out, float* scores) {
  const int64_t group = g.heads / g.kv_heads;
  std::vector<double> logits(static_cast<size_t>(g.tk));
  std::vector<float> weights(static_cast<size_t>(g.tk));
  std::vector<char> ok(static_cast<size_t>(g.tk));
  std::vector<float> qs(static_cast<size_t>(g.key_dim));
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t o = 0; o < g.outer; ++o)
      for (int64_t n = 0; n < g.heads; ++n) {
        const int64_t kvh = n / group;
        for (int64_t t = 0; t < g.tq; ++t) {
          const int64_t q_row = (b * g.q_spatial + g.q_pos[o * g.tq + t]) * g.heads + n;
          const float* qr = q + q_row * g.key_dim;
          for (int64_t c = 0; c < g.key_dim; ++c) qs[c] = qr[c] * scale;  // Keras scales the query first
          double mx = -INFINITY;
          bool any = false;
          for (int64_t s = 0; s < g.tk; ++s) {
            ok[s] = !masks.any() || masks.allowed(b, o, n, t, s, g.tq, g.tk);
            if (!ok[s]) continue;
            const float* kr = k + ((b * g.k_spatial + g.k_pos[o * g.tk + s]) * g.kv_heads + kvh) * g.key_dim;
            double acc = 0;
            for (int64_t c = 0; c < g.key_dim; ++c) acc += static_cast<double>(qs[c]) * kr[c];
            logits[s] = static_cast<float>(acc);
            mx = std::max(mx, logits[s]);
            any = true;
          }
          if (any) {
            double sum = 0;
            for (int64_t s = 0; s < g.tk; ++s) sum += ok[s] ? std::exp(logits[s] - mx) : 0.0;
            for (int64_t s = 0; s < g.tk; ++s) weights[s] = ok[s] ? static_cast<float>(std::exp(logits[s] - mx) / sum) : 0.f;
          } else {
            std::fill(weights.begin(), weights.end(), fused ? 1.f / static_cast<float>(g.tk) : 0.f);
          }
          if (scores) {
            float* sr = scores + (((b * g.outer + o) * g.heads + n) * g.tq + t) * g.tk;
            std::copy(weights.begin(), weights.end(), sr);
          }
          float* orow = out + q_row * g.value_dim;
          for (int64_t c = 0; c < g.value_dim; ++c) {
            double acc = 0;
            for (int64_t s = 0; s < g.tk; ++s)
              if (weights[s] != 0.f)
                acc += static_cast<double>(weights[s]) *
                       v[((b * g.k_spatial + g.k_pos[o * g.tk + s]) * g.kv_heads + kvh) * g.value_dim + c];
            orow[c] = static_cast<float>(acc);
          }
        }
      }
}

// ---- MultiHeadAttention / GroupedQueryAttention ----------------------------------------------------

class HeadAttention : public Op {
 public:
  HeadAttention(const LayerSpec& spec, bool grouped) : grouped_(grouped), class_name_(spec.class_name) {
    Config c(spec);
    bool use_bias = c.flag("use_bias", true);
    use_gate_ = c.flag("use_gate", false);
    dropout_ = c.number("dropout", 0.0);
    if (dropout_ < 0 || dropout_ >= 1) c.fail("'dropout' must be in [0, 1)");
    if (c.has("sliding_window")) {
      window_ = c.integer("sliding_window");
      if (window_ <= 0) c.fail("'sliding_window' must be a positive integer");
    }
    if (grouped) {
      key_dim_ = value_dim_ = c.integer("head_dim");
      heads_ = c.integer("num_query_heads");
      kv_heads_ = c.integer("num_key_value_heads");
      if (key_dim_ <= 0 || heads_ <= 0 || kv_heads_ <= 0)
        c.fail("'head_dim', 'num_query_heads' and 'num_key_value_heads' must be positive");
      if (heads_ % kv_heads_ != 0) c.fail("'num_query_heads' must be divisible by 'num_key_value_heads'");
      attention_axes_ = {1};
    } else {
      heads_ = kv_heads_ = c.integer("num_heads");
      key_dim_ = c.integer("key_dim");
      value_dim_ = c.has("value_dim") ? c.integer("value_dim") : key_dim_;
      if (heads_ <= 0 || key_dim_ <= 0 || value_dim_ <= 0)
        c.fail("'num_heads', 'key_dim' and 'value_dim' must be positive");
      if (c.has("output_shape")) {
        const Json& os = c.raw("output_shape");
        if (os.is_number_integer()) {
          if (os.get<int64_t>() != 0) out_dims_ = {os.get<int64_t>()};
        } else {
          out_dims_ = c.int_list("output_shape");
        }
        for (int64_t d : out_dims_)
          if (d <= 0) c.fail("'output_shape' must hold positive sizes, got " + os.dump());
      }
      if (c.has("attention_axes")) {
        const Json& a = c.raw("attention_axes");
        attention_axes_ = a.is_number_integer() ? std::vector<int64_t>{a.get<int64_t>()} : c.int_list("attention_axes");
        if (attention_axes_.empty()) c.fail("'attention_axes' is empty");
      }
    }
    scale_ = static_cast<float>(1.0 / std::sqrt(static_cast<double>(key_dim_)));

    Weights& w = spec.weights;
    query_ = take_projection(w, "query", {-1}, {heads_, key_dim_}, use_bias);
    key_ = take_projection(w, "key", {-1}, {kv_heads_, key_dim_}, use_bias);
    if (use_gate_) gate_ = take_projection(w, "gate", {query_.in}, {heads_, value_dim_}, use_bias);
    value_ = take_projection(w, "value", {-1}, {kv_heads_, value_dim_}, use_bias);
    if (out_dims_.empty()) out_dims_ = {query_.in};
    output_ = take_projection(w, "attention_output", {heads_, value_dim_}, out_dims_, use_bias);
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    static const std::vector<std::string> names = {
        "query", "value", "key", "query_mask", "value_mask", "key_mask", "attention_mask",
        "return_attention_scores", "training", "use_causal_mask"};
    auto bound = std::make_shared<HeadAttention>(*this);
    bound->inputs_ = call.roles.size();
    if (call.args.empty() && call.kwargs.empty()) {  // a hand-made call: positional tensors only
      for (const auto& r : call.roles)
        if (!r.empty()) throw Error(call.where + ": keyword tensors need the call's arguments");
      bound->query_idx_ = call.roles.size() > 0 ? 0 : -1;
      bound->value_idx_ = call.roles.size() > 1 ? 1 : -1;
      bound->key_idx_ = call.roles.size() > 2 ? 2 : -1;
      if (call.roles.size() > 3) throw Error(call.where + ": " + class_name_ + " takes at most 3 positional tensors");
    } else {
      auto args = named_args(call, names, class_name_);
      auto tensor = [&](const char* n) { return tensor_arg(find_arg(args, n), call, n); };
      bound->query_idx_ = tensor("query");
      bound->value_idx_ = tensor("value");
      bound->key_idx_ = tensor("key");
      bound->query_mask_idx_ = tensor("query_mask");
      bound->value_mask_idx_ = tensor("value_mask");
      bound->key_mask_idx_ = tensor("key_mask");
      bound->attention_mask_idx_ = tensor("attention_mask");
      bound->return_scores_ = bool_arg(find_arg(args, "return_attention_scores"), call, "return_attention_scores");
      bound->causal_ = bool_arg(find_arg(args, "use_causal_mask"), call, "use_causal_mask");
      if (const Json* t = find_arg(args, "training"); t && !t->is_null() && !t->is_boolean())
        throw Error(call.where + ": argument 'training' should be true or false");
    }
    if (bound->query_idx_ < 0 || bound->value_idx_ < 0)
      throw Error(call.where + ": " + class_name_ + " needs a query and a value tensor");
    return bound;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    if (in.size() != inputs_ || query_idx_ < 0)
      throw Error(class_name_ + " was given " + std::to_string(in.size()) + " tensors, its call names " +
                  std::to_string(inputs_));
    const Shape& q = in[query_idx_];
    const Shape& v = in[value_idx_];
    const Shape& k = key_idx_ >= 0 ? in[key_idx_] : v;
    size_t rank = q.size();
    if (rank < 3) throw Error(class_name_ + " expects a query of rank 3 or more, got " + shape_to_string(q));
    if (grouped_ && (rank != 3 || v.size() != 3 || k.size() != 3))
      throw Error("GroupedQueryAttention expects rank-3 query, value and key");
    if (k.size() != rank || v.size() != rank)
      throw Error(class_name_ + ": query " + shape_to_string(q) + ", value " + shape_to_string(v) + " and key " +
                  shape_to_string(k) + " must have the same rank");
    auto expect_last = [&](const Shape& s, int64_t d, const char* what) {
      if (!dims_agree(s.back(), d))
        throw Error(class_name_ + ": the " + std::string(what) + " kernel takes a last dimension of " +
                    std::to_string(d) + ", got " + std::string(what) + " " + shape_to_string(s));
    };
    expect_last(q, query_.in, "query");
    expect_last(k, key_.in, "key");
    expect_last(v, value_.in, "value");
    if (grouped_ && !dims_agree(q.back(), v.back()))
      throw Error("GroupedQueryAttention needs query and value with the same last dimension");
    for (size_t i = 1; i + 1 < rank; ++i)
      if (!dims_agree(v[i], k[i]))
        throw Error(class_name_ + ": value " + shape_to_string(v) + " and key " + shape_to_string(k) +
                    " must agree on all but the last dimension");
    std::vector<int> axes = resolve_axes(rank);
    for (size_t i = 1; i + 1 < rank; ++i)
      if (std::find(axes.begin(), axes.end(), static_cast<int>(i)) == axes.end() && !dims_agree(q[i], k[i]))
        throw Error(class_name_ + ": query " + shape_to_string(q) + " and key " + shape_to_string(k) +
                    " must agree on the axes attention does not run over");
    bool sequence_masks = query_mask_idx_ >= 0 || value_mask_idx_ >= 0 || key_mask_idx_ >= 0 || causal_ ||
                          window_ > 0;
    if (sequence_masks && rank != 3)
      throw Error(class_name_ + ": query/value/key masks, causal and sliding-window masks need rank-3 inputs");
    auto expect_mask = [&](int idx, const Shape& seq, const char* what) {
      if (idx < 0) return;
      const Shape& m = in[idx];
      if (m.size() != 2 || !dims_agree(m[0], seq[0]) || !dims_agree(m[1], seq[1]))
        throw Error(class_name_ + ": " + std::string(what) + " of shape " + shape_to_string(m) + " does not match " +
                    shape_to_string(seq));
    };
    expect_mask(query_mask_idx_, q, "query_mask");
    expect_mask(value_mask_idx_, v, "value_mask");
    expect_mask(key_mask_idx_, k, "key_mask");

    Shape out(q.begin(), q.end() - 1);
    out.insert(out.end(), out_dims_.begin(), out_dims_.end());
    Shape kv = k;  // value and key agree on their steps; take whichever is known
    for (size_t i = 1; i + 1 < rank; ++i)
      if (kv[i] < 0) kv[i] = v[i];
    Shape scores = scores_shape(q, kv, axes);
    if (attention_mask_idx_ >= 0) expand_mask(in[attention_mask_idx_], scores, axes.size());
    if (return_scores_) return {out, scores};
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const ConstView& qv = in[query_idx_];
    const ConstView& vv = in[value_idx_];
    const ConstView& kv = key_idx_ >= 0 ? in[key_idx_] : vv;
    Shape q(qv.shape.begin(), qv.shape.end()), k(kv.shape.begin(), kv.shape.end());
    size_t rank = q.size();
    std::vector<int> axes = resolve_axes(rank);

    Geometry g;
    g.batch = q[0];
    g.heads = heads_;
    g.kv_heads = kv_heads_;
    g.key_dim = key_dim_;
    g.value_dim = value_dim_;
    Shape q_spatial(q.begin() + 1, q.end() - 1), k_spatial(k.begin() + 1, k.end() - 1);
    g.q_spatial = product(q_spatial);
    g.k_spatial = product(k_spatial);
    g.q_pos = positions(q_spatial, axes, g.outer, g.tq);
    g.k_pos = positions(k_spatial, axes, g.outer, g.tk);

    const int64_t q_rows = g.batch * g.q_spatial, k_rows = g.batch * g.k_spatial;
    std::vector<float> qp(static_cast<size_t>(q_rows * query_.cols)), kp(static_cast<size_t>(k_rows * key_.cols)),
        vp(static_cast<size_t>(k_rows * value_.cols)), attn(static_cast<size_t>(q_rows * heads_ * value_dim_));
    query_.apply(qv.data, q_rows, qp.data());
    key_.apply(kv.data, k_rows, kp.data());
    value_.apply(vv.data, k_rows, vp.data());

    Masks masks;
    masks.causal = causal_;
    masks.window = window_;
    if (query_mask_idx_ >= 0) masks.query_mask = in[query_mask_idx_].data;
    if (value_mask_idx_ >= 0) masks.value_mask = in[value_mask_idx_].data;
    if (key_mask_idx_ >= 0) masks.key_mask = in[key_mask_idx_].data;
    if (attention_mask_idx_ >= 0) {
      const ConstView& m = in[attention_mask_idx_];
      Shape scores = scores_shape(q, k, axes);
      Shape e = expand_mask(Shape(m.shape.begin(), m.shape.end()), scores, axes.size());
      mask_offsets(e, scores, axes.size(), masks);
      masks.explicit_mask = m.data;
    }
    // Keras's torch backend runs rank-3 calls without dropout or returned scores through the fused
    // dot_product_attention; that only matters for rows where every key is masked.
    bool fused = rank == 3 && dropout_ == 0.0 && !return_scores_;
    attend(g, qp.data(), kp.data(), vp.data(), scale_, masks, fused, attn.data(), return_scores_ ? out[1].data : nullptr);

    if (use_gate_) {
      std::vector<float> gate(attn.size());
      gate_.apply(qv.data, q_rows, gate.data());
      for (size_t i = 0; i < attn.size(); ++i) attn[i] *= 1.f / (1.f + std::exp(-gate[i]));
    }
    output_.apply(attn.data(), q_rows, out[0].data);
  }

  int64_t param_count() const override {
    return query_.params() + key_.params() + value_.params() + output_.params() + (use_gate_ ? gate_.params() : 0);
  }

 private:
  // Attention axes as input axes in [1, rank-2], in the configured order (Keras counts negative
  // axes from the projected rank, one more than the input's).
  std::vector<int> resolve_axes(size_t rank) const {
    std::vector<int> axes;
    if (attention_axes_.empty()) {
      for (size_t i = 1; i + 1 < rank; ++i) axes.push_back(static_cast<int>(i));
      return axes;
    }
    for (int64_t a : attention_axes_) {
      int64_t r = a < 0 ? static_cast<int64_t>(rank) + a : a;
      if (r < 1 || r > static_cast<int64_t>(rank) - 2)
        throw Error(class_name_ + ": attention axis " + std::to_string(a) + " is not a sequence axis of a rank-" +
                    std::to_string(rank) + " input");
      if (std::find(axes.begin(), axes.end(), static_cast<int>(r)) != axes.end())
        throw Error(class_name_ + ": attention axis " + std::to_string(a) + " is repeated");
      axes.push_back(static_cast<int>(r));
    }
    return axes;
  }

  // (batch, non-attention axes..., heads, query attention axes..., key attention axes...)
  Shape scores_shape(const Shape& q, const Shape& k, const std::vector<int>& axes) const {
    Shape s{q[0]};
    for (size_t i = 1; i + 1 < q.size(); ++i)
      if (std::find(axes.begin(), axes.end(), static_cast<int>(i)) == axes.end()) s.push_back(q[i]);
    s.push_back(heads_);
    for (int a : axes) s.push_back(q[a]);
    for (int a : axes) s.push_back(k[a]);
    return s;
  }

  // Spatial index of every (outer, attention position) pair; spatial = input axes 1..rank-2.
  static std::vector<int64_t> positions(const Shape& spatial, const std::vector<int>& axes, int64_t& outer,
                                        int64_t& t_count) {
    std::vector<size_t> outer_axes, attn_axes;
    for (size_t i = 0; i < spatial.size(); ++i)
      if (std::find(axes.begin(), axes.end(), static_cast<int>(i + 1)) == axes.end()) outer_axes.push_back(i);
    for (int a : axes) attn_axes.push_back(static_cast<size_t>(a - 1));
    outer = 1;
    t_count = 1;
    for (size_t i : outer_axes) outer *= spatial[i];
    for (size_t i : attn_axes) t_count *= spatial[i];
    std::vector<int64_t> stride(spatial.size(), 1);
    for (size_t i = spatial.size(); i-- > 1;) stride[i - 1] = stride[i] * spatial[i];
    std::vector<int64_t> pos(static_cast<size_t>(outer * t_count));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t t = 0; t < t_count; ++t) {
        int64_t off = 0, rest = o;
        for (size_t j = outer_axes.size(); j-- > 0;) {
          off += (rest % spatial[outer_axes[j]]) * stride[outer_axes[j]];
          rest /= spatial[outer_axes[j]];
        }
        rest = t;
        for (size_t j = attn_axes.size(); j-- > 0;) {
          off += (rest % spatial[attn_axes[j]]) * stride[attn_axes[j]];
          rest /= spatial[attn_axes[j]];
        }
        pos[o * t_count + t] = off;
      }
    return pos;
  }

  // Keras inserts size-1 axes into attention_mask right before its query axes until it has the
  // scores' rank, then broadcasts. Returns the expanded shape; throws if it cannot broadcast.
  Shape expand_mask(const Shape& m, const Shape& scores, size_t n_axes) const {
    if (m.size() < 2 * n_axes || m.size() > scores.size())
      throw Error(class_name_ + ": attention_mask of shape " + shape_to_string(m) +
                  " cannot be broadcast to the attention scores " + shape_to_string(scores));
    Shape e(m.begin(), m.end());
    e.insert(e.begin() + static_cast<std::ptrdiff_t>(m.size() - 2 * n_axes), scores.size() - m.size(), 1);
    for (size_t i = 0; i < e.size(); ++i)
      if (e[i] != 1 && !dims_agree(e[i], scores[i]))
        throw Error(class_name_ + ": attention_mask of shape " + shape_to_string(m) +
                    " cannot be broadcast to the attention scores " + shape_to_string(scores));
    return e;
  }

  // Offsets into the expanded mask for each component of a scores index.
  static void mask_offsets(const Shape& e, const Shape& scores, size_t n_axes, Masks& m) {
    const std::vector<int64_t> stride = broadcast_strides(e, scores);
    // scores = (batch, outer axes..., heads, tq axes..., tk axes...)
    size_t n_outer = scores.size() - 2 - 2 * n_axes;
    auto table = [&](size_t first, size_t count) {
      int64_t n = 1;
      for (size_t i = first; i < first + count; ++i) n *= scores[i];
      std::vector<int64_t> t(static_cast<size_t>(n));
      for (int64_t f = 0; f < n; ++f) {
        int64_t off = 0, rest = f;
        for (size_t i = first + count; i-- > first;) {
          off += (rest % scores[i]) * stride[i];
          rest /= scores[i];
        }
        t[f] = off;
      }
      return t;
    };
    m.off_b = table(0, 1);
    m.off_o = table(1, n_outer);
    m.off_n = table(1 + n_outer, 1);
    m.off_t = table(2 + n_outer, n_axes);
    m.off_s = table(2 + n_outer + n_axes, n_axes);
  }

  bool grouped_;
  std::string class_name_;
  int64_t heads_ = 0, kv_heads_ = 0, key_dim_ = 0, value_dim_ = 0;
  Shape out_dims_;
  std::vector<int64_t> attention_axes_;  // empty: every sequence axis
  double dropout_ = 0;
  int64_t window_ = 0;
  bool use_gate_ = false;
  float scale_ = 1.f;
  Projection query_, key_, gate_, value_, output_;
  // the call
  size_t inputs_ = 0;
  int query_idx_ = -1, value_idx_ = -1, key_idx_ = -1;
  int query_mask_idx_ = -1, value_mask_idx_ = -1, key_mask_idx_ = -1, attention_mask_idx_ = -1;
  bool return_scores_ = false, causal_ = false;
};

// ---- Attention / AdditiveAttention -------------------------------------------------------------------

// inputs [query (..., Tq, dim), value (..., Tv, dv), key (..., Tv, dim) = value]; the output is
// softmax(scores) · value with scores (..., Tq, Tv) from the score mode.
class SequenceAttention : public Op {
 public:
  enum class Mode { kDot, kConcat, kAdditive };

  SequenceAttention(const LayerSpec& spec, bool additive) : class_name_(spec.class_name) {
    Config c(spec);
    bool use_scale = c.flag("use_scale", additive);
    double dropout = c.number("dropout", 0.0);
    if (dropout < 0 || dropout >= 1) c.fail("'dropout' must be in [0, 1)");
    causal_config_ = c.flag("causal", false);  // Keras 2 configs; Keras 3 passes use_causal_mask per call
    if (additive) {
      mode_ = Mode::kAdditive;
      if (use_scale) {
        const Weights::Entry* e = spec.weights.peek();
        if (!e || e->shape.size() != 1) c.fail("missing or malformed scale weight (one value per feature)");
        scale_ = spec.weights.take("scale", {e->shape[0]});
      }
      return;
    }
    std::string mode = c.str("score_mode", "dot");
    if (mode == "dot") mode_ = Mode::kDot;
    else if (mode == "concat") mode_ = Mode::kConcat;
    else c.fail("unknown score_mode '" + mode + "' (expected 'dot' or 'concat')");
    if (use_scale) scale_ = spec.weights.take("scale", {});
    if (mode_ == Mode::kConcat) concat_weight_ = spec.weights.take("concat_score_weight", {})[0];
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    static const std::vector<std::string> names = {"inputs", "mask", "training", "return_attention_scores",
                                                   "use_causal_mask"};
    auto bound = std::make_shared<SequenceAttention>(*this);
    bound->inputs_ = call.roles.size();
    std::vector<int> tensors;
    if (call.args.empty() && call.kwargs.empty()) {
      for (size_t i = 0; i < call.roles.size(); ++i) {
        if (!call.roles[i].empty()) throw Error(call.where + ": keyword tensors need the call's arguments");
        tensors.push_back(static_cast<int>(i));
      }
    } else {
      auto args = named_args(call, names, class_name_);
      const Json* inputs = find_arg(args, "inputs");
      if (!inputs || !inputs->is_array())
        throw Error(call.where + ": " + class_name_ + " is called on a list [query, value] or [query, value, key]");
      for (const Json& t : *inputs) tensors.push_back(tensor_arg(&t, call, "inputs"));
      if (const Json* mask = find_arg(args, "mask"); mask && !mask->is_null()) {
        if (!mask->is_array() || mask->size() < 2 || mask->size() > 3)
          throw Error(call.where + ": " + class_name_ + "'s mask should be a list [query_mask, value_mask]");
        bound->query_mask_idx_ = tensor_arg(&(*mask)[0], call, "mask");
        bound->value_mask_idx_ = tensor_arg(&(*mask)[1], call, "mask");
        if (mask->size() > 2) tensor_arg(&(*mask)[2], call, "mask");  // Keras ignores a key mask
      }
      bound->return_scores_ = bool_arg(find_arg(args, "return_attention_scores"), call, "return_attention_scores");
      bound->causal_ = bool_arg(find_arg(args, "use_causal_mask"), call, "use_causal_mask");
      if (const Json* t = find_arg(args, "training"); t && !t->is_null() && !t->is_boolean())
        throw Error(call.where + ": argument 'training' should be true or false");
    }
    if (tensors.size() < 2 || tensors.size() > 3)
      throw Error(call.where + ": " + class_name_ + " takes [query, value] or [query, value, key], got " +
                  std::to_string(tensors.size()) + " tensors");
    bound->query_idx_ = tensors[0];
    bound->value_idx_ = tensors[1];
    bound->key_idx_ = tensors.size() > 2 ? tensors[2] : tensors[1];
    bound->causal_ = bound->causal_ || causal_config_;
    return bound;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    if (in.size() != inputs_ || query_idx_ < 0)
      throw Error(class_name_ + " was given " + std::to_string(in.size()) + " tensors, its call names " +
                  std::to_string(inputs_));
    const Shape &q = in[query_idx_], &v = in[value_idx_], &k = in[key_idx_];
    size_t rank = q.size();
    if (rank < 2 || v.size() != rank || k.size() != rank)
      throw Error(class_name_ + " expects query, value and key of the same rank (2 or more), got " +
                  shape_to_string(q) + ", " + shape_to_string(v) + ", " + shape_to_string(k));
    for (size_t i = 0; i + 2 < rank; ++i)
      if (!dims_agree(q[i], v[i]) || !dims_agree(q[i], k[i]))
        throw Error(class_name_ + ": query, value and key must share their leading dimensions");
    if (!dims_agree(v[rank - 2], k[rank - 2]))
      throw Error(class_name_ + ": value " + shape_to_string(v) + " and key " + shape_to_string(k) +
                  " must have the same number of steps");
    if (!dims_agree(q.back(), k.back()))
      throw Error(class_name_ + ": query " + shape_to_string(q) + " and key " + shape_to_string(k) +
                  " must have the same feature size");
    if (mode_ == Mode::kAdditive && !scale_.empty() && !dims_agree(q.back(), static_cast<int64_t>(scale_.size())))
      throw Error(class_name_ + ": the scale has " + std::to_string(scale_.size()) + " values, the query " +
                  shape_to_string(q) + " a different feature size");
    auto expect_mask = [&](int idx, const Shape& seq, const char* what) {
      if (idx < 0) return;
      const Shape& m = in[idx];
      bool ok = m.size() == rank - 1 && (rank == 2 || rank == 3);
      for (size_t i = 0; ok && i + 1 < rank; ++i) ok = dims_agree(m[i], seq[i]);
      if (!ok)
        throw Error(class_name_ + ": " + std::string(what) + " of shape " + shape_to_string(m) +
                    " should match the first dimensions of " + shape_to_string(seq) + " (rank-2 or rank-3 inputs)");
    };
    expect_mask(query_mask_idx_, q, "query mask");
    expect_mask(value_mask_idx_, v, "value mask");
    Shape out(q.begin(), q.end() - 1);
    out.push_back(v.back());
    if (!return_scores_) return {out};
    Shape scores(q.begin(), q.end() - 1);
    scores.push_back(k[rank - 2] >= 0 ? k[rank - 2] : v[rank - 2]);
    return {out, scores};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const ConstView &q = in[query_idx_], &v = in[value_idx_], &k = in[key_idx_];
    size_t rank = q.shape.size();
    const int64_t tq = q.shape[rank - 2], tv = v.shape[rank - 2], dim = q.shape.back(), dv = v.shape.back();
    const int64_t batch = product(q.shape.subspan(0, rank - 2));
    const float* q_mask = query_mask_idx_ >= 0 ? in[query_mask_idx_].data : nullptr;
    const float* v_mask = value_mask_idx_ >= 0 ? in[value_mask_idx_].data : nullptr;
    const float scalar_scale = mode_ != Mode::kAdditive && !scale_.empty() ? scale_[0] : 1.f;
    std::vector<float> row(static_cast<size_t>(tv));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < tq; ++t) {
        const float* qr = q.data + (b * tq + t) * dim;
        for (int64_t s = 0; s < tv; ++s) {
          const float* kr = k.data + (b * tv + s) * dim;
          row[s] = score(qr, kr, dim, scalar_scale);
          bool keep = (!v_mask || is_true(v_mask[b * tv + s])) && (!causal_ || s <= t);
          if (!keep) row[s] = row[s] - 1.0e9f;  // Keras pushes masked scores down rather than dropping them
        }
        float mx = -INFINITY;
        for (float x : row) mx = std::max(mx, x);
        double sum = 0;
        for (float x : row) sum += std::exp(static_cast<double>(x - mx));
        for (float& x : row) x = static_cast<float>(std::exp(static_cast<double>(x - mx)) / sum);
        if (return_scores_) std::copy(row.begin(), row.end(), out[1].data + (b * tq + t) * tv);
        float* o = out[0].data + (b * tq + t) * dv;
        if (q_mask && !is_true(q_mask[b * tq + t])) std::fill(o, o + dv, 0.f);
        else matmul(1, 1, tv, dv, row_major(row.data(), tv), row_major(v.data + b * tv * dv, dv), row_major(o, dv),
                    MatmulSum::kDouble);
      }
  }

  int64_t param_count() const override {
    return static_cast<int64_t>(scale_.size()) + (mode_ == Mode::kConcat ? 1 : 0);
  }

 private:
  float score(const float* q, const float* k, int64_t dim, float scalar_scale) const {
    double acc = 0;
    switch (mode_) {
      case Mode::kDot:
        for (int64_t c = 0; c < dim; ++c) acc += static_cast<double>(q[c]) * k[c];
        return static_cast<float>(acc) * scalar_scale;
      case Mode::kConcat:
        for (int64_t c = 0; c < dim; ++c) acc += std::tanh(scalar_scale * (q[c] + k[c]));
        return concat_weight_ * static_cast<float>(acc);
      case Mode::kAdditive:
        for (int64_t c = 0; c < dim; ++c) acc += (scale_.empty() ? 1.f : scale_[c]) * std::tanh(q[c] + k[c]);
        return static_cast<float>(acc);
    }
    return 0.f;
  }

  std::string class_name_;
  Mode mode_ = Mode::kDot;
  std::vector<float> scale_;  // (), (dim,) for AdditiveAttention, or empty without use_scale
  float concat_weight_ = 1.f;
  bool causal_config_ = false;
  // the call
  size_t inputs_ = 0;
  int query_idx_ = -1, value_idx_ = -1, key_idx_ = -1, query_mask_idx_ = -1, value_mask_idx_ = -1;
  bool return_scores_ = false, causal_ = false;
};

}  // namespace

std::shared_ptr<Op> make_head_attention(const LayerSpec& spec, bool grouped) {
  return std::make_shared<HeadAttention>(spec, grouped);
}

void register_attention(const AddLayer& add) {
  add("Attention", [](const LayerSpec& s) { return std::make_shared<SequenceAttention>(s, false); });
  add("AdditiveAttention", [](const LayerSpec& s) { return std::make_shared<SequenceAttention>(s, true); });
}

}  // namespace kerasrt::layers
