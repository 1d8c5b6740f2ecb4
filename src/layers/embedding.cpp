// Embedding lookups: Embedding and ReversibleEmbedding (which, called with reverse=True, maps
// vectors back to logits over the vocabulary).
#include <cmath>

#include "layers/common.hpp"
#include "layers/matmul.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

class Embedding : public Op {
 public:
  explicit Embedding(const LayerSpec& spec) {
    Config c(spec);
    input_dim_ = c.integer("input_dim");
    output_dim_ = c.integer("output_dim");
    if (input_dim_ <= 0) c.fail("'input_dim' must be positive, got " + std::to_string(input_dim_));
    if (output_dim_ <= 0) c.fail("'output_dim' must be positive, got " + std::to_string(output_dim_));
    // mask_zero only produces a mask, which Keras 3 configs carry as separate op nodes.
    embeddings_ = spec.weights.take("embeddings", {input_dim_, output_dim_});
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Embedding");
    Shape out = in[0];
    out.push_back(output_dim_);
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const int64_t n = in[0].size();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t row = row_of(in[0].data[i]);
      std::copy_n(embeddings_.data() + row * output_dim_, output_dim_, out[0].data + i * output_dim_);
    }
  }

  int64_t param_count() const override { return static_cast<int64_t>(embeddings_.size()); }

 protected:
  // Keras casts the index to int32 (truncating) and, on torch, counts negative indices from the end.
  int64_t row_of(float value) const {
    if (!std::isfinite(value) || std::fabs(value) >= 2147483648.f)
      throw Error("Embedding: index " + std::to_string(value) + " is not a valid integer index");
    int64_t index = static_cast<int64_t>(value);  // truncates toward zero, as the cast does
    int64_t row = index < 0 ? index + input_dim_ : index;
    if (row < 0 || row >= input_dim_)
      throw Error("Embedding: index " + std::to_string(index) + " is out of range for input_dim " +
                  std::to_string(input_dim_));
    return row;
  }

  int64_t input_dim_ = 0, output_dim_ = 0;
  std::vector<float> embeddings_;  // (input_dim, output_dim)
};

// ReversibleEmbedding: forward it is an Embedding; with reverse=True, logits = x · kernel where
// kernel is embeddings^T (tie_weights) or the stored reverse_embeddings (output_dim, input_dim),
// optionally soft-capped: tanh(logits / cap) * cap.
class ReversibleEmbedding : public Embedding {
 public:
  explicit ReversibleEmbedding(const LayerSpec& spec) : Embedding(spec) {
    Config c(spec);
    bool tie = c.flag("tie_weights", true);
    std::string reverse_dtype = c.str("reverse_dtype", "float32");
    if (reverse_dtype != "float32")
      c.fail("reverse_dtype '" + reverse_dtype + "' is not supported (kerasrt computes in float32)");
    if (c.has("logit_soft_cap")) {
      soft_cap_ = c.number("logit_soft_cap");
      if (soft_cap_ == 0) c.fail("'logit_soft_cap' must not be zero");
    }
    if (tie) {
      reverse_.resize(embeddings_.size());  // embeddings^T, laid out (output_dim, input_dim)
      for (int64_t v = 0; v < input_dim_; ++v)
        for (int64_t d = 0; d < output_dim_; ++d) reverse_[d * input_dim_ + v] = embeddings_[v * output_dim_ + d];
    } else {
      reverse_ = spec.weights.take("reverse_embeddings", {output_dim_, input_dim_});
      untied_params_ = static_cast<int64_t>(reverse_.size());
    }
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    for (const auto& r : call.roles)
      if (!r.empty()) throw Error(call.where + ": ReversibleEmbedding does not take the tensor argument '" + r + "'");
    bool reverse = false;
    if (call.kwargs.contains("reverse")) reverse = flag_value(call.kwargs["reverse"], call.where);
    else if (call.args.is_array() && call.args.size() > 1) reverse = flag_value(call.args[1], call.where);
    if (reverse == reverse_mode_) return shared_from_this();
    auto copy = std::make_shared<ReversibleEmbedding>(*this);
    copy->reverse_mode_ = reverse;
    return copy;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    if (!reverse_mode_) return Embedding::output_shapes(in);
    expect_input_count(in, 1, "ReversibleEmbedding");
    if (in[0].empty() || (in[0].back() >= 0 && in[0].back() != output_dim_))
      throw Error("ReversibleEmbedding(reverse=True) expects last dimension " + std::to_string(output_dim_) +
                  ", got input " + shape_to_string(in[0]));
    Shape out = in[0];
    out.back() = input_dim_;
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    if (!reverse_mode_) return Embedding::run(in, out);
    const int64_t rows = in[0].size() / output_dim_;
    float* y = out[0].data;
    std::fill(y, y + rows * input_dim_, 0.f);
    matmul(1, rows, output_dim_, input_dim_, row_major(in[0].data, output_dim_), row_major(reverse_.data(), input_dim_),
           row_major(y, input_dim_), MatmulSum::kFloatOntoC);
    if (soft_cap_)
      for (int64_t i = 0; i < rows * input_dim_; ++i)
        y[i] = static_cast<float>(std::tanh(y[i] / *soft_cap_) * *soft_cap_);
  }

  int64_t param_count() const override { return Embedding::param_count() + untied_params_; }

 private:
  static bool flag_value(const Json& v, const std::string& where) {
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_null()) return false;
    throw Error(where + ": ReversibleEmbedding's 'reverse' should be true or false, got " + v.dump());
  }

  std::vector<float> reverse_;  // (output_dim, input_dim)
  std::optional<double> soft_cap_;
  int64_t untied_params_ = 0;
  bool reverse_mode_ = false;
};

}  // namespace

void register_embedding(const AddLayer& add) {
  add("ReversibleEmbedding", [](const LayerSpec& s) { return std::make_shared<ReversibleEmbedding>(s); });
}

}  // namespace kerasrt::layers
