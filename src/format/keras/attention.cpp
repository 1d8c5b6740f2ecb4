// MultiHeadAttention and GroupedQueryAttention (also spelled GroupQueryAttention): the query, key,
// value (and gate) projections as dense nodes, the scaled dot-product core as one attention node,
// the output projection as a dense node. Rank > 3 inputs attending over all their sequence axes run
// the same nodes on the flattened positions; other rank > 3 calls (attention over some of the axes,
// masks) still run through the legacy Op (src/layers/attention.cpp) as a custom node.
#include <algorithm>
#include <cmath>
#include <map>

#include "format/keras/typed_layer.hpp"
#include "layers/attention.hpp"
#include "layers/common.hpp"

namespace kerasrt::format {
namespace {

int64_t product(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// A projection kernel of shape lead + tail (a -1 in `lead` takes the stored size) re-laid as a dense
// (product(lead), product(tail)) matrix, and with `use_bias` a bias of shape tail. `stored` keeps the
// Keras shapes for the legacy fallback.
struct Projection {
  int64_t in = 0, units = 0;
  std::vector<ir::Weight> weights;
};

Projection take_projection(Weights& w, const std::string& what, Shape lead, const Shape& tail, bool use_bias,
                           std::vector<Weights::Entry>& stored) {
  const Weights::Entry* e = w.peek();
  if (e && e->shape.size() == lead.size() + tail.size())
    for (size_t i = 0; i < lead.size(); ++i)
      if (lead[i] < 0) lead[i] = e->shape[i];
  Shape shape = lead;
  shape.insert(shape.end(), tail.begin(), tail.end());
  Projection p;
  p.in = product(lead);
  p.units = product(tail);
  std::vector<float> k = w.take(what + " kernel", shape);
  stored.push_back({what + " kernel", shape, k});
  p.weights.push_back(weight(what + "_kernel", std::move(k), {p.in, p.units}));
  if (use_bias) {
    std::vector<float> b = w.take(what + " bias", tail);
    stored.push_back({what + " bias", tail, b});
    p.weights.push_back(weight(what + "_bias", std::move(b), {p.units}));
  }
  return p;
}

// The tensors and flags of one call, by Keras's call signature.
struct Bound {
  int query = -1, value = -1, key = -1;
  int query_mask = -1, value_mask = -1, key_mask = -1, attention_mask = -1;
  bool return_scores = false, causal = false;
};

int tensor_arg(const Json* j, const Call& call, const std::string& name) {
  if (!j || j->is_null()) return -1;
  if (std::optional<int> i = layers::placeholder_index(*j); i && *i >= 0 && static_cast<size_t>(*i) < call.roles.size())
    return *i;
  throw Error(call.where + ": argument '" + name + "' should be a tensor, got " + j->dump().substr(0, 200));
}

bool bool_arg(const Json* j, const Call& call, const std::string& name) {
  if (!j || j->is_null()) return false;
  if (j->is_boolean()) return j->get<bool>();
  throw Error(call.where + ": argument '" + name + "' should be true or false, got " + j->dump().substr(0, 200));
}

Bound bind_call(const Call& call, const std::string& cls) {
  static const std::vector<std::string> names = {"query", "value", "key", "query_mask", "value_mask", "key_mask",
                                                 "attention_mask", "return_attention_scores", "training",
                                                 "use_causal_mask"};
  Bound b;
  if (call.args.empty() && call.kwargs.empty()) {  // a hand-made call: positional tensors only
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": keyword tensors need the call's arguments");
    if (call.roles.size() > 3) throw Error(call.where + ": " + cls + " takes at most 3 positional tensors");
    b.query = call.roles.size() > 0 ? 0 : -1;
    b.value = call.roles.size() > 1 ? 1 : -1;
    b.key = call.roles.size() > 2 ? 2 : -1;
  } else {
    std::map<std::string, const Json*> args;
    if (call.args.is_array()) {
      if (call.args.size() > names.size())
        throw Error(call.where + ": " + cls + " takes at most " + std::to_string(names.size()) +
                    " positional arguments, the call passes " + std::to_string(call.args.size()));
      for (size_t i = 0; i < call.args.size(); ++i) args[names[i]] = &call.args[i];
    }
    for (auto it = call.kwargs.begin(); it != call.kwargs.end(); ++it) {
      if (std::find(names.begin(), names.end(), it.key()) == names.end())
        throw Error(call.where + ": " + cls + " has no call argument '" + it.key() + "'");
      if (args.count(it.key())) throw Error(call.where + ": argument '" + it.key() + "' is given twice");
      args[it.key()] = &it.value();
    }
    auto find = [&](const char* n) -> const Json* {
      auto it = args.find(n);
      return it == args.end() ? nullptr : it->second;
    };
    auto tensor = [&](const char* n) { return tensor_arg(find(n), call, n); };
    b.query = tensor("query");
    b.value = tensor("value");
    b.key = tensor("key");
    b.query_mask = tensor("query_mask");
    b.value_mask = tensor("value_mask");
    b.key_mask = tensor("key_mask");
    b.attention_mask = tensor("attention_mask");
    b.return_scores = bool_arg(find("return_attention_scores"), call, "return_attention_scores");
    b.causal = bool_arg(find("use_causal_mask"), call, "use_causal_mask");
    if (const Json* t = find("training"); t && !t->is_null() && !t->is_boolean())
      throw Error(call.where + ": argument 'training' should be true or false");
  }
  if (b.query < 0 || b.value < 0) throw Error(call.where + ": " + cls + " needs a query and a value tensor");
  return b;
}

class HeadAttentionLayer : public TypedLayer {
 public:
  HeadAttentionLayer(const LayerSpec& spec, bool grouped)
      : grouped_(grouped), cls_(spec.class_name), name_(spec.name), config_(spec.config), where_(spec.where) {
    layers::Config c(spec);
    bool use_bias = c.flag("use_bias", true);
    use_gate_ = c.flag("use_gate", false);
    dropout_ = c.number("dropout", 0.0);
    if (dropout_ < 0 || dropout_ >= 1) c.fail("'dropout' must be in [0, 1)");
    if (c.has("sliding_window")) {
      window_ = c.integer("sliding_window");
      if (window_ <= 0) c.fail("'sliding_window' must be a positive integer");
    }
    Shape out_dims;
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
          if (os.get<int64_t>() != 0) out_dims = {os.get<int64_t>()};
        } else {
          out_dims = c.int_list("output_shape");
        }
        for (int64_t d : out_dims)
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
    query_ = take_projection(w, "query", {-1}, {heads_, key_dim_}, use_bias, stored_);
    key_ = take_projection(w, "key", {-1}, {kv_heads_, key_dim_}, use_bias, stored_);
    if (use_gate_) gate_ = take_projection(w, "gate", {query_.in}, {heads_, value_dim_}, use_bias, stored_);
    value_ = take_projection(w, "value", {-1}, {kv_heads_, value_dim_}, use_bias, stored_);
    if (out_dims.empty()) out_dims = {query_.in};
    out_dims_ = out_dims;
    output_ = take_projection(w, "attention_output", {heads_, value_dim_}, out_dims, use_bias, stored_);
  }

