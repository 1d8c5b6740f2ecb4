// Core shape layers: the inference no-ops (Dropout, noise, regularisation, Identity) and Flatten,
// Reshape, Permute, RepeatVector to reshape/transpose/repeat nodes (data keeps its dtype), and
// Rescaling to float32 multiply/add nodes.
#include <algorithm>

#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
namespace {

// Flatten of a channels_first input goes through channels_last order first, as Keras does.
class FlattenLayer : public TypedLayer {
 public:
  explicit FlattenLayer(bool channels_first) : channels_first_(channels_first) {}
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    positional_only(call);
    expect_one_input(call, inputs, "Flatten");
    int x = inputs[0];
    const size_t rank = sink.type(x).shape.size();
    if (channels_first_ && rank >= 3) {
      ir::TransposeAttrs t{{0}};
      for (size_t a = 2; a < rank; ++a) t.perm.push_back(static_cast<int>(a));
      t.perm.push_back(1);
      x = sink.add(ir::OpKind::kTranspose, t, {}, {x}).at(0);
    }
    return sink.add(ir::OpKind::kReshape, ir::ReshapeAttrs{{-1}, false}, {}, {x});
  }

 private:
  bool channels_first_;
};

// RepeatVector: (batch, features) -> (batch, n, features).
class RepeatVectorLayer : public TypedLayer {
 public:
  explicit RepeatVectorLayer(int64_t n) : n_(n) {}
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    positional_only(call);
    expect_one_input(call, inputs, "RepeatVector");
    const Shape& s = sink.type(inputs[0]).shape;
    if (s.size() != 2) throw Error(call.where + ": RepeatVector expects an input of rank 2, got " + shape_to_string(s));
    return sink.add(ir::OpKind::kRepeat, ir::RepeatAttrs{1, n_}, {}, {inputs[0]});
  }

 private:
  int64_t n_;
};

class RescalingLayer : public TypedLayer {
 public:
  RescalingLayer(std::vector<float> scale, std::vector<float> offset)
      : scale_(constant(std::move(scale))), offset_(constant(std::move(offset))) {}
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    positional_only(call);
    expect_one_input(call, inputs, "Rescaling");
    int x = sink.cast(inputs[0], DType::kFloat32);
    auto apply = [&](const std::shared_ptr<const Tensor>& c, ir::BinaryFn fn, float identity) {
      if (c->size() == 1 && c->values<float>()[0] == identity) return;
      int v = sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {ir::Weight{"value", c}}, {}).at(0);
      x = sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{fn}, {}, {x, v}).at(0);
    };
    apply(scale_, ir::BinaryFn::kMul, 1.f);
    apply(offset_, ir::BinaryFn::kAdd, 0.f);
    if (x == inputs[0]) x = sink.add(ir::OpKind::kReshape, ir::ReshapeAttrs{{}, true}, {}, {x}).at(0);  // a value of its own
    return {x};
  }

 private:
  static std::shared_ptr<const Tensor> constant(std::vector<float> v) {
    Shape s = v.size() == 1 ? Shape{} : Shape{static_cast<int64_t>(v.size())};
    return std::make_shared<const Tensor>(std::move(s), std::move(v));
  }
  std::shared_ptr<const Tensor> scale_, offset_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_inference_noop(const LayerSpec&) {
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kReshape, ir::ReshapeAttrs{{}, true});
}

std::shared_ptr<const TypedLayer> parse_flatten(const LayerSpec& spec) {
  return std::make_shared<FlattenLayer>(Config(spec).channels_first());
}

std::shared_ptr<const TypedLayer> parse_reshape(const LayerSpec& spec) {
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kReshape,
                                           ir::ReshapeAttrs{Config(spec).int_list("target_shape"), false});
}

// Permute's "dims" reorder the non-batch axes, counting from 1.
std::shared_ptr<const TypedLayer> parse_permute(const LayerSpec& spec) {
  Config c(spec);
  std::vector<int64_t> dims = c.int_list("dims");
  std::vector<int64_t> sorted = dims;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i)
    if (sorted[i] != static_cast<int64_t>(i) + 1) c.fail("'dims' must be a permutation of 1.." + std::to_string(dims.size()));
  ir::TransposeAttrs t{{0}};
  for (int64_t d : dims) t.perm.push_back(static_cast<int>(d));
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kTranspose, t);
}

// Rescaling: x * scale + offset in float32 (scale and offset may be per-channel lists, which
// broadcast over the last axis); a factor of 1 or an offset of 0 is left out.
std::shared_ptr<const TypedLayer> parse_rescaling(const LayerSpec& spec) {
  Config c(spec);
  auto values = [&](const char* key, float fallback) {
    if (!c.has(key)) return std::vector<float>{fallback};
    const Json& v = c.raw(key);
    if (v.is_number()) return std::vector<float>{v.get<float>()};
    std::vector<float> out;
    if (v.is_array())
      for (const Json& e : v)
        if (e.is_number()) out.push_back(e.get<float>());
    if (out.empty()) c.fail(std::string("'") + key + "' should be a number or a list of numbers");
    return out;
  };
  return std::make_shared<RescalingLayer>(values("scale", 1.f), values("offset", 0.f));
}

std::shared_ptr<const TypedLayer> parse_repeat_vector(const LayerSpec& spec) {
  return std::make_shared<RepeatVectorLayer>(Config(spec).integer("n"));
}

}  // namespace kerasrt::format
