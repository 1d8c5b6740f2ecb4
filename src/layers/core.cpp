// Layers that pass their input through at inference, and simple reshapes of the data.
#include <numeric>

#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// Dropout, noise and regularisation layers do nothing at inference.
class Identity : public ElementwiseOp {
 public:
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
  }
};

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

// Reshapes that keep the data order: Flatten and Reshape.
class Flatten : public Op {
 public:
  explicit Flatten(const LayerSpec& spec) : channels_first_(Config(spec).channels_first()) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Flatten");
    int64_t n = 1;
    for (size_t i = 1; i < in[0].size(); ++i) n = (n < 0 || in[0][i] < 0) ? -1 : n * in[0][i];
    return {{in[0].empty() ? -1 : in[0][0], n}};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    // channels_first inputs are flattened in channels_last order, as Keras does.
    const auto& s = in[0].shape;
    if (!channels_first_ || s.size() < 3) {
      std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
      return;
    }
    int64_t batch = s[0], ch = s[1], spatial = element_count(s.subspan(2));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t c = 0; c < ch; ++c)
        for (int64_t p = 0; p < spatial; ++p)
          out[0].data[(b * spatial + p) * ch + c] = in[0].data[(b * ch + c) * spatial + p];
  }

 private:
  bool channels_first_;
};

class Reshape : public Op {
 public:
  explicit Reshape(const LayerSpec& spec) : target_(Config(spec).int_list("target_shape")) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Reshape");
    Shape out{in[0].empty() ? -1 : in[0][0]};
    int64_t known = 1, total = 1;
    int unknown_at = -1;
    for (size_t i = 1; i < in[0].size(); ++i) total = (total < 0 || in[0][i] < 0) ? -1 : total * in[0][i];
    for (size_t i = 0; i < target_.size(); ++i) {
      if (target_[i] == -1) {
        if (unknown_at >= 0) throw Error("Reshape target has more than one -1");
        unknown_at = static_cast<int>(i);
      } else {
        known *= target_[i];
      }
      out.push_back(target_[i]);
    }
    if (unknown_at >= 0) {
      if (total >= 0 && (known == 0 || total % known != 0))
        throw Error("cannot reshape " + shape_to_string(in[0]) + " to target " + shape_to_string(target_));
      out[unknown_at + 1] = total < 0 ? -1 : total / known;
    } else if (total >= 0 && total != known) {
      throw Error("cannot reshape " + shape_to_string(in[0]) + " to target " + shape_to_string(target_));
    }
    return {out};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
  }

 private:
  Shape target_;
};

// Permute: reorders the non-batch axes ("dims" counts from 1).
class Permute : public Op {
 public:
  explicit Permute(const LayerSpec& spec) {
    Config c(spec);
    dims_ = c.int_list("dims");
    std::vector<int64_t> sorted = dims_;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i)
      if (sorted[i] != static_cast<int64_t>(i) + 1) c.fail("'dims' must be a permutation of 1.." + std::to_string(dims_.size()));
  }
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Permute");
    expect_rank(in[0], dims_.size() + 1, "Permute");
    Shape out{in[0][0]};
    for (int64_t d : dims_) out.push_back(in[0][d]);
    return {out};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::vector<int> perm{0};
    for (int64_t d : dims_) perm.push_back(static_cast<int>(d));
    permute_copy(in[0], perm, out[0]);
  }

 private:
  std::vector<int64_t> dims_;
};

// RepeatVector: (batch, features) -> (batch, n, features).
class RepeatVector : public Op {
 public:
  explicit RepeatVector(const LayerSpec& spec) : n_(Config(spec).integer("n")) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "RepeatVector");
    expect_rank(in[0], 2, "RepeatVector");
    return {{in[0][0], n_, in[0][1]}};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    int64_t batch = in[0].shape[0], f = in[0].shape[1];
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < n_; ++i)
        std::copy(in[0].data + b * f, in[0].data + (b + 1) * f, out[0].data + (b * n_ + i) * f);
  }

 private:
  int64_t n_;
};

}  // namespace

void register_core(const AddLayer& add) {
  auto identity = [](const LayerSpec&) { return std::make_shared<Identity>(); };
  for (const char* name : {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                           "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity"})
    add(name, identity);
  add("Rescaling", [](const LayerSpec& s) { return std::make_shared<Rescaling>(s); });
  add("Flatten", [](const LayerSpec& s) { return std::make_shared<Flatten>(s); });
  add("Reshape", [](const LayerSpec& s) { return std::make_shared<Reshape>(s); });
  add("Permute", [](const LayerSpec& s) { return std::make_shared<Permute>(s); });
  add("RepeatVector", [](const LayerSpec& s) { return std::make_shared<RepeatVector>(s); });
}

}  // namespace kerasrt::layers
