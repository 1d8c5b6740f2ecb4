// A typed layer run as a kerasrt::Op, for the layers that still hold a wrapped layer as an Op
// (Pipeline; the typed wrappers take typed layers themselves) and the layer unit tests' harness:
// each run builds the one-call graph for its input shapes and runs it through a plan.
#pragma once

#include "format/keras/typed_layer.hpp"

namespace kerasrt::format {

class TypedLayerOp : public Op {
 public:
  TypedLayerOp(std::shared_ptr<const TypedLayer> layer, Call call);
  std::shared_ptr<const Op> bind(const Call& call) const override;
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override;
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override;
  int64_t param_count() const override { return layer_->param_count(); }

 private:
  ir::Graph graph(std::span<const Shape> in) const;
  std::shared_ptr<const TypedLayer> layer_;
  Call call_;
};

}  // namespace kerasrt::format
