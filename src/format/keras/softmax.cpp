// The Softmax layer (any axes) and the keras.ops Softmax/LogSoftmax nodes as softmax nodes;
// Sparsemax as the unary sparsemax (over the last axis; another axis is transposed there and back).
// Integer inputs become float32 first.
#include <algorithm>
#include <optional>

#include "format/keras/keras_version.hpp"
#include "format/keras/call_args.hpp"
#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config
#include "format/keras/layer_registry.hpp"  // op_node_key

namespace kerasrt::format {
namespace {

// `axes` (counting from the end when negative) over `rank`, ascending; nullopt: every axis.
ir::SoftmaxAttrs softmax_attrs(const std::optional<std::vector<int64_t>>& axes, size_t rank, bool log) {
  ir::SoftmaxAttrs a{{}, log};
  const int64_t r = static_cast<int64_t>(rank);
  if (!axes) {
    for (int d = 0; d < static_cast<int>(rank); ++d) a.axes.push_back(d);
    return a;
  }
  for (int64_t ax : *axes) {
    if (ax < -r || ax >= r) throw Error("axis " + std::to_string(ax) + " is out of range for rank " + std::to_string(rank));
    a.axes.push_back(static_cast<int>(ax < 0 ? ax + r : ax));
  }
  std::sort(a.axes.begin(), a.axes.end());
  if (std::adjacent_find(a.axes.begin(), a.axes.end()) != a.axes.end()) throw Error("'axis' names an axis twice");
  return a;
}

// The Softmax layer: one positional input (a mask is refused).
class SoftmaxLayer : public TypedLayer {
 public:
  explicit SoftmaxLayer(std::vector<int64_t> axes) : axes_(std::move(axes)) {}
  void check_call(const Call& call) const override {
    for (const auto& r : call.roles) {
      if (r == "mask") throw Error(call.where + ": Softmax with a mask is not supported yet");
      if (!r.empty()) throw Error(call.where + ": Softmax does not take the tensor argument '" + r + "'");
    }
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    expect_one_input(call, inputs, "Softmax");
    int x = sink.cast(inputs[0], DType::kFloat32);
    ir::SoftmaxAttrs a;
    try {
      a = softmax_attrs(axes_, sink.type(x).shape.size(), false);
    } catch (const Error& e) {
      throw Error(call.where + ": Softmax: " + e.what());
    }
    return sink.add(ir::OpKind::kSoftmax, a, {}, {x});
  }

 private:
  std::vector<int64_t> axes_;
};

// keras.ops.softmax / log_softmax / sparsemax (x, axis).
class SoftmaxNode : public TypedLayer {
 public:
  SoftmaxNode(std::optional<int64_t> axis, bool log, bool sparse, bool summed_threshold)
      : axis_(axis), log_(log), sparse_(sparse), summed_threshold_(summed_threshold) {}
  void check_call(const Call& call) const override {
    CallArgs args(call);
    args.tensor(0, "x");
    args.finish();
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    CallArgs args(call);
    int x = sink.cast(inputs[args.tensor(0, "x")], DType::kFloat32);
    args.finish();
    const size_t rank = sink.type(x).shape.size();
    if (sparse_) {
      if (!axis_) args.fail("sparsemax needs an axis");
      const int64_t r = static_cast<int64_t>(rank);
      if (*axis_ < -r || *axis_ >= r) args.fail("axis " + std::to_string(*axis_) + " is out of range for rank " + std::to_string(rank));
      const int axis = static_cast<int>(*axis_ < 0 ? *axis_ + r : *axis_);
      const ir::UnaryAttrs u{ir::UnaryFn::kSparsemax, summed_threshold_ ? 1.f : 0.f, 0.f};
      if (axis == r - 1) return sink.add(ir::OpKind::kUnary, u, {}, {x});
      // The unary sparsemax runs over the last axis: swap `axis` there and back.
      std::vector<int> perm(rank);
      for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int>(i);
      std::swap(perm[axis], perm[rank - 1]);
      int t = sink.add(ir::OpKind::kTranspose, ir::TransposeAttrs{perm}, {}, {x}).at(0);
      int s = sink.add(ir::OpKind::kUnary, u, {}, {t}).at(0);
      return sink.add(ir::OpKind::kTranspose, ir::TransposeAttrs{perm}, {}, {s});
    }
    ir::SoftmaxAttrs a;
    try {
      a = softmax_attrs(axis_ ? std::optional(std::vector<int64_t>{*axis_}) : std::nullopt, rank, log_);
    } catch (const Error& e) {
      args.fail(e.what());
    }
    return sink.add(ir::OpKind::kSoftmax, a, {}, {x});
  }

 private:
  std::optional<int64_t> axis_;
  bool log_, sparse_, summed_threshold_;
};

std::shared_ptr<const TypedLayer> parse_softmax_node(const LayerSpec& spec) {
  Config c(spec);
  if (c.has("axis") && !c.raw("axis").is_number_integer())
    c.fail("'axis' should be a single integer or None, got " + c.raw("axis").dump());
  std::optional<int64_t> axis = c.has("axis") ? std::optional<int64_t>(c.integer("axis")) : std::nullopt;
  if (!c.has("axis") && !spec.config.contains("axis")) axis = -1;  // the op's default; an explicit None: every axis
  return std::make_shared<SoftmaxNode>(axis, spec.class_name == "LogSoftmax", spec.class_name == "Sparsemax",
                                       keras_semantics(spec).sparsemax_summed_threshold);
}

}  // namespace

std::shared_ptr<const TypedLayer> parse_softmax(const LayerSpec& spec) {
  Config c(spec);
  std::vector<int64_t> axes{-1};
  if (c.has("axis")) axes = c.raw("axis").is_array() ? c.int_list("axis") : std::vector<int64_t>{c.integer("axis")};
  return std::make_shared<SoftmaxLayer>(std::move(axes));
}

TypedParser softmax_op_parser(const std::string& key) {
  for (const char* cls : {"Softmax", "LogSoftmax", "Sparsemax"})
    if (key == op_node_key(cls)) return parse_softmax_node;
  return nullptr;
}

}  // namespace kerasrt::format
