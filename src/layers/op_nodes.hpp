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

// The product of the dimensions, -1 if any is unknown.
int64_t product_or_unknown(std::span<const int64_t> dims);
// NumPy broadcasting of two shapes; -1 (unknown) stays unknown unless the other side fixes it.
Shape broadcast_shapes(const Shape& a, const Shape& b);
void expect_inputs(std::span<const Shape> in, size_t n);
// Axis in [-rank, rank) to [0, rank), for errors raised while computing shapes.
inline int axis_in(int64_t axis, size_t rank) { return normalize_axis(axis, rank, ""); }
// Sorted distinct axes in [0, rank).
std::vector<int> axes_in(const std::vector<int64_t>& axes, size_t rank);

// ---- config values ----------------------------------------------------------------------------

// "axis" as None (nullopt), an int or a list of ints.
std::optional<std::vector<int64_t>> optional_axes(const Config& c, const char* key);
// A dtype given as a name or a DTypePolicy object.
std::string dtype_name(const Config& c, const char* key);

// ---- values -----------------------------------------------------------------------------------

inline float truth(bool b) { return b ? 1.f : 0.f; }
// Maximum and minimum that propagate NaN, as torch does.
inline float nan_max(float a, float b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); }
inline float nan_min(float a, float b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); }

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
