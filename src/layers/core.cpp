// Rescaling (the inference no-ops and the shape layers are typed: format/keras/core.cpp).
#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// Rescaling: x * scale + offset (scale and offset may be per-channel lists).
class Rescaling : public ElementwiseOp {
 public:
  explicit Rescaling(const LayerSpec& spec) {
    Config c(spec);
    scale_ = values(c, "scale", 1.0);
    offset_ = values(c, "offset", 0.0);
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    int64_t n = in[0].size();
    size_t ns = scale_.size(), no = offset_.size();
    for (int64_t i = 0; i < n; ++i) out[0].data[i] = in[0].data[i] * scale_[i % ns] + offset_[i % no];
  }

 private:
  static std::vector<float> values(const Config& c, const char* key, double fallback) {
    if (!c.has(key)) return {static_cast<float>(fallback)};
    const Json& v = c.raw(key);
    if (v.is_number()) return {v.get<float>()};
    std::vector<float> out;
    if (v.is_array())
      for (const Json& e : v)
        if (e.is_number()) out.push_back(e.get<float>());
    if (out.empty()) c.fail(std::string("'") + key + "' should be a number or a list of numbers");
    return out;
  }
  std::vector<float> scale_, offset_;
};

}  // namespace

void register_core(const AddLayer& add) {
  add("Rescaling", [](const LayerSpec& s) { return std::make_shared<Rescaling>(s); });
}

}  // namespace kerasrt::layers