  int64_t param_count() const override {
    int64_t n = 0;
    for (const Projection* p : {&query_, &key_, &gate_, &value_, &output_})
      for (const ir::Weight& x : p->weights) n += x.value->size();
    return n;
  }

  void check_call(const Call& call) const override { bind_call(call, cls_); }

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    const Bound b = bind_call(call, cls_);
    if (inputs.size() != call.roles.size())
      throw Error(cls_ + " was given " + std::to_string(inputs.size()) + " tensors, its call names " +
                  std::to_string(call.roles.size()));
    const int q = inputs[b.query], v = inputs[b.value], k = b.key >= 0 ? inputs[b.key] : v;
    const Shape &qs = sink.type(q).shape, &vs = sink.type(v).shape, &ks = sink.type(k).shape;
    const size_t rank = qs.size();
    // Rank > 3 runs typed when attention spans every sequence axis in order and nothing is masked:
    // then it is rank-3 attention over the flattened positions. Anything else stays legacy.
    Shape q_seq, k_seq;
    if (rank != 3 || vs.size() != 3 || ks.size() != 3) {
      if (!flattens(b, qs, vs, ks)) return legacy(sink, call, inputs);
      for (size_t i = 1; i + 1 < rank; ++i)
        if (!layers::dims_agree(vs[i], ks[i]))
          throw Error(cls_ + ": value " + shape_to_string(vs) + " and key " + shape_to_string(ks) +
                      " must agree on all but the last dimension");
      q_seq.assign(qs.begin() + 1, qs.end() - 1);
      for (size_t i = 1; i + 1 < rank; ++i) k_seq.push_back(ks[i] >= 0 ? ks[i] : vs[i]);
    } else {
      for (int64_t a : attention_axes_) {
        // Negative axes count from the input's rank, as the legacy Op resolves them.
        if ((a < 0 ? 3 + a : a) != 1)
          throw Error(cls_ + ": attention axis " + std::to_string(a) + " is not a sequence axis of a rank-3 input");
      }
      if (attention_axes_.size() > 1) throw Error(cls_ + ": attention axis 1 is repeated");
    }
    if (grouped_ && !layers::dims_agree(qs.back(), vs.back()))
      throw Error("GroupedQueryAttention needs query and value with the same last dimension");
    auto expect_last = [&](const Shape& s, int64_t d, const char* what) {
      if (!layers::dims_agree(s.back(), d))
        throw Error(cls_ + ": the " + std::string(what) + " kernel takes a last dimension of " + std::to_string(d) +
                    ", got " + std::string(what) + " " + shape_to_string(s));
    };
    expect_last(qs, query_.in, "query");
    expect_last(ks, key_.in, "key");
    expect_last(vs, value_.in, "value");
    const int64_t q_steps = qs[1];
    const bool flat = rank != 3;

