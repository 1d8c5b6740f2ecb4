// Helpers shared by the layer families: typed config access, shape arithmetic with unknown
// dimensions, activations, tensor indexing, reading a call's arguments. Nothing here knows about files.
#pragma once

#include <kerasrt/op.hpp>

#include "kernels/spatial_layout.hpp"

#include <array>
#include <cmath>
#include <optional>

namespace kerasrt::layers {

// Typed reads of a layer's config, with errors that name the layer and the key.
class Config {
 public:
  explicit Config(const LayerSpec& spec) : spec_(spec), j_(spec.config) {}
  Config(const LayerSpec& spec, const Json& j) : spec_(spec), j_(j) {}

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const Json& raw(const char* key) const;
  int64_t integer(const char* key) const;
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }
  double number(const char* key) const;
  double number(const char* key, double fallback) const { return has(key) ? number(key) : fallback; }
  bool flag(const char* key, bool fallback) const;
  std::string str(const char* key, const std::string& fallback) const;
  // An int or a list of ints; a single int is repeated `n` times (Keras's standardize_tuple).
  std::vector<int64_t> ints(const char* key, size_t n) const;
  std::vector<int64_t> ints(const char* key, size_t n, int64_t fallback) const {
    return has(key) ? ints(key, n) : std::vector<int64_t>(n, fallback);
  }
  std::vector<int64_t> int_list(const char* key) const;  // any length
  // "channels_last" / "channels_first"; Keras 2's "dim_ordering" "tf"/"th" is accepted too.
  bool channels_first() const;
  [[noreturn]] void fail(const std::string& what) const { spec_.fail(what); }
  const LayerSpec& spec() const { return spec_; }

 private:
  const LayerSpec& spec_;
  const Json& j_;
};

// Axis in [-rank, rank) to [0, rank).
int normalize_axis(int64_t axis, size_t rank, const std::string& where);

// Dimension arithmetic where -1 means unknown.
inline int64_t dim_or_unknown(int64_t in, int64_t value) { return in < 0 ? -1 : value; }
// Two dimensions that may be the same: equal, or either unknown.
inline bool dims_agree(int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; }

// Keras's conv/pool output length for "valid", "same" and "causal" padding.
int64_t conv_output_length(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, const std::string& padding);
// Leading padding Keras (and TF) apply for "same": total = max((out-1)*s + (k-1)*d + 1 - in, 0), front = total/2.
int64_t same_pad_front(int64_t in, int64_t kernel, int64_t stride, int64_t dilation);

// ---- activations ------------------------------------------------------------------------------
struct Activation {
  enum class Kind {
    kLinear, kRelu, kRelu6, kSigmoid, kHardSigmoid, kTanh, kSoftmax, kLogSoftmax, kElu, kSelu, kSoftplus,
    kSoftsign, kSilu, kHardSilu, kGelu, kGeluTanh, kExponential, kLeakyRelu, kMish, kCelu, kLogSigmoid,
    kTanhShrink, kSoftShrink, kHardShrink, kHardTanh, kSparsePlus, kSparseSigmoid, kSquarePlus, kThreshold,
    kGlu, kSparsemax,
  };
  Kind kind = Kind::kLinear;
  float alpha = 0.f;  // leaky slope, celu/elu alpha, shrink threshold, squareplus b, ...
  float beta = 0.f;
  std::string name = "linear";

  bool is_linear() const { return kind == Kind::kLinear; }
  // Applies in place to a tensor of `shape`; softmax-like activations work over the last axis.
  void apply(float* data, std::span<const int64_t> shape) const;
  // Activations that change the shape (glu halves the last axis).
  bool changes_shape() const { return kind == Kind::kGlu; }
};

// Parses an activation given as a name ("relu") or a serialized object; errors name the layer.
Activation parse_activation(const Json& j, const std::string& where);
Activation activation_from(const Config& c, const char* key = "activation");

// Softmax over one axis of a tensor (shape given), in place.
void softmax_axis(float* data, std::span<const int64_t> shape, int axis, bool log);

// ---- base classes ---------------------------------------------------------------------------
// A layer with one input and one output of the same shape.
class ElementwiseOp : public Op {
 public:
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, 1);
    return {in[0]};
  }
 protected:
  static void expect_inputs(std::span<const Shape> in, size_t n);
};

void expect_input_count(std::span<const Shape> in, size_t n, const char* what);
void expect_rank(const Shape& s, size_t rank, const char* what);

// ---- row-major indexing ------------------------------------------------------------------------
std::vector<int64_t> row_major_strides(std::span<const int64_t> shape);
// Steps a row-major multi-index through `shape`; false once it has wrapped around to all zeros.
bool next_index(std::vector<int64_t>& idx, std::span<const int64_t> shape);
// Strides for reading `shape` as if broadcast to `out` (NumPy rules: trailing axes line up); 0 along
// broadcast axes.
std::vector<int64_t> broadcast_strides(std::span<const int64_t> shape, std::span<const int64_t> out);

// The spatial layout the kernels use (kernels/spatial_layout.hpp).
using kernels::SpatialLayout;
using kernels::spatial_layout;

// ---- call arguments ----------------------------------------------------------------------------
// A call's args/kwargs hold {"__tensor__": i} where the call passes its i-th tensor.
Json tensor_placeholder(int index);
// The tensor index if `arg` is such a placeholder (exactly that one key), else nullopt.
std::optional<int> placeholder_index(const Json& arg);
// Appends the indices of the placeholders inside `arg` (nested lists and dicts too), in order.
void collect_tensors(const Json& arg, std::vector<int>& out);
// Whether the call asks for training behaviour with training=True (keyword, or the second positional
// argument as in Keras's call(inputs, training)).
bool call_wants_training(const Call& call);

// The tensors of a recurrent layer's call (RNN, LSTM, ..., Bidirectional): the sequence comes first
// (positionally); initial states by keyword, as the second positional argument, or (Keras 2) after the
// sequence in one positional list; the mask by keyword or third. A call without args/kwargs goes by
// its roles. Refuses indices outside the call's tensors; errors name `layer`.
struct RecurrentCallTensors {
  int sequence = -1;
  std::vector<int> states;
  int mask = -1;
};
RecurrentCallTensors recurrent_call_tensors(const Call& call, const std::string& layer);

// ---- names -------------------------------------------------------------------------------------
// Keras's naming.to_snake_case for class names, as Keras 3 derives weight paths from them
// ("Conv2D" -> "conv2d", "SimpleRNNCell" -> "simple_rnn_cell").
std::string snake_case(const std::string& class_name);

// ---- number formats ----------------------------------------------------------------------------
// The nearest bfloat16 value (ties to even), kept in a float; NaN and infinities pass through.
float round_to_bfloat16(float x);

}  // namespace kerasrt::layers
