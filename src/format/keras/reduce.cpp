// The keras.ops reductions (Sum, Mean, Max/Amax, Min/Amin, Prod, Var, Std, Any, All, Logsumexp,
// Argmax, Argmin) as reduce nodes with Keras's dtypes; mean, var, std and logsumexp of integers
// compute in float32, as Keras casts them.
#include <algorithm>
#include <map>
#include <optional>

#include "format/keras/call_args.hpp"
#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config
#include "format/keras/layer_registry.hpp"  // op_node_key

namespace kerasrt::format {
namespace {

using R = ir::ReduceFn;

struct Def {
  R fn;
  bool initial;  // takes an `initial` value
};

const std::map<std::string, Def>& defs() {
  static const std::map<std::string, Def> m = {
      {"Sum", {R::kSum, false}},       {"Mean", {R::kMean, false}},     {"Max", {R::kMax, true}},
      {"Min", {R::kMin, true}},        {"Amax", {R::kMax, false}},      {"Amin", {R::kMin, false}},
      {"Prod", {R::kProd, false}},     {"Var", {R::kVar, false}},       {"Std", {R::kStd, false}},
      {"Any", {R::kAny, false}},       {"All", {R::kAll, false}},       {"Logsumexp", {R::kLogSumExp, false}},
      {"Argmax", {R::kArgMax, false}}, {"Argmin", {R::kArgMin, false}},
  };
  return m;
}

class ReduceNode : public TypedLayer {
 public:
  ReduceNode(ir::ReduceAttrs attrs, std::optional<std::vector<int64_t>> axes)
      : attrs_(std::move(attrs)), axes_(std::move(axes)) {}
  void check_call(const Call& call) const override {
    CallArgs args(call);
    args.tensor(0, "x");
    args.finish();
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    CallArgs args(call);
    int x = inputs[args.tensor(0, "x")];
    args.finish();
    const R f = attrs_.fn;
    if (f == R::kMean || f == R::kVar || f == R::kStd || f == R::kLogSumExp) x = sink.cast(x, DType::kFloat32);
    const int64_t rank = static_cast<int64_t>(sink.type(x).shape.size());
    ir::ReduceAttrs a = attrs_;
    if (!axes_) {
      for (int d = 0; d < rank; ++d) a.axes.push_back(d);
    } else {
      for (int64_t ax : *axes_) {
        if (ax < -rank || ax >= rank)
          args.fail("axis " + std::to_string(ax) + " is out of range for rank " + std::to_string(rank));
        a.axes.push_back(static_cast<int>(ax < 0 ? ax + rank : ax));
      }
      std::sort(a.axes.begin(), a.axes.end());
      if (std::adjacent_find(a.axes.begin(), a.axes.end()) != a.axes.end()) args.fail("'axis' names an axis twice");
    }
    return sink.add(ir::OpKind::kReduce, a, {}, {x});
  }

 private:
  ir::ReduceAttrs attrs_;
  std::optional<std::vector<int64_t>> axes_;  // nullopt: every axis
};

std::shared_ptr<const TypedLayer> parse_reduce_node(const LayerSpec& spec) {
  Config c(spec);
  const Def d = defs().at(spec.class_name);
  std::optional<std::vector<int64_t>> axes;
  if (c.has("axis"))
    axes = c.raw("axis").is_number_integer() ? std::vector<int64_t>{c.integer("axis")} : c.int_list("axis");
  ir::ReduceAttrs a;
  a.fn = d.fn;
  a.keepdims = c.flag("keepdims", false);
  if (d.initial && c.has("initial")) {
    a.has_initial = true;
    a.initial = c.number("initial");
  }
  const bool single = d.fn == R::kArgMax || d.fn == R::kArgMin;
  if (single && axes && axes->size() != 1) c.fail("'axis' should be a single integer or None");
  const bool empty_ok = d.fn != R::kStd && d.fn != R::kLogSumExp && !single;
  if (axes && axes->empty() && !empty_ok) c.fail("an empty 'axis' list is not supported for this op");
  if (d.fn == R::kProd && c.has("dtype")) {
    const Json& v = c.raw("dtype");
    std::string dtype = v.dump();  // a name, or a DTypePolicy object naming one
    if (v.is_string()) dtype = v.get<std::string>();
    else if (v.is_object() && v.contains("config") && v["config"].is_object() && v["config"].contains("name") &&
             v["config"]["name"].is_string())
      dtype = v["config"]["name"].get<std::string>();
    if (dtype.rfind("float", 0) != 0) c.fail("prod with dtype '" + dtype + "' is not supported");
  }
  return std::make_shared<ReduceNode>(std::move(a), std::move(axes));
}

}  // namespace

TypedParser reduce_op_parser(const std::string& key) {
  static const std::string prefix = op_node_key("");
  if (key.rfind(prefix, 0) != 0 || !defs().count(key.substr(prefix.size()))) return nullptr;
  return parse_reduce_node;
}

}  // namespace kerasrt::format
