// Embedding: a gather of rows of its table by integer index.
#include "format/keras/typed_layer.hpp"
#include "layers/common.hpp"  // Config: typed reads of a layer config

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

}  // namespace

std::shared_ptr<const TypedLayer> parse_embedding(const LayerSpec& spec) {
  layers::Config c(spec);
  ir::GatherAttrs a{c.integer("input_dim"), c.integer("output_dim")};
  if (a.rows <= 0) c.fail("'input_dim' must be positive, got " + std::to_string(a.rows));
  if (a.dim <= 0) c.fail("'output_dim' must be positive, got " + std::to_string(a.dim));
  // mask_zero only produces a mask, which Keras 3 configs carry as separate op nodes.
  ir::Weight table = weight("embeddings", spec.weights.take("embeddings", {a.rows, a.dim}), {a.rows, a.dim});
  return std::make_shared<EmbeddingLayer>(a, std::move(table));
}

}  // namespace kerasrt::format
