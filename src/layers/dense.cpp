// Dense: y = activation(x · kernel + bias) over the last axis.
#include "layers/common.hpp"
#include "layers/matmul.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// The layer's compute dtype from its dtype policy ("float32", "mixed_bfloat16", ...).
bool computes_in_bfloat16(const Config& c) {
  if (!c.has("dtype")) return false;
  const Json& d = c.raw("dtype");
  std::string name = d.is_string() ? d.get<std::string>()
                     : d.is_object() && d.contains("config") && d["config"].is_object()
                         ? d["config"].value("name", "float32")
                         : "float32";
  return name == "mixed_bfloat16" || name == "bfloat16";
}

class Dense : public Op {
 public:
  explicit Dense(const LayerSpec& spec) {
    Config c(spec);
    units_ = c.integer("units", c.integer("output_dim", -1));  // Keras 1 called it output_dim
    if (units_ <= 0) c.fail("'units' must be positive");
    activation_ = activation_from(c);
    if (activation_.changes_shape()) c.fail("activation '" + activation_.name + "' is not supported on Dense");
    const Weights::Entry* k = spec.weights.peek();
    if (!k || k->shape.size() != 2) c.fail("missing or malformed kernel weight");
    in_ = k->shape[0];
    kernel_ = spec.weights.take("kernel", {in_, units_});
    if (c.flag("use_bias", c.flag("bias", true))) bias_ = spec.weights.take("bias", {units_});
    bf16_ = computes_in_bfloat16(c);
    if (bf16_) {
      for (float& v : kernel_) v = round_to_bfloat16(v);
      for (float& v : bias_) v = round_to_bfloat16(v);
    }
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Dense");
    if (in[0].empty() || (in[0].back() >= 0 && in[0].back() != in_))
      throw Error("Dense expects last dimension " + std::to_string(in_) + ", got input " + shape_to_string(in[0]));
    Shape out = in[0];
    out.back() = units_;
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    if (bf16_) return run_bfloat16(in[0], out[0]);
    const float* x = in[0].data;
    float* y = out[0].data;
    int64_t rows = in[0].size() / in_;
    for (int64_t r = 0; r < rows; ++r) {
      float* yr = y + r * units_;
      if (!bias_.empty()) std::copy(bias_.begin(), bias_.end(), yr);
      else std::fill(yr, yr + units_, 0.f);
    }
    matmul(1, rows, in_, units_, row_major(x, in_), row_major(kernel_.data(), units_), row_major(y, units_),
           MatmulSum::kFloatOntoC);
    activation_.apply(y, out[0].shape);
  }

  int64_t param_count() const override { return static_cast<int64_t>(kernel_.size() + bias_.size()); }

 private:
  // A bfloat16 compute policy, as Keras ran it on the torch CPU backend the corpus was made with:
  // inputs and weights rounded to bfloat16, the matmul accumulated in bfloat16 in input order
  // (each product and each partial sum rounded), then bias and activation each rounded.
  void run_bfloat16(const ConstView& in, const MutView& out) const {
    int64_t rows = in.size() / in_;
    for (int64_t r = 0; r < rows; ++r) {
      float* yr = out.data + r * units_;
      const float* xr = in.data + r * in_;
      for (int64_t u = 0; u < units_; ++u) {
        float acc = 0.f;
        for (int64_t k = 0; k < in_; ++k) {
          const float product = round_to_bfloat16(round_to_bfloat16(xr[k]) * kernel_[k * units_ + u]);
          acc = round_to_bfloat16(acc + product);
        }
        yr[u] = bias_.empty() ? acc : round_to_bfloat16(acc + bias_[u]);
      }
    }
    activation_.apply(out.data, out.shape);
    for (int64_t i = 0, n = out.size(); i < n; ++i) out.data[i] = round_to_bfloat16(out.data[i]);
  }

  bool bf16_ = false;
  int64_t in_ = 0, units_ = 0;
  std::vector<float> kernel_;  // (in, units), as Keras stores it
  std::vector<float> bias_;
  Activation activation_;
};

}  // namespace

void register_dense(const AddLayer& add) {
  add("Dense", [](const LayerSpec& s) { return std::make_shared<Dense>(s); });
}

}  // namespace kerasrt::layers
