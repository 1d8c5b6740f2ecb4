// Convolutions: Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D and Conv1D/2D/3DTranspose.
//
// All of them run through one reference kernel, `ConvCore` (conv_core.hpp), that works on 1 to 3
// spatial dims (missing dims are treated as size 1) in either data format, forward or transposed.
// Depthwise is a grouped conv with one group per input channel (its Keras kernel (k..., in, mult)
// is already laid out as (k..., 1, in*mult)); separable is depthwise followed by a 1x1 conv.
#include <algorithm>
#include <array>
#include <cctype>

#include "layers/common.hpp"
#include "layers/conv_core.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

constexpr int64_t kMaxWindowValue = 1 << 16;  // bound on strides/dilation so index arithmetic cannot overflow

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::vector<int64_t> positive_ints(const Config& c, const char* key, int rank, int64_t max_value) {
  std::vector<int64_t> v = c.ints(key, static_cast<size_t>(rank), 1);
  for (int64_t x : v)
    if (x < 1 || x > max_value)
      c.fail(std::string("'") + key + "' values must be between 1 and " + std::to_string(max_value) + ", got " +
             c.raw(key).dump());
  return v;
}

// Reads strides, dilation, padding and data format; the kernel's spatial size comes from the stored
// weight (`kernel_spatial`), and a config kernel_size, when present, must agree with it.
Window read_window(const Config& c, int rank, bool allow_causal, std::span<const int64_t> kernel_spatial) {
  Window w;
  w.rank = rank;
  w.channels_first = c.channels_first();
  std::vector<int64_t> strides = positive_ints(c, "strides", rank, kMaxWindowValue);
  std::vector<int64_t> dilation = positive_ints(c, "dilation_rate", rank, kMaxWindowValue);
  std::vector<int64_t> kernel_size(kernel_spatial.begin(), kernel_spatial.end());
  if (c.has("kernel_size") && c.ints("kernel_size", static_cast<size_t>(rank)) != kernel_size)
    c.fail("'kernel_size' " + c.raw("kernel_size").dump() + " does not match the stored kernel " +
           shape_to_string(Shape(kernel_spatial.begin(), kernel_spatial.end())));
  for (int d = 0; d < rank; ++d) {
    if (kernel_size[d] < 1) c.fail("the stored kernel has an empty spatial dimension");
    w.kernel[d] = kernel_size[d];
    w.stride[d] = strides[d];
    w.dilation[d] = dilation[d];
  }
  std::string padding = lower(c.str("padding", "valid"));
  if (padding == "valid") w.padding = Padding::kValid;
  else if (padding == "same") w.padding = Padding::kSame;
  else if (padding == "causal" && allow_causal) w.padding = Padding::kCausal;
  else c.fail("unsupported padding '" + padding + "'");
  return w;
}

// Shape of the (k..., a, b) kernel at the front of the weight stream, checked for rank.
Shape peek_kernel_shape(const LayerSpec& spec, int rank, const char* what) {
  const Weights::Entry* k = spec.weights.peek();
  if (!k) spec.fail(std::string("missing ") + what + " weight");
  if (k->shape.size() != static_cast<size_t>(rank + 2))
    spec.fail(std::string(what) + " weight has shape " + shape_to_string(k->shape) + ", expected rank " +
              std::to_string(rank + 2));
  return k->shape;
}

Activation read_activation(const Config& c) {
  Activation a = activation_from(c);
  if (a.changes_shape()) c.fail("activation '" + a.name + "' is not supported on a convolution");
  return a;
}

// A convolution layer that runs one ConvCore and then its activation.
class CoreConvOp : public Op {
 public:
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, name_.c_str());
    return {core_.output_shape(in[0], name_.c_str())};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    core_.run(in[0], out[0]);
    activation_.apply(out[0].data, out[0].shape);
  }
  int64_t param_count() const override { return core_.param_count(); }

 protected:
  explicit CoreConvOp(std::string name) : name_(std::move(name)) {}
  std::string name_;
  ConvCore core_;
  Activation activation_;
};

