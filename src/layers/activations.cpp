// Activation layers not yet typed: ReLU, PReLU, Softmax (Activation, LeakyReLU and ELU are in
// format/keras/activations.cpp).
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

class Softmax : public ElementwiseOp {
 public:
  explicit Softmax(const LayerSpec& spec) {
    Config c(spec);
    if (!c.has("axis")) axes_ = {-1};
    else if (c.raw("axis").is_array()) axes_ = c.int_list("axis");
    else axes_ = {c.integer("axis")};
  }
  std::shared_ptr<const Op> bind(const Call& call) const override {
    if (!call.tensors_with_role("mask").empty())
      throw Error(call.where + ": Softmax with a mask is not supported yet");
    return ElementwiseOp::bind(call);
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
    const auto& s = in[0].shape;
    if (axes_.size() == 1) return softmax_axis(out[0].data, s, normalize_axis(axes_[0], s.size(), ""), false);
    // Several axes: move them last, softmax over their product, move back.
    std::vector<int> ax;
    for (int64_t a : axes_) ax.push_back(normalize_axis(a, s.size(), ""));
    std::sort(ax.begin(), ax.end());
    if (std::adjacent_find(ax.begin(), ax.end()) != ax.end()) throw Error("Softmax: 'axis' names an axis twice");
    std::vector<int> order;
    for (int d = 0; d < static_cast<int>(s.size()); ++d)
      if (std::find(ax.begin(), ax.end(), d) == ax.end()) order.push_back(d);
    order.insert(order.end(), ax.begin(), ax.end());
    std::vector<int> back(order.size());
    Shape moved;
    for (size_t k = 0; k < order.size(); ++k) {
      back[order[k]] = static_cast<int>(k);
      moved.push_back(s[order[k]]);
    }
    int64_t n = in[0].size(), group = 1;
    for (int a : ax) group *= s[a];
    std::vector<float> tmp(n);
    permute_copy(in[0], order, MutView{tmp.data(), moved});
    Shape flat{n / group, group};
    softmax_axis(tmp.data(), flat, 1, false);
    permute_copy(ConstView{tmp.data(), moved}, back, out[0]);
  }

 private:
  std::vector<int64_t> axes_;
};

}  // namespace

void register_activations(const AddLayer& add) {
  add("ReLU", [](const LayerSpec& s) { return std::make_shared<ReLU>(s); });
  add("PReLU", [](const LayerSpec& s) { return std::make_shared<PReLU>(s); });
  add("Softmax", [](const LayerSpec& s) { return std::make_shared<Softmax>(s); });
}

}  // namespace kerasrt::layers
