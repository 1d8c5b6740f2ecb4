// Attention (Luong: dot or concat scores) and AdditiveAttention (Bahdanau scores) as a chain of
// nodes: scores (matmul, or broadcast add/tanh/sum for concat and additive), masked scores lowered
// by 1e9 as Keras does (where), softmax over the keys, matmul with the value, and query-masked rows
// zeroed. Dropout is inactive at inference.
#include <algorithm>
#include <map>
#include <optional>

#include "format/keras/typed_layer.hpp"
#include "format/keras/call_args.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
namespace {

enum class Mode { kDot, kConcat, kAdditive };

struct Bound {
  int query = -1, value = -1, key = -1, query_mask = -1, value_mask = -1;
  bool return_scores = false, causal = false;
};

class SequenceAttentionLayer : public TypedLayer {
 public:
  SequenceAttentionLayer(const LayerSpec& spec, bool additive) : cls_(spec.class_name) {
    Config c(spec);
    const bool use_scale = c.flag("use_scale", additive);
    const double dropout = c.number("dropout", 0.0);
    if (dropout < 0 || dropout >= 1) c.fail("'dropout' must be in [0, 1)");
    causal_config_ = c.flag("causal", false);  // Keras 2 configs; Keras 3 passes use_causal_mask per call
    if (additive) {
      mode_ = Mode::kAdditive;
      if (use_scale) {
        const Weights::Entry* e = spec.weights.peek();
        if (!e || e->shape.size() != 1) c.fail("missing or malformed scale weight (one value per feature)");
        const int64_t n = e->shape[0];
        scale_ = stored_weight(spec.weights, "scale", "scale", {n});
      }
      return;
    }
    const std::string mode = c.str("score_mode", "dot");
    if (mode == "dot") mode_ = Mode::kDot;
    else if (mode == "concat") mode_ = Mode::kConcat;
    else c.fail("unknown score_mode '" + mode + "' (expected 'dot' or 'concat')");
    if (use_scale) scale_ = stored_weight(spec.weights, "scale", "scale", {});
    if (mode_ == Mode::kConcat)
      concat_weight_ = stored_weight(spec.weights, "concat_score_weight", "concat_score_weight", {});
  }

  int64_t param_count() const override {
    return (scale_.value ? scale_.value->size() : 0) + (concat_weight_.value ? 1 : 0);
  }

