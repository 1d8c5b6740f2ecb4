// keras.ops.nn op nodes: activations (relu, gelu, ...) and softmax, log_softmax, sparsemax.
#include "layers/op_nodes.hpp"

#include <algorithm>

namespace kerasrt::layers {
namespace op_nodes {
namespace {

class ActivationNode : public Op {
 public:
  ActivationNode(Activation act, size_t inputs) : act_(std::move(act)), inputs_(inputs) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    return {in[0]};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
    act_.apply(out[0].data, out[0].shape);
  }

 private:
  Activation act_;
  size_t inputs_;
};

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

Activation activation_kind(Activation::Kind kind, float alpha = 0.f, float beta = 0.f) {
  Activation a;
  a.kind = kind;
  a.alpha = alpha;
  a.beta = beta;
  return a;
}

}  // namespace
}  // namespace op_nodes

void register_op_nodes_nn(const AddLayer& add) {
  using namespace op_nodes;
  using K = Activation::Kind;
  auto fixed = [&add](const char* cls, K kind) {
    add_op(add, cls, [kind](const Config&) -> Binder {
      return [kind](CallArgs& a) {
        a.tensor(0, "x");
        return std::make_shared<ActivationNode>(activation_kind(kind), a.input_count());
      };
    });
  };
  // One parameter (or two) read from the config, with the op's default.
  auto param = [&add](const char* cls, K kind, const char* key, double fallback, const char* key2 = nullptr) {
    add_op(add, cls, [=](const Config& c) -> Binder {
      float alpha = static_cast<float>(c.number(key, fallback));
      float beta = key2 ? static_cast<float>(c.number(key2)) : 0.f;
      return [kind, alpha, beta](CallArgs& a) {
        a.tensor(0, "x");
        return std::make_shared<ActivationNode>(activation_kind(kind, alpha, beta), a.input_count());
      };
    });
  };
  fixed("Relu", K::kRelu);
  fixed("Relu6", K::kRelu6);
  fixed("Sigmoid", K::kSigmoid);
  fixed("Softplus", K::kSoftplus);
  fixed("Softsign", K::kSoftsign);
  fixed("Silu", K::kSilu);
  fixed("LogSigmoid", K::kLogSigmoid);
  fixed("HardSigmoid", K::kHardSigmoid);
  fixed("HardSilu", K::kHardSilu);
  fixed("Selu", K::kSelu);
  fixed("TanhShrink", K::kTanhShrink);
  fixed("HardTanh", K::kHardTanh);
  fixed("SparsePlus", K::kSparsePlus);
  fixed("SparseSigmoid", K::kSparseSigmoid);
  param("LeakyRelu", K::kLeakyRelu, "negative_slope", 0.2);
  param("Elu", K::kElu, "alpha", 1.0);
  param("Celu", K::kCelu, "alpha", 1.0);
  param("SoftShrink", K::kSoftShrink, "threshold", 0.5);
  param("HardShrink", K::kHardShrink, "threshold", 0.5);
  param("Squareplus", K::kSquarePlus, "b", 4.0);
  add_op(add, "Threshold", [](const Config& c) -> Binder {
    float threshold = static_cast<float>(c.number("threshold")), value = static_cast<float>(c.number("default_value"));
    return [threshold, value](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<ActivationNode>(activation_kind(K::kThreshold, threshold, value), a.input_count());
    };
  });
  add_op(add, "Gelu", [](const Config& c) -> Binder {
    K kind = c.flag("approximate", true) ? K::kGeluTanh : K::kGelu;
    return [kind](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<ActivationNode>(activation_kind(kind), a.input_count());
    };
  });
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
