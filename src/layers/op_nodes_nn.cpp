// keras.ops.nn op nodes softmax, log_softmax, sparsemax (the activations are typed: format/keras/op_nodes_elementwise.cpp).
#include "layers/op_nodes.hpp"

#include <algorithm>

namespace kerasrt::layers {
namespace op_nodes {
namespace {

class SoftmaxNode : public Op {
 public:
  SoftmaxNode(std::optional<int64_t> axis, bool log, bool sparse, size_t inputs)
      : axis_(axis), log_(log), sparse_(sparse), inputs_(inputs) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    if (axis_) {
      int a = axis_in(*axis_, in[0].size());
      if (sparse_ && a != static_cast<int>(in[0].size()) - 1)
        throw Error("sparsemax is supported over the last axis only");
    } else if (sparse_) {
      throw Error("sparsemax needs an axis");
    }
    return {in[0]};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
    if (out[0].size() == 0) return;
    if (sparse_) {
      Activation act;
      act.kind = Activation::Kind::kSparsemax;
      act.apply(out[0].data, out[0].shape);
      return;
    }
    if (!axis_) {  // over all elements at once
      int64_t n = out[0].size();
      softmax_axis(out[0].data, std::span<const int64_t>(&n, 1), 0, log_);
      return;
    }
    softmax_axis(out[0].data, out[0].shape, axis_in(*axis_, out[0].shape.size()), log_);
  }

 private:
  std::optional<int64_t> axis_;
  bool log_, sparse_;
  size_t inputs_;
};

}  // namespace
}  // namespace op_nodes

void register_op_nodes_nn(const AddLayer& add) {
  using namespace op_nodes;
  for (const char* cls : {"Softmax", "LogSoftmax", "Sparsemax"}) {
    bool log = std::string(cls) == "LogSoftmax", sparse = std::string(cls) == "Sparsemax";
    add_op(add, cls, [log, sparse](const Config& c) -> Binder {
      if (c.has("axis") && !c.raw("axis").is_number_integer())
        c.fail("'axis' should be a single integer or None, got " + c.raw("axis").dump());
      std::optional<int64_t> axis = c.has("axis") ? std::optional<int64_t>(c.integer("axis")) : std::nullopt;
      if (!c.has("axis") && !c.spec().config.contains("axis")) axis = -1;  // the op's default
      return [axis, log, sparse](CallArgs& a) {
        a.tensor(0, "x");
        return std::make_shared<SoftmaxNode>(axis, log, sparse, a.input_count());
      };
    });
  }
}

}  // namespace kerasrt::layers