  void check_call(const Call& call) const override { bind(call); }

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    const Bound b = bind(call);
    if (inputs.size() != call.roles.size())
      throw Error(cls_ + " was given " + std::to_string(inputs.size()) + " tensors, its call names " +
                  std::to_string(call.roles.size()));
    const int q = sink.cast(inputs[b.query], DType::kFloat32), v = sink.cast(inputs[b.value], DType::kFloat32),
              k = sink.cast(inputs[b.key], DType::kFloat32);
    const Shape qs = sink.type(q).shape, vs = sink.type(v).shape, ks = sink.type(k).shape;
    const size_t rank = qs.size();
    if (rank < 2 || vs.size() != rank || ks.size() != rank)
      throw Error(cls_ + " expects query, value and key of the same rank (2 or more), got " + shape_to_string(qs) +
                  ", " + shape_to_string(vs) + ", " + shape_to_string(ks));
    for (size_t i = 0; i + 2 < rank; ++i)
      if (!dims_agree(qs[i], vs[i]) || !dims_agree(qs[i], ks[i]))
        throw Error(cls_ + ": query, value and key must share their leading dimensions");
    if (!dims_agree(vs[rank - 2], ks[rank - 2]))
      throw Error(cls_ + ": value " + shape_to_string(vs) + " and key " + shape_to_string(ks) +
                  " must have the same number of steps");
    if (!dims_agree(qs.back(), ks.back()))
      throw Error(cls_ + ": query " + shape_to_string(qs) + " and key " + shape_to_string(ks) +
                  " must have the same feature size");
    if (mode_ == Mode::kAdditive && scale_.value && !dims_agree(qs.back(), scale_.value->shape[0]))
      throw Error(cls_ + ": the scale has " + std::to_string(scale_.value->shape[0]) + " values, the query " +
                  shape_to_string(qs) + " a different feature size");
    auto mask_of = [&](int idx, const Shape& seq, const char* what) -> int {
      if (idx < 0) return -1;
      const int m = inputs[idx];
      const Shape& ms = sink.type(m).shape;
      bool ok = ms.size() == rank - 1 && (rank == 2 || rank == 3);
      for (size_t i = 0; ok && i + 1 < rank; ++i) ok = dims_agree(ms[i], seq[i]);
      if (!ok)
        throw Error(cls_ + ": " + std::string(what) + " of shape " + shape_to_string(ms) +
                    " should match the first dimensions of " + shape_to_string(seq) + " (rank-2 or rank-3 inputs)");
      return sink.cast(m, DType::kBool);  // any nonzero value keeps
    };
    // The scores take the key's step count, or the value's when only it is known.
    int key = k;
    if (rank >= 3 && ks[rank - 2] < 0 && vs[rank - 2] >= 0) {
      Shape target(ks.begin() + 1, ks.end());
      target[rank - 3] = vs[rank - 2];
      if (std::count_if(target.begin(), target.end(), [](int64_t d) { return d < 0; }) <= 1)
        key = add(sink, ir::OpKind::kReshape, ir::ReshapeAttrs{target, false}, {k});
    }
    const int q_mask = mask_of(b.query_mask, qs, "query mask");
    const int v_mask = mask_of(b.value_mask, vs, "value mask");

    if (b.causal && mode_ == Mode::kDot && rank == 3 && (qs[1] < 0 || (ks[1] < 0 && vs[1] < 0)))
      return causal_of_unknown_length(sink, b, q, key, v, q_mask, inputs);