// Conv1D/2D/3D: kernel (k..., in/groups, filters), bias (filters).
class Conv : public CoreConvOp {
 public:
  Conv(const LayerSpec& spec, int rank) : CoreConvOp(spec.class_name) {
    Config c(spec);
    Shape ks = peek_kernel_shape(spec, rank, "kernel");
    Window w = read_window(c, rank, rank == 1, std::span(ks).first(rank));
    int64_t groups = c.integer("groups", 1);
    int64_t filters = ks[rank + 1], cpg = ks[rank];
    if (groups < 1) c.fail("'groups' must be positive");
    if (c.has("filters") && c.integer("filters") != filters)
      c.fail("'filters' " + std::to_string(c.integer("filters")) + " does not match the stored kernel " +
             shape_to_string(ks));
    if (filters < 1 || cpg < 1 || filters % groups != 0)
      c.fail("kernel " + shape_to_string(ks) + " does not fit groups=" + std::to_string(groups));
    std::vector<float> kernel = spec.weights.take("kernel", ks);
    std::vector<float> bias;
    if (c.flag("use_bias", true)) bias = spec.weights.take("bias", {filters});
    activation_ = read_activation(c);
    core_ = ConvCore(w, false, cpg * groups, filters, groups, std::move(kernel), std::move(bias));
  }
};

// DepthwiseConv1D/2D: kernel (k..., in, multiplier), bias (in*multiplier).
class DepthwiseConv : public CoreConvOp {
 public:
  DepthwiseConv(const LayerSpec& spec, int rank) : CoreConvOp(spec.class_name) {
    Config c(spec);
    Shape ks = peek_kernel_shape(spec, rank, "kernel");
    Window w = read_window(c, rank, false, std::span(ks).first(rank));
    int64_t in = ks[rank], multiplier = ks[rank + 1];
    if (c.has("depth_multiplier") && c.integer("depth_multiplier") != multiplier)
      c.fail("'depth_multiplier' does not match the stored kernel " + shape_to_string(ks));
    if (in < 1 || multiplier < 1) c.fail("empty kernel " + shape_to_string(ks));
    std::vector<float> kernel = spec.weights.take("kernel", ks);
    std::vector<float> bias;
    if (c.flag("use_bias", true)) bias = spec.weights.take("bias", {in * multiplier});
    activation_ = read_activation(c);
    core_ = ConvCore(w, false, in, in * multiplier, in, std::move(kernel), std::move(bias));
  }
};

// SeparableConv1D/2D: depthwise kernel (k..., in, multiplier) without bias, then a 1x1 pointwise
// kernel (1..., in*multiplier, filters) with bias (filters).
class SeparableConv : public Op {
 public:
  SeparableConv(const LayerSpec& spec, int rank) : name_(spec.class_name) {
    Config c(spec);
    Shape ks = peek_kernel_shape(spec, rank, "depthwise_kernel");
    Window w = read_window(c, rank, false, std::span(ks).first(rank));
    int64_t in = ks[rank], multiplier = ks[rank + 1];
    if (c.has("depth_multiplier") && c.integer("depth_multiplier") != multiplier)
      c.fail("'depth_multiplier' does not match the stored depthwise kernel " + shape_to_string(ks));
    if (in < 1 || multiplier < 1) c.fail("empty depthwise kernel " + shape_to_string(ks));
    std::vector<float> depthwise = spec.weights.take("depthwise_kernel", ks);
    Shape ps = peek_kernel_shape(spec, rank, "pointwise_kernel");
    int64_t filters = ps[rank + 1];
    if (c.has("filters") && c.integer("filters") != filters)
      c.fail("'filters' does not match the stored pointwise kernel " + shape_to_string(ps));
    if (filters < 1) c.fail("empty pointwise kernel " + shape_to_string(ps));
    Shape expected_ps(static_cast<size_t>(rank), 1);
    expected_ps.push_back(in * multiplier);
    expected_ps.push_back(filters);
    std::vector<float> pointwise = spec.weights.take("pointwise_kernel", expected_ps);
    std::vector<float> bias;
    if (c.flag("use_bias", true)) bias = spec.weights.take("bias", {filters});
    activation_ = read_activation(c);
    depthwise_ = ConvCore(w, false, in, in * multiplier, in, std::move(depthwise), {});
    Window pw;
    pw.rank = rank;
    pw.channels_first = w.channels_first;
    pointwise_ = ConvCore(pw, false, in * multiplier, filters, 1, std::move(pointwise), std::move(bias));
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, name_.c_str());
    return {pointwise_.output_shape(depthwise_.output_shape(in[0], name_.c_str()), name_.c_str())};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    Shape mid_shape = depthwise_.output_shape(Shape(in[0].shape.begin(), in[0].shape.end()), name_.c_str());
    std::vector<float> mid(static_cast<size_t>(element_count(mid_shape)));
    depthwise_.run(in[0], MutView{mid.data(), mid_shape});
    pointwise_.run(ConstView{mid.data(), mid_shape}, out[0]);
    activation_.apply(out[0].data, out[0].shape);
  }
  int64_t param_count() const override { return depthwise_.param_count() + pointwise_.param_count(); }

 private:
  std::string name_;
  ConvCore depthwise_, pointwise_;
  Activation activation_;
};

