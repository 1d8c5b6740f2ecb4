// MultiHeadAttention and GroupedQueryAttention (also spelled GroupQueryAttention): the query, key,
// value (and gate) projections as dense nodes, the scaled dot-product core as one attention node,
// the output projection as a dense node. Rank > 3 inputs attending over all their sequence axes run
// the same nodes on the flattened positions; other rank > 3 calls (attention over some of the axes,
// an attention_mask, unknown sizes) run as Keras writes them: einsum projections, einsum scores,
// softmax over the attention axes, einsum with the values.
#include <algorithm>
#include <cmath>
#include <map>

#include "format/keras/typed_layer.hpp"
#include "format/keras/call_args.hpp"
#include "format/keras/config.hpp"

namespace kerasrt::format {
namespace {

int64_t product(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Refuses query, key and value whose last dimension is not what their projection kernels take.
void expect_projection_inputs(const std::string& cls, const Shape& qs, const Shape& ks, const Shape& vs, int64_t q_in,
                              int64_t k_in, int64_t v_in) {
  auto expect_last = [&](const Shape& s, int64_t d, const char* what) {
    if (!dims_agree(s.back(), d))
      throw Error(cls + ": the " + std::string(what) + " kernel takes a last dimension of " + std::to_string(d) +
                  ", got " + std::string(what) + " " + shape_to_string(s));
  };
  expect_last(qs, q_in, "query");
  expect_last(ks, k_in, "key");
  expect_last(vs, v_in, "value");
}

// A projection kernel of shape lead + tail (a -1 in `lead` takes the stored size) re-laid as a dense
// (product(lead), product(tail)) matrix, and with `use_bias` a bias of shape tail.
struct Projection {
  int64_t in = 0, units = 0;
  Shape lead, tail;  // the Keras shapes
  std::vector<ir::Weight> weights;
};

Projection take_projection(Weights& w, const std::string& what, Shape lead, const Shape& tail, bool use_bias) {
  const Weights::Entry* e = w.peek();
  if (e && e->shape.size() == lead.size() + tail.size())
    for (size_t i = 0; i < lead.size(); ++i)
      if (lead[i] < 0) lead[i] = e->shape[i];
  Shape shape = lead;
  shape.insert(shape.end(), tail.begin(), tail.end());
  Projection p;
  p.in = product(lead);
  p.units = product(tail);
  p.lead = lead;
  p.tail = tail;
  p.weights.push_back(weight(what + "_kernel", w.take(what + " kernel", shape), {p.in, p.units}));
  if (use_bias) p.weights.push_back(weight(what + "_bias", w.take(what + " bias", tail), {p.units}));
  return p;
}

// The tensors and flags of one call, by Keras's call signature.
struct Bound {
  int query = -1, value = -1, key = -1;
  int query_mask = -1, value_mask = -1, key_mask = -1, attention_mask = -1;
  bool return_scores = false, causal = false;
};

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
    const std::map<std::string, const Json*> args = named_call_args(call, names, cls);
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
      : grouped_(grouped), cls_(spec.class_name) {
    Config c(spec);
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
    query_ = take_projection(w, "query", {-1}, {heads_, key_dim_}, use_bias);
    key_ = take_projection(w, "key", {-1}, {kv_heads_, key_dim_}, use_bias);
    if (use_gate_) gate_ = take_projection(w, "gate", {query_.in}, {heads_, value_dim_}, use_bias);
    value_ = take_projection(w, "value", {-1}, {kv_heads_, value_dim_}, use_bias);
    if (out_dims.empty()) out_dims = {query_.in};
    out_dims_ = out_dims;
    output_ = take_projection(w, "attention_output", {heads_, value_dim_}, out_dims, use_bias);
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
    // then it is rank-3 attention over the flattened positions. Anything else runs the einsum form.
    Shape q_seq, k_seq;
    if (rank != 3 || vs.size() != 3 || ks.size() != 3) {
      if (!flattens(b, qs, vs, ks)) return general(sink, b, inputs);
      for (size_t i = 1; i + 1 < rank; ++i)
        if (!dims_agree(vs[i], ks[i]))
          throw Error(cls_ + ": value " + shape_to_string(vs) + " and key " + shape_to_string(ks) +
                      " must agree on all but the last dimension");
      q_seq.assign(qs.begin() + 1, qs.end() - 1);
      for (size_t i = 1; i + 1 < rank; ++i) k_seq.push_back(ks[i] >= 0 ? ks[i] : vs[i]);
    } else {
      for (int64_t a : attention_axes_) {
        // Negative axes count from the input's rank.
        if ((a < 0 ? 3 + a : a) != 1)
          throw Error(cls_ + ": attention axis " + std::to_string(a) + " is not a sequence axis of a rank-3 input");
      }
      if (attention_axes_.size() > 1) throw Error(cls_ + ": attention axis 1 is repeated");
    }
    if (grouped_ && !dims_agree(qs.back(), vs.back()))
      throw Error("GroupedQueryAttention needs query and value with the same last dimension");
    expect_projection_inputs(cls_, qs, ks, vs, query_.in, key_.in, value_.in);
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

  // x's last lead.size() axes times the projection's kernel in its Keras shape (lead + tail), plus
  // the bias: (..., lead...) -> (..., tail...).
  static int project(NodeSink& sink, const Projection& p, int x) {
    const int rank = static_cast<int>(sink.type(x).shape.size());
    const int outer = rank - static_cast<int>(p.lead.size());
    ir::EinsumAttrs a;
    a.weight_operand = true;
    std::vector<int> xs, ws, out;
    for (int i = 0; i < outer; ++i) xs.push_back(i), out.push_back(i);
    for (size_t j = 0; j < p.lead.size(); ++j) xs.push_back(30 + static_cast<int>(j)), ws.push_back(30 + static_cast<int>(j));
    for (size_t j = 0; j < p.tail.size(); ++j) ws.push_back(40 + static_cast<int>(j)), out.push_back(40 + static_cast<int>(j));
    a.inputs = {xs, ws};
    a.output = out;
    Shape kshape = p.lead;
    kshape.insert(kshape.end(), p.tail.begin(), p.tail.end());
    ir::Weight k{p.weights[0].name, std::make_shared<const Tensor>(kshape, p.weights[0].value->to_floats())};
    int y = sink.add(ir::OpKind::kEinsum, a, {k}, {x}).at(0);
    if (p.weights.size() > 1) {
      ir::Weight b{p.weights[1].name, std::make_shared<const Tensor>(p.tail, p.weights[1].value->to_floats())};
      const int bias = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {b}, {}).at(0);
      y = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kAdd}, {}, {y, bias}).at(0);
    }
    return y;
  }