    int scores = this->scores(sink, q, key, rank);
    // Masked keys: the score lowered by 1e9 (in float32, which erases the score's own value).
    int keep = -1;
    if (v_mask >= 0)  // (..., Tv) -> (..., 1, Tv)
      keep = add(sink, ir::OpKind::kExpandDims, ir::ExpandDimsAttrs{static_cast<int>(rank) - 2, 1}, {v_mask});
    if (b.causal) {
      const Shape& ss = sink.type(scores).shape;
      const int64_t tq = ss[rank - 2], tv = ss[rank - 1];
      if (tq < 0 || tv < 0)
        throw Error(cls_ + ": a causal mask with score_mode '" + std::string(mode_ == Mode::kDot ? "dot" : "concat") +
                    "' on these inputs needs the query and value lengths known when the model is built, got " +
                    shape_to_string(ss));
      auto tri = std::make_shared<Tensor>(Shape{tq, tv}, DType::kBool);
      for (int64_t t = 0; t < tq; ++t)
        for (int64_t s = 0; s < tv; ++s) tri->values<uint8_t>()[t * tv + s] = s <= t;
      const int causal = add(sink, ir::OpKind::kConstant, ir::ConstantAttrs{}, {{"causal_mask", tri}}, {});
      keep = keep < 0 ? causal
                      : add(sink, ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kLogicalAnd}, {keep, causal});
    }
    if (keep >= 0) {
      const int lowered = add(sink, ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kSub}, {scores, scalar(sink, 1e9f)});
      scores = add(sink, ir::OpKind::kWhere, ir::WhereAttrs{}, {keep, scores, lowered});
    }
    const int weights =
        add(sink, ir::OpKind::kSoftmax, ir::SoftmaxAttrs{{static_cast<int>(rank) - 1}, false}, {scores});
    int out = add(sink, ir::OpKind::kMatmul, ir::MatmulAttrs{}, {weights, v});
    if (q_mask >= 0) {  // (..., Tq) -> (..., Tq, 1): masked queries give zeros
      const int qm = add(sink, ir::OpKind::kExpandDims, ir::ExpandDimsAttrs{static_cast<int>(rank) - 1, 1}, {q_mask});
      out = add(sink, ir::OpKind::kWhere, ir::WhereAttrs{}, {qm, out, scalar(sink, 0.f)});
    }
    if (b.return_scores) return {out, weights};
    return {out};
  }

 private:
  static int add(NodeSink& sink, ir::OpKind kind, ir::Attrs attrs, std::vector<int> in) {
    return sink.add(kind, std::move(attrs), {}, std::move(in)).at(0);
  }
  static int add(NodeSink& sink, ir::OpKind kind, ir::Attrs attrs, std::vector<ir::Weight> w, std::vector<int> in) {
    return sink.add(kind, std::move(attrs), std::move(w), std::move(in)).at(0);
  }
  static int constant(NodeSink& sink, const ir::Weight& w) {
    return sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {w}, {}).at(0);
  }
  static int scalar(NodeSink& sink, float value) {
    return constant(sink, weight("value", {value}, {}));
  }

  // Dot scores under a causal mask of lengths unknown until a call, on rank-3 inputs: one attention
  // node with a single head (the scale applied to the query first). Leaving masked keys out matches
  // lowering them by 1e9: their weights underflow to zero, and a query with every key masked gets
  // equal weights on all keys either way.
  std::vector<int> causal_of_unknown_length(NodeSink& sink, const Bound& b, int q, int k, int v, int q_mask,
                                            std::span<const int> inputs) const {
    const Shape &qs = sink.type(q).shape, &vs = sink.type(v).shape;
    if (qs[2] < 0 || vs[2] < 0)
      throw Error(cls_ + ": a causal mask needs the feature sizes known when the model is built");
    ir::AttentionAttrs a;
    a.key_dim = qs[2];
    a.value_dim = vs[2];
    a.scale = scale_.value ? scale_.value->floats()[0] : 1.f;
    a.causal = true;
    a.uniform_if_fully_masked = true;
    a.return_scores = b.return_scores;
    std::vector<int> args{q, k, v};
    if (b.value_mask >= 0) {
      a.has_value_mask = true;
      args.push_back(sink.cast(inputs[b.value_mask], DType::kFloat32));
    }
    std::vector<int> att = sink.add(ir::OpKind::kAttention, a, {}, args);
    int out = att.at(0);
    if (q_mask >= 0) {
      const int qm = add(sink, ir::OpKind::kExpandDims, ir::ExpandDimsAttrs{2, 1}, {q_mask});
      out = add(sink, ir::OpKind::kWhere, ir::WhereAttrs{}, {qm, out, scalar(sink, 0.f)});
    }
    if (!b.return_scores) return {out};
    // (B, 1, Tq, Tv) -> (B, Tq, Tv)
    const Shape& ss = sink.type(att.at(1)).shape;
    if (ss[2] < 0 && ss[3] < 0)
      throw Error(cls_ + ": returning the scores of a causal call needs the query or value length known when the "
                  "model is built");
    return {out, add(sink, ir::OpKind::kReshape, ir::ReshapeAttrs{{ss[2], ss[3]}, false}, {att.at(1)})};
  }

  // (..., Tq, Tv) scores.
  int scores(NodeSink& sink, int q, int k, size_t rank) const {
    using B = ir::BinaryFn;
    if (mode_ == Mode::kDot) {
      int s = add(sink, ir::OpKind::kMatmul, ir::MatmulAttrs{false, true}, {q, k});
      if (scale_.value) s = add(sink, ir::OpKind::kBinary, ir::BinaryAttrs{B::kMul}, {s, constant(sink, scale_)});
      return s;
    }
    // q (..., Tq, 1, dim) + k (..., 1, Tv, dim)
    const int qe = add(sink, ir::OpKind::kExpandDims, ir::ExpandDimsAttrs{static_cast<int>(rank) - 1, 1}, {q});
    const int ke = add(sink, ir::OpKind::kExpandDims, ir::ExpandDimsAttrs{static_cast<int>(rank) - 2, 1}, {k});
    int s = add(sink, ir::OpKind::kBinary, ir::BinaryAttrs{B::kAdd}, {qe, ke});
    if (mode_ == Mode::kConcat && scale_.value)
      s = add(sink, ir::OpKind::kBinary, ir::BinaryAttrs{B::kMul}, {s, constant(sink, scale_)});
    s = add(sink, ir::OpKind::kUnary, ir::UnaryAttrs{ir::UnaryFn::kTanh}, {s});
    if (mode_ == Mode::kAdditive && scale_.value)
      s = add(sink, ir::OpKind::kBinary, ir::BinaryAttrs{B::kMul}, {s, constant(sink, scale_)});
    ir::ReduceAttrs r;
    r.fn = ir::ReduceFn::kSum;
    r.axes = {static_cast<int>(rank)};
    s = add(sink, ir::OpKind::kReduce, r, {s});
    if (mode_ == Mode::kConcat)
      s = add(sink, ir::OpKind::kBinary, ir::BinaryAttrs{B::kMul}, {s, constant(sink, concat_weight_)});
    return s;
  }

  Bound bind(const Call& call) const {
    static const std::vector<std::string> names = {"inputs", "mask", "training", "return_attention_scores",
                                                   "use_causal_mask"};
    Bound b;
    std::vector<int> tensors;
    if (call.args.empty() && call.kwargs.empty()) {
      for (size_t i = 0; i < call.roles.size(); ++i) {
        if (!call.roles[i].empty()) throw Error(call.where + ": keyword tensors need the call's arguments");
        tensors.push_back(static_cast<int>(i));
      }
    } else {
      const std::map<std::string, const Json*> args = named_call_args(call, names, cls_);
      auto find = [&](const char* n) -> const Json* {
        auto it = args.find(n);
        return it == args.end() ? nullptr : it->second;
      };
      const Json* inputs = find("inputs");
      if (!inputs || !inputs->is_array())
        throw Error(call.where + ": " + cls_ + " is called on a list [query, value] or [query, value, key]");
      for (const Json& t : *inputs) tensors.push_back(tensor_arg(&t, call, "inputs"));
      if (const Json* mask = find("mask"); mask && !mask->is_null()) {
        if (!mask->is_array() || mask->size() < 2 || mask->size() > 3)
          throw Error(call.where + ": " + cls_ + "'s mask should be a list [query_mask, value_mask]");
        b.query_mask = tensor_arg(&(*mask)[0], call, "mask");
        b.value_mask = tensor_arg(&(*mask)[1], call, "mask");
        if (mask->size() > 2) tensor_arg(&(*mask)[2], call, "mask");  // Keras ignores a key mask
      }
      b.return_scores = bool_arg(find("return_attention_scores"), call, "return_attention_scores");
      b.causal = bool_arg(find("use_causal_mask"), call, "use_causal_mask");
      if (const Json* t = find("training"); t && !t->is_null() && !t->is_boolean())
        throw Error(call.where + ": argument 'training' should be true or false");
    }
    if (tensors.size() < 2 || tensors.size() > 3)
      throw Error(call.where + ": " + cls_ + " takes [query, value] or [query, value, key], got " +
                  std::to_string(tensors.size()) + " tensors");
    b.query = tensors[0];
    b.value = tensors[1];
    b.key = tensors.size() > 2 ? tensors[2] : tensors[1];
    b.causal = b.causal || causal_config_;
    return b;
  }

  std::string cls_;
  Mode mode_ = Mode::kDot;
  ir::Weight scale_;           // (), (dim,) for AdditiveAttention; null without use_scale
  ir::Weight concat_weight_;   // () for score_mode "concat"
  bool causal_config_ = false;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_sequence_attention(const LayerSpec& spec) {
  return std::make_shared<SequenceAttentionLayer>(spec, spec.class_name == "AdditiveAttention");
}

}  // namespace kerasrt::format
