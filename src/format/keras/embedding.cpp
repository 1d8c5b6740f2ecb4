// Embedding: a gather of rows of its table by integer index. ReversibleEmbedding: the same lookup,
// and called with reverse=True a dense node mapping vectors back to logits over the vocabulary
// (kernel: the table transposed when tied, else the stored reverse table), optionally soft-capped
// as tanh(logits / cap) * cap.
#include <optional>

#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
namespace {

class EmbeddingLayer : public TypedLayer {
 public:
  EmbeddingLayer(ir::GatherAttrs attrs, ir::Weight table) : attrs_(attrs), table_(std::move(table)) {}
  int64_t param_count() const override { return table_.value->size(); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    if (inputs.size() != 1) throw Error(call.where + ": Embedding takes 1 input, got " + std::to_string(inputs.size()));
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": Embedding does not take the tensor argument '" + r + "'");
    // Keras casts indices that are not int32/int64 to int32 (float ones truncate).
    int x = inputs[0];
    DType t = sink.type(x).dtype;
    if (t != DType::kInt32 && t != DType::kInt64) x = sink.cast(x, DType::kInt32);
    return sink.add(ir::OpKind::kGather, attrs_, {table_}, {x});
  }

 private:
  ir::GatherAttrs attrs_;
  ir::Weight table_;
};

class ReversibleEmbeddingLayer : public TypedLayer {
 public:
  explicit ReversibleEmbeddingLayer(const LayerSpec& spec) {
    Config c(spec);
    lookup_ = {c.integer("input_dim"), c.integer("output_dim")};
    if (lookup_.rows <= 0) c.fail("'input_dim' must be positive, got " + std::to_string(lookup_.rows));
    if (lookup_.dim <= 0) c.fail("'output_dim' must be positive, got " + std::to_string(lookup_.dim));
    const int64_t rows = lookup_.rows, dim = lookup_.dim;
    std::vector<float> table = spec.weights.take("embeddings", {rows, dim});
    const bool tie = c.flag("tie_weights", true);
    const std::string reverse_dtype = c.str("reverse_dtype", "float32");
    if (reverse_dtype != "float32")
      c.fail("reverse_dtype '" + reverse_dtype + "' is not supported (kerasrt computes in float32)");
    if (c.has("logit_soft_cap")) {
      soft_cap_ = static_cast<float>(c.number("logit_soft_cap"));
      if (*soft_cap_ == 0) c.fail("'logit_soft_cap' must not be zero");
    }
    std::vector<float> reverse;  // (output_dim, input_dim)
    if (tie) {
      reverse.resize(table.size());
      for (int64_t v = 0; v < rows; ++v)
        for (int64_t d = 0; d < dim; ++d) reverse[d * rows + v] = table[v * dim + d];
    } else {
      reverse = spec.weights.take("reverse_embeddings", {dim, rows});
      params_ = static_cast<int64_t>(reverse.size());
    }
    params_ += static_cast<int64_t>(table.size());
    table_ = weight("embeddings", std::move(table), {rows, dim});
    reverse_ = weight("reverse_kernel", std::move(reverse), {dim, rows});
  }

  int64_t param_count() const override { return params_; }

  void check_call(const Call& call) const override { reverse_mode(call); }

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    const bool reverse = reverse_mode(call);
    if (inputs.size() != 1)
      throw Error(call.where + ": ReversibleEmbedding takes 1 input, got " + std::to_string(inputs.size()));
    int x = inputs[0];
    if (!reverse) {
      const DType t = sink.type(x).dtype;
      if (t != DType::kInt32 && t != DType::kInt64) x = sink.cast(x, DType::kInt32);
      return sink.add(ir::OpKind::kGather, lookup_, {table_}, {x});
    }
    x = sink.cast(x, DType::kFloat32);
    const Shape& s = sink.type(x).shape;
    if (s.empty() || (s.back() >= 0 && s.back() != lookup_.dim))
      throw Error("ReversibleEmbedding(reverse=True) expects last dimension " + std::to_string(lookup_.dim) +
                  ", got input " + shape_to_string(s));
    ir::DenseAttrs d;
    d.in = lookup_.dim;
    d.units = lookup_.rows;
    d.has_bias = false;
    int y = sink.add(ir::OpKind::kDense, d, {reverse_}, {x}).at(0);
    if (soft_cap_) {
      auto cap = std::make_shared<const Tensor>(Shape{}, std::vector<float>{*soft_cap_});
      const int c = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {ir::Weight{"soft_cap", cap}}, {}).at(0);
      y = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kDiv}, {}, {y, c}).at(0);
      y = sink.add(ir::OpKind::kUnary, ir::UnaryAttrs{ir::UnaryFn::kTanh}, {}, {y}).at(0);
      y = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{ir::BinaryFn::kMul}, {}, {y, c}).at(0);
    }
    return {y};
  }

 private:
  // The call's `reverse` flag (second positional argument or keyword).
  static bool reverse_mode(const Call& call) {
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": ReversibleEmbedding does not take the tensor argument '" + r + "'");
    const Json* v = nullptr;
    if (call.kwargs.is_object() && call.kwargs.contains("reverse")) v = &call.kwargs["reverse"];
    else if (call.args.is_array() && call.args.size() > 1) v = &call.args[1];
    if (!v || v->is_null()) return false;
    if (v->is_boolean()) return v->get<bool>();
    throw Error(call.where + ": ReversibleEmbedding's 'reverse' should be true or false, got " + v->dump());
  }

  ir::GatherAttrs lookup_;
  ir::Weight table_, reverse_;
  std::optional<float> soft_cap_;
  int64_t params_ = 0;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_embedding(const LayerSpec& spec) {
  Config c(spec);
  ir::GatherAttrs a{c.integer("input_dim"), c.integer("output_dim")};
  if (a.rows <= 0) c.fail("'input_dim' must be positive, got " + std::to_string(a.rows));
  if (a.dim <= 0) c.fail("'output_dim' must be positive, got " + std::to_string(a.dim));
  // mask_zero only produces a mask, which Keras 3 configs carry as separate op nodes.
  ir::Weight table = stored_weight(spec.weights, "embeddings", "embeddings", {a.rows, a.dim});
  return std::make_shared<EmbeddingLayer>(a, std::move(table));
}

}  // namespace kerasrt::format

namespace kerasrt::format {

std::shared_ptr<const TypedLayer> parse_reversible_embedding(const LayerSpec& spec) {
  return std::make_shared<ReversibleEmbeddingLayer>(spec);
}

}  // namespace kerasrt::format