  // Attention axes as input axes in [1, rank-2], in the configured order (negative ones count from
  // the projected rank, one more than the input's).
  std::vector<int> resolve_axes(size_t rank) const {
    std::vector<int> axes;
    if (attention_axes_.empty()) {
      for (size_t i = 1; i + 1 < rank; ++i) axes.push_back(static_cast<int>(i));
      return axes;
    }
    for (int64_t a : attention_axes_) {
      const int64_t r = a < 0 ? static_cast<int64_t>(rank) + a : a;
      if (r < 1 || r > static_cast<int64_t>(rank) - 2)
        throw Error(cls_ + ": attention axis " + std::to_string(a) + " is not a sequence axis of a rank-" +
                    std::to_string(rank) + " input");
      if (std::find(axes.begin(), axes.end(), static_cast<int>(r)) != axes.end())
        throw Error(cls_ + ": attention axis " + std::to_string(a) + " is repeated");
      axes.push_back(static_cast<int>(r));
    }
    return axes;
  }

  // Rank > 3 calls the flattened form does not cover, as Keras computes them: projections to
  // (batch, positions..., heads, dim), scores by einsum over (batch, other axes..., heads, query
  // attention axes..., key attention axes...) with the query scaled first, softmax over the key
  // axes, einsum with the values. Masked scores are left out; a query with no allowed key gets zeros.
  std::vector<int> general(NodeSink& sink, const Bound& b, std::span<const int> inputs) const {
    if (grouped_) throw Error("GroupedQueryAttention expects rank-3 query, value and key");
    const int q = sink.cast(inputs[b.query], DType::kFloat32), v = sink.cast(inputs[b.value], DType::kFloat32);
    const int k = b.key >= 0 ? sink.cast(inputs[b.key], DType::kFloat32) : v;
    const Shape &qs = sink.type(q).shape, &vs = sink.type(v).shape, &ks = sink.type(k).shape;
    const size_t rank = qs.size();
    if (rank < 3) throw Error(cls_ + " expects a query of rank 3 or more, got " + shape_to_string(qs));
    if (ks.size() != rank || vs.size() != rank)
      throw Error(cls_ + ": query " + shape_to_string(qs) + ", value " + shape_to_string(vs) + " and key " +
                  shape_to_string(ks) + " must have the same rank");
    expect_projection_inputs(cls_, qs, ks, vs, query_.in, key_.in, value_.in);
    for (size_t i = 1; i + 1 < rank; ++i)
      if (!dims_agree(vs[i], ks[i]))
        throw Error(cls_ + ": value " + shape_to_string(vs) + " and key " + shape_to_string(ks) +
                    " must agree on all but the last dimension");
    const std::vector<int> axes = resolve_axes(rank);
    auto attending = [&](size_t i) { return std::find(axes.begin(), axes.end(), static_cast<int>(i)) != axes.end(); };
    for (size_t i = 1; i + 1 < rank; ++i)
      if (!attending(i) && !dims_agree(qs[i], ks[i]))
        throw Error(cls_ + ": query " + shape_to_string(qs) + " and key " + shape_to_string(ks) +
                    " must agree on the axes attention does not run over");
    if (b.query_mask >= 0 || b.value_mask >= 0 || b.key_mask >= 0 || b.causal || window_ > 0)
      throw Error(cls_ + ": query/value/key masks, causal and sliding-window masks need rank-3 inputs");

    // Labels: batch 0, input axis i its own label i (query side), key-side attention axes 20 + i,
    // heads 41, key dim 42, value dim 43.
    constexpr int kHeads = 41, kKeyDim = 42, kValueDim = 43;
    const int n = static_cast<int>(axes.size());
    auto side = [&](bool key_side) {
      std::vector<int> t{0};
      for (size_t i = 1; i + 1 < rank; ++i) t.push_back(key_side && attending(i) ? 20 + static_cast<int>(i) : static_cast<int>(i));
      t.push_back(kHeads);
      return t;
    };
    std::vector<int> score_labels{0};
    for (size_t i = 1; i + 1 < rank; ++i)
      if (!attending(i)) score_labels.push_back(static_cast<int>(i));
    score_labels.push_back(kHeads);
    for (int a : axes) score_labels.push_back(a);
    for (int a : axes) score_labels.push_back(20 + a);

    int qp = project(sink, query_, q);
    const int kp = project(sink, key_, k), vp = project(sink, value_, v);
    const int scale = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {weight("scale", {scale_}, {})}, {}).at(0);
    qp = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kMul}, {}, {qp, scale}).at(0);
    ir::EinsumAttrs sa;
    sa.inputs = {side(false), side(true)};
    sa.inputs[0].push_back(kKeyDim);
    sa.inputs[1].push_back(kKeyDim);
    sa.output = score_labels;
    int scores = sink.add(ir::OpKind::kEinsum, sa, {}, {qp, kp}).at(0);
    const int srank = static_cast<int>(sink.type(scores).shape.size());
    int mask = -1;
    if (b.attention_mask >= 0) {
      mask = sink.cast(inputs[b.attention_mask], DType::kBool);
      const Shape ms = sink.type(mask).shape;
      if (static_cast<int>(ms.size()) < 2 * n || static_cast<int>(ms.size()) > srank)
        throw Error(cls_ + ": attention_mask of shape " + shape_to_string(ms) +
                    " cannot be broadcast to the attention scores " + shape_to_string(sink.type(scores).shape));
      // Keras inserts size-1 axes right before the query axes until the mask has the scores' rank.
      if (static_cast<int>(ms.size()) < srank)
        mask = sink.add(ir::OpKind::kExpandDims,
                        ir::ExpandDimsAttrs{static_cast<int>(ms.size()) - 2 * n, srank - static_cast<int>(ms.size())},
                        {}, {mask})
                   .at(0);
      const Shape& es = sink.type(mask).shape;
      const Shape& ss = sink.type(scores).shape;
      for (size_t i = 0; i < es.size(); ++i)
        if (es[i] != 1 && !dims_agree(es[i], ss[i]))
          throw Error(cls_ + ": attention_mask of shape " + shape_to_string(ms) +
                      " cannot be broadcast to the attention scores " + shape_to_string(ss));
      // Masked scores sit far below any other so they get no weight; their weights are zeroed after.
      const int low = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {weight("masked", {-1e9f}, {})}, {}).at(0);
      scores = sink.add(ir::OpKind::kWhere, ir::WhereAttrs{}, {}, {mask, scores, low}).at(0);
    }
    ir::SoftmaxAttrs soft;
    for (int i = srank - n; i < srank; ++i) soft.axes.push_back(i);
    int weights = sink.add(ir::OpKind::kSoftmax, soft, {}, {scores}).at(0);
    if (mask >= 0) {
      const int zero = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {weight("zero", {0.f}, {})}, {}).at(0);
      weights = sink.add(ir::OpKind::kWhere, ir::WhereAttrs{}, {}, {mask, weights, zero}).at(0);
    }
    ir::EinsumAttrs ca;
    ca.inputs = {score_labels, side(true)};
    ca.inputs[1].push_back(kValueDim);
    ca.output = side(false);
    ca.output.push_back(kValueDim);
    int heads_out = sink.add(ir::OpKind::kEinsum, ca, {}, {weights, vp}).at(0);
    if (use_gate_) {
      int gate = project(sink, gate_, q);
      gate = sink.add(ir::OpKind::kUnary, ir::UnaryAttrs{ir::UnaryFn::kSigmoid}, {}, {gate}).at(0);
      heads_out = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kMul}, {}, {heads_out, gate}).at(0);
    }
    const int out = project(sink, output_, heads_out);
    if (b.return_scores) return {out, weights};
    return {out};
  }

  bool grouped_;
  std::string cls_;
  int64_t heads_ = 0, kv_heads_ = 0, key_dim_ = 0, value_dim_ = 0, window_ = 0;
  Shape out_dims_;
  std::vector<int64_t> attention_axes_;
  double dropout_ = 0;
  bool use_gate_ = false;
  float scale_ = 1.f;
  Projection query_, key_, gate_, value_, output_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_head_attention(const LayerSpec& spec) {
  return std::make_shared<HeadAttentionLayer>(spec, spec.class_name != "MultiHeadAttention");
}

}  // namespace kerasrt::format
