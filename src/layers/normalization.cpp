// The SpectralNormalization wrapper over a layer that has no typed form yet (format/keras/wrappers.cpp
// types it over typed layers; the other normalization layers are typed: format/keras/normalization.cpp).
#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// ---- SpectralNormalization --------------------------------------------------------------------
// At inference the wrapped layer runs with its stored kernel (the normalized kernel is written back
// during training). The wrapper stores vector_u (1, kernel.shape[-1]) for the power iteration,
// and in .keras/.weights.h5 files also a second reference to the wrapped kernel, before the
// wrapped layer's own weights; legacy .h5 files list the wrapped layer's weights, then vector_u.
class SpectralNormalization : public Op {
 public:
  SpectralNormalization(std::shared_ptr<const Op> inner, int64_t extra_params)
      : inner_(std::move(inner)), extra_params_(extra_params) {}

  static std::shared_ptr<Op> make(const LayerSpec& spec) {
    Config c(spec);
    if (c.integer("power_iterations", 1) <= 0) c.fail("'power_iterations' must be positive");
    const Json& layer = c.raw("layer");
    if (!layer.is_object()) c.fail("'layer' should be a serialized layer");
    const Weights::Entry* first = spec.weights.peek();
    if (!first) c.fail("missing weights (the wrapped kernel and vector_u)");
    std::shared_ptr<Op> inner;
    int64_t units = -1;
    if (own_vars_first(first->name)) {
      Shape kernel_shape = spec.weights.take_entry("kernel").shape;
      if (kernel_shape.empty()) c.fail("the wrapped kernel is a scalar");
      units = kernel_shape.back();
      spec.weights.take("vector_u", {1, units});
      inner = spec.make_sublayer(layer);
    } else {
      inner = spec.make_sublayer(layer);
      const Weights::Entry* u = spec.weights.peek();
      if (!u || u->shape.size() != 2 || u->shape[0] != 1) c.fail("missing or malformed vector_u weight");
      units = u->shape[1];
      spec.weights.take("vector_u", {1, units});
    }
    return std::make_shared<SpectralNormalization>(inner, units);
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    std::shared_ptr<const Op> bound = inner_->bind(call);
    if (bound == inner_) return shared_from_this();
    return std::make_shared<SpectralNormalization>(bound, extra_params_);
  }
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override { return inner_->output_shapes(in); }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override { inner_->run(in, out); }
  int64_t param_count() const override { return inner_->param_count() + extra_params_; }

 private:
  // Keras 3 weight files name variables by path: the wrapper's own ".../vars/i" come before the
  // wrapped layer's ".../layer/vars/i".
  static bool own_vars_first(const std::string& name) {
    size_t at = name.rfind("/vars/");
    if (at == std::string::npos) return false;
    const std::string sub = "/layer";
    return !(at >= sub.size() && name.compare(at - sub.size(), sub.size(), sub) == 0) && name.rfind("layer/vars/", 0) != 0;
  }

  std::shared_ptr<const Op> inner_;
  int64_t extra_params_;
};

}  // namespace

void register_normalization(const AddLayer& add) {
  add("SpectralNormalization", [](const LayerSpec& s) { return SpectralNormalization::make(s); });
}

}  // namespace kerasrt::layers