    int qf = sink.cast(q, DType::kFloat32), kf = sink.cast(k, DType::kFloat32), vf = sink.cast(v, DType::kFloat32);
    if (flat) {
      auto flatten = [&](int x, int64_t last) {
        return sink.add(ir::OpKind::kReshape, ir::ReshapeAttrs{{-1, last}, false}, {}, {x}).at(0);
      };
      qf = flatten(qf, query_.in);
      kf = flatten(kf, key_.in);
      vf = flatten(vf, value_.in);
    }
    const int qp = dense(sink, query_, qf, ir::UnaryFn::kIdentity);
    const int kp = dense(sink, key_, kf, ir::UnaryFn::kIdentity);
    const int vp = dense(sink, value_, vf, ir::UnaryFn::kIdentity);

    ir::AttentionAttrs a;
    a.heads = heads_;
    a.kv_heads = kv_heads_;
    a.key_dim = key_dim_;
    a.value_dim = value_dim_;
    a.scale = scale_;
    a.causal = b.causal;
    a.window = window_;
    // Keras's torch backend runs rank-3 calls without dropout or returned scores through the fused
    // dot_product_attention, whose fully masked rows average every value; the Softmax path zeroes them.
    a.uniform_if_fully_masked = !flat && dropout_ == 0.0 && !b.return_scores;
    a.return_scores = b.return_scores;
    std::vector<int> args{qp, kp, vp};
    if (b.attention_mask >= 0) {
      int m = sink.cast(inputs[b.attention_mask], DType::kFloat32);
      const size_t r = sink.type(m).shape.size();
      if (r < 2 || r > 4)
        throw Error(cls_ + ": attention_mask of shape " + shape_to_string(sink.type(m).shape) +
                    " cannot be broadcast to the attention scores");
      // Keras inserts size-1 axes right before the query axis until the mask has the scores' rank.
      if (r < 4)
        m = sink.add(ir::OpKind::kExpandDims, ir::ExpandDimsAttrs{static_cast<int>(r - 2), static_cast<int>(4 - r)},
                     {}, {m})
                .at(0);
      a.has_attention_mask = true;
      args.push_back(m);
    }
    for (auto [idx, flag] : {std::pair{b.query_mask, &a.has_query_mask}, std::pair{b.value_mask, &a.has_value_mask},
                             std::pair{b.key_mask, &a.has_key_mask}})
      if (idx >= 0) {
        *flag = true;
        args.push_back(sink.cast(inputs[idx], DType::kFloat32));
      }
    std::vector<int> att = sink.add(ir::OpKind::kAttention, a, {}, args);
    int heads_out = att.at(0);
    if (use_gate_) {
      const int gate = dense(sink, gate_, qf, ir::UnaryFn::kSigmoid);
      heads_out = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kMul}, {}, {heads_out, gate}).at(0);
    }
    int out = dense(sink, output_, heads_out, ir::UnaryFn::kIdentity);
    if (out_dims_.size() > 1 || flat) {
      Shape target = flat ? q_seq : Shape{q_steps};
      target.insert(target.end(), out_dims_.begin(), out_dims_.end());
      out = sink.add(ir::OpKind::kReshape, ir::ReshapeAttrs{target, false}, {}, {out}).at(0);
    }
    if (b.return_scores && flat) {
      // (batch, heads, query positions..., key positions...)
      Shape target{heads_};
      target.insert(target.end(), q_seq.begin(), q_seq.end());
      target.insert(target.end(), k_seq.begin(), k_seq.end());
      return {out, sink.add(ir::OpKind::kReshape, ir::ReshapeAttrs{target, false}, {}, {att.at(1)}).at(0)};
    }
    if (b.return_scores) return {out, att.at(1)};
    return {out};
  }

 private:
  static int dense(NodeSink& sink, const Projection& p, int x, ir::UnaryFn act) {
    ir::DenseAttrs d;
    d.in = p.in;
    d.units = p.units;
    d.has_bias = p.weights.size() > 1;
    d.activation.fn = act;
    return sink.add(ir::OpKind::kDense, d, p.weights, {x}).at(0);
  }

  // Whether a call on inputs of rank > 3 is rank-3 attention over the flattened sequence axes: the
  // same rank everywhere, attention over every sequence axis in increasing order, no masks, and the
  // reshapes back need at most one unknown size each.
  bool flattens(const Bound& b, const Shape& q, const Shape& v, const Shape& k) const {
    const size_t rank = q.size();
    if (grouped_ || rank < 4 || v.size() != rank || k.size() != rank) return false;
    if (b.query_mask >= 0 || b.value_mask >= 0 || b.key_mask >= 0 || b.attention_mask >= 0 || b.causal ||
        window_ > 0)
      return false;
    if (!attention_axes_.empty()) {
      if (attention_axes_.size() != rank - 2) return false;
      for (size_t i = 0; i < attention_axes_.size(); ++i) {
        int64_t a = attention_axes_[i];
        if ((a < 0 ? static_cast<int64_t>(rank) + a : a) != static_cast<int64_t>(i + 1)) return false;
      }
    }
    int unknown_q = 0, unknown_k = 0;
    for (size_t i = 1; i + 1 < rank; ++i) {
      unknown_q += q[i] < 0;
      unknown_k += k[i] < 0 && v[i] < 0;
    }
    return unknown_q <= 1 && unknown_q + unknown_k <= 1;
  }

  // The legacy Op for calls the typed nodes do not cover, rebuilt from the stored weights.
  std::vector<int> legacy(NodeSink& sink, const Call& call, std::span<const int> inputs) const {
    Weights w(stored_, where_);
    LayerSpec spec{cls_, "", name_, config_, w, where_};
    std::shared_ptr<const Op> op = layers::make_head_attention(spec, grouped_)->bind(call);
    std::vector<int> args;
    for (int v : inputs) args.push_back(sink.cast(v, DType::kFloat32));
    return sink.add(ir::OpKind::kCustom, ir::CustomAttrs{op, cls_}, {}, args);
  }

  bool grouped_;
  std::string cls_, name_;
  Json config_;
  std::string where_;
  int64_t heads_ = 0, kv_heads_ = 0, key_dim_ = 0, value_dim_ = 0, window_ = 0;
  Shape out_dims_;
  std::vector<int64_t> attention_axes_;
  double dropout_ = 0;
  bool use_gate_ = false;
  float scale_ = 1.f;
  Projection query_, key_, gate_, value_, output_;
  std::vector<Weights::Entry> stored_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_head_attention(const LayerSpec& spec) {
  return std::make_shared<HeadAttentionLayer>(spec, spec.class_name != "MultiHeadAttention");
}

}  // namespace kerasrt::format
