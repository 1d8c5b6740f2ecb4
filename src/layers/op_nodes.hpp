// What the op node families (op_nodes_*.cpp) share: the raw keras.ops calls Keras 3 stores as nodes
// of a functional config are registered under op_node_key (e.g. "ops:Add").
//
// An op node's config holds the operation's constructor arguments (axis, keepdims, newshape, ...);
// its call holds the tensors and any constants (scalars, slices, lists). bind() reads the call and
// returns an Op specialised for it. Tensors are float32; booleans are 0/1, integers whole floats.
#pragma once

#include <cmath>
#include <functional>
#include <optional>

#include "format/keras/call_args.hpp"
#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers::op_nodes {

// ---- shapes -----------------------------------------------------------------------------------

// NumPy broadcasting of two shapes; -1 (unknown) stays unknown unless the other side fixes it.
Shape broadcast_shapes(const Shape& a, const Shape& b);
void expect_inputs(std::span<const Shape> in, size_t n);

// ---- call arguments ---------------------------------------------------------------------------

using format::CallArgs;

// What an op node's factory returns: it only knows its config until bind() sees the call.
using Binder = std::function<std::shared_ptr<const Op>(CallArgs&)>;

class OpNode : public Op {
 public:
  explicit OpNode(Binder binder) : binder_(std::move(binder)) {}
  std::shared_ptr<const Op> bind(const Call& call) const override {
    CallArgs args(call);
    std::shared_ptr<const Op> op = binder_(args);
    args.finish();
    return op;
  }
  std::vector<Shape> output_shapes(std::span<const Shape>) const override {
    throw Error("an op node computes nothing before it is bound to a call");
  }
  void run(std::span<const ConstView>, std::span<const MutView>) const override {
    throw Error("an op node computes nothing before it is bound to a call");
  }

 private:
  Binder binder_;
};

// Registers an op node whose config is read once into a Binder.
void add_op(const AddLayer& add, const std::string& cls, std::function<Binder(const Config&)> make);

}  // namespace kerasrt::layers::op_nodes