// Conv1D/2D/3DTranspose: kernel (k..., filters, in), bias (filters). The kernel is re-laid out
// to (k..., in, filters) for ConvCore.
class ConvTranspose : public CoreConvOp {
 public:
  ConvTranspose(const LayerSpec& spec, int rank) : CoreConvOp(spec.class_name) {
    Config c(spec);
    Shape ks = peek_kernel_shape(spec, rank, "kernel");
    Window w = read_window(c, rank, false, std::span(ks).first(rank));
    int64_t filters = ks[rank], in = ks[rank + 1];
    if (c.has("filters") && c.integer("filters") != filters)
      c.fail("'filters' does not match the stored kernel " + shape_to_string(ks));
    if (filters < 1 || in < 1) c.fail("empty kernel " + shape_to_string(ks));
    if (c.integer("groups", 1) != 1) c.fail("grouped transposed convolutions are not supported");
    Dims output_padding{-1, -1, -1};
    if (c.has("output_padding")) {
      std::vector<int64_t> op = c.ints("output_padding", static_cast<size_t>(rank));
      for (int d = 0; d < rank; ++d) {
        if (op[d] < 0 || op[d] >= w.stride[d])
          c.fail("'output_padding' " + c.raw("output_padding").dump() + " must be >= 0 and less than the strides");
        output_padding[d] = op[d];
      }
    }
    std::vector<float> stored = spec.weights.take("kernel", ks);
    int64_t taps = element_count(std::span(ks).first(rank));
    std::vector<float> kernel(stored.size());
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t f = 0; f < filters; ++f)
        for (int64_t ci = 0; ci < in; ++ci)
          kernel[(t * in + ci) * filters + f] = stored[(t * filters + f) * in + ci];
    std::vector<float> bias;
    if (c.flag("use_bias", true)) bias = spec.weights.take("bias", {filters});
    activation_ = read_activation(c);
    core_ = ConvCore(w, true, in, filters, 1, std::move(kernel), std::move(bias), output_padding);
  }
};

template <class Layer>
LayerFactory factory(int rank) {
  return [rank](const LayerSpec& s) { return std::make_shared<Layer>(s, rank); };
}

}  // namespace

void register_conv(const AddLayer& add) {
  add("Conv1D", factory<Conv>(1));
  add("Conv2D", factory<Conv>(2));
  add("Conv3D", factory<Conv>(3));
  add("DepthwiseConv1D", factory<DepthwiseConv>(1));
  add("DepthwiseConv2D", factory<DepthwiseConv>(2));
  add("SeparableConv1D", factory<SeparableConv>(1));
  add("SeparableConv2D", factory<SeparableConv>(2));
  add("Conv1DTranspose", factory<ConvTranspose>(1));
  add("Conv2DTranspose", factory<ConvTranspose>(2));
  add("Conv3DTranspose", factory<ConvTranspose>(3));
}

}  // namespace kerasrt::layers
