// Activation layers not yet typed: ReLU, PReLU (Activation, LeakyReLU and ELU are in
// format/keras/activations.cpp, Softmax in format/keras/softmax.cpp).
#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// keras.activations.relu with its three parameters:
//   y = clip(x > threshold ? x : 0, 0, max_value) - negative_slope * max(threshold - x, 0)
class ReLU : public ElementwiseOp {
 public:
  explicit ReLU(const LayerSpec& spec) {
    Config c(spec);
    max_value_ = c.has("max_value") ? static_cast<float>(c.number("max_value")) : INFINITY;
    slope_ = static_cast<float>(c.number("negative_slope", 0.0));
    threshold_ = static_cast<float>(c.number("threshold", 0.0));
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    for (int64_t i = 0, n = in[0].size(); i < n; ++i) {
      float x = in[0].data[i];
      float pos = std::min(std::max(x > threshold_ ? x : 0.f, 0.f), max_value_);
      out[0].data[i] = slope_ != 0.f ? pos - slope_ * std::max(threshold_ - x, 0.f) : pos;
    }
  }

 private:
  float max_value_, slope_, threshold_;
};

// PReLU: y = x for x >= 0, alpha * x otherwise; alpha has the input's non-batch shape with
// shared axes collapsed to 1 and broadcast.
class PReLU : public ElementwiseOp {
 public:
  explicit PReLU(const LayerSpec& spec) {
    Weights::Entry e = spec.weights.take_entry("alpha");
    alpha_shape_ = e.shape;
    alpha_ = std::move(e.data);
  }
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "PReLU");
    if (in[0].size() != alpha_shape_.size() + 1) throw Error("PReLU alpha " + shape_to_string(alpha_shape_) + " does not fit input " + shape_to_string(in[0]));
    for (size_t i = 0; i < alpha_shape_.size(); ++i)
      if (alpha_shape_[i] != 1 && in[0][i + 1] >= 0 && in[0][i + 1] != alpha_shape_[i])
        throw Error("PReLU alpha " + shape_to_string(alpha_shape_) + " does not fit input " + shape_to_string(in[0]));
    return {in[0]};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const auto& s = in[0].shape;
    size_t rank = alpha_shape_.size();
    int64_t per_item = element_count(s.subspan(1));
    std::vector<int64_t> idx(rank, 0);
    for (int64_t b = 0; b < s[0]; ++b) {
      std::fill(idx.begin(), idx.end(), 0);
      for (int64_t i = 0; i < per_item; ++i) {
        int64_t a = 0;
        for (size_t d = 0; d < rank; ++d) a = a * alpha_shape_[d] + (alpha_shape_[d] == 1 ? 0 : idx[d]);
        float x = in[0].data[b * per_item + i];
        out[0].data[b * per_item + i] = x >= 0.f ? x : alpha_[a] * x;
        next_index(idx, s.subspan(1));
      }
    }
  }
  int64_t param_count() const override { return static_cast<int64_t>(alpha_.size()); }

 private:
  Shape alpha_shape_;
  std::vector<float> alpha_;
};

}  // namespace

void register_activations(const AddLayer& add) {
  add("ReLU", [](const LayerSpec& s) { return std::make_shared<ReLU>(s); });
  add("PReLU", [](const LayerSpec& s) { return std::make_shared<PReLU>(s); });
}

}  // namespace kerasrt::layers
