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

// A call argument that is either one of the call's tensors or a constant (number, bool, nested list).
struct Operand {
  int input = -1;  // index into run()'s inputs; -1 for a constant
  Shape shape;     // the constant's shape
  std::vector<float> values;
};

// Reads a call's arguments by position or keyword and checks at the end that every tensor was used.
class CallArgs {
 public:
  explicit CallArgs(const Call& call) : call_(call), used_(call.roles.size(), 0) {
    if (call.args.is_array()) args_ = call.args;
    // A call recorded without args (Keras 2 style, or a bare call): its positional tensors in order.
    if (args_.empty() && (!call.kwargs.is_object() || call.kwargs.empty()))
      for (size_t i = 0; i < call.roles.size(); ++i)
        if (call.roles[i].empty()) args_.push_back(tensor_placeholder(static_cast<int>(i)));
  }

  const Json* find(size_t pos, const char* name) const {
    if (pos < args_.size()) return &args_[pos];
    if (name && call_.kwargs.is_object()) {
      auto it = call_.kwargs.find(name);
      if (it != call_.kwargs.end()) return &*it;
    }
    return nullptr;
  }
  size_t positional_count() const { return args_.size(); }
  size_t input_count() const { return call_.roles.size(); }

  int tensor(size_t pos, const char* name) {
    const Json* j = find(pos, name);
    if (!j) fail(std::string("the call has no argument '") + name + "'");
    return tensor_of(*j, name);
  }

  int tensor_of(const Json& j, const char* name) {
    std::optional<int> t = placeholder_index(j);
    if (!t) fail(std::string("argument '") + name + "' should be a tensor, got " + j.dump().substr(0, 200));
    return use(*t);
  }

  Operand operand(size_t pos, const char* name) {
    const Json* j = find(pos, name);
    if (!j) fail(std::string("the call has no argument '") + name + "'");
    if (std::optional<int> t = placeholder_index(*j)) return Operand{use(*t), {}, {}};
    Operand c;
    if (!read_constant(*j, 0, c.shape, c.values))
      fail(std::string("argument '") + name + "' should be a tensor or a number, got " + j->dump().substr(0, 200));
    return c;
  }

  // A list of tensors (Concatenate's xs, Stack's x).
  std::vector<int> tensor_list(size_t pos, const char* name) {
    const Json* j = find(pos, name);
    if (!j) fail(std::string("the call has no argument '") + name + "'");
    std::vector<int> out;
    if (j->is_array()) {
      for (const Json& e : *j) out.push_back(tensor_of(e, name));
    } else {
      out.push_back(tensor_of(*j, name));
    }
    if (out.empty()) fail(std::string("argument '") + name + "' is an empty list");
    return out;
  }

  void finish() const {
    for (size_t i = 0; i < used_.size(); ++i)
      if (used_[i] != 1) {
        std::string role = call_.roles[i].empty() ? "positional" : "'" + call_.roles[i] + "'";
        fail("the " + role + " tensor argument #" + std::to_string(i) + " is not one this op takes");
      }
  }

  [[noreturn]] void fail(const std::string& what) const { throw Error(call_.where + ": " + what); }
  const std::string& where() const { return call_.where; }

 private:
  int use(int t) {
    if (t < 0 || t >= static_cast<int>(used_.size())) fail("tensor reference #" + std::to_string(t) + " out of range");
    ++used_[t];
    return t;
  }

  // Numbers and booleans, possibly nested in rectangular lists.
  static bool read_constant(const Json& j, size_t depth, Shape& shape, std::vector<float>& values) {
    if (j.is_boolean()) return depth == shape.size() && (values.push_back(j.get<bool>() ? 1.f : 0.f), true);
    if (j.is_number()) return depth == shape.size() && (values.push_back(j.get<float>()), true);
    if (!j.is_array() || depth > 32) return false;
    if (depth == shape.size()) {
      if (!values.empty()) return false;  // a list where a sibling was a scalar
      shape.push_back(static_cast<int64_t>(j.size()));
    } else if (shape[depth] != static_cast<int64_t>(j.size())) {
      return false;
    }
    for (const Json& e : j)
      if (!read_constant(e, depth + 1, shape, values)) return false;
    return true;
  }

  const Call& call_;
  Json args_ = Json::array();
  std::vector<int> used_;
};

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
