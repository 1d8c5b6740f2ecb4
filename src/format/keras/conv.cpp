// The convolution family: Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D and
// Conv1D/2D/3DTranspose, all as ir conv nodes with the kernel laid out (taps..., in/groups, filters).
// Keras 1/2 class names, config keys and kernel layouts are normalised before this
// (keras1_compat.cpp, weight_source.cpp).
#include <cctype>

#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
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

// Strides, dilation, padding, data format and activation. The kernel's spatial size comes from the
// stored weight (`ks`), and a config kernel_size, when present, must agree with it.
ir::ConvAttrs read_window(const Config& c, int rank, bool allow_causal, const Shape& ks) {
  ir::ConvAttrs a;
  a.rank = rank;
  a.channels_first = c.channels_first();
  std::vector<int64_t> strides = positive_ints(c, "strides", rank, kMaxWindowValue);
  std::vector<int64_t> dilation = positive_ints(c, "dilation_rate", rank, kMaxWindowValue);
  std::vector<int64_t> kernel_size(ks.begin(), ks.begin() + rank);
  if (c.has("kernel_size") && c.ints("kernel_size", static_cast<size_t>(rank)) != kernel_size)
    c.fail("'kernel_size' " + c.raw("kernel_size").dump() + " does not match the stored kernel " + shape_to_string(ks));
  for (int d = 0; d < rank; ++d) {
    if (kernel_size[d] < 1) c.fail("the stored kernel has an empty spatial dimension");
    a.kernel[d] = kernel_size[d];
    a.strides[d] = strides[d];
    a.dilations[d] = dilation[d];
  }
  std::string padding = lower(c.str("padding", "valid"));
  if (padding == "valid") a.padding = ir::ConvPadding::kValid;
  else if (padding == "same") a.padding = ir::ConvPadding::kSame;
  else if (padding == "causal" && allow_causal) a.padding = ir::ConvPadding::kCausal;
  else c.fail("unsupported padding '" + padding + "'");
  a.activation = c.has("activation") ? parse_activation(c.raw("activation"), c.spec()) : ir::Activation{};
  if (a.activation.fn == ir::UnaryFn::kGlu) c.fail("activation 'glu' is not supported on a convolution");
  a.has_bias = c.flag("use_bias", true);
  return a;
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

Shape kernel_shape(const ir::ConvAttrs& a) {
  Shape s(a.kernel.begin(), a.kernel.begin() + a.rank);
  s.push_back(a.in_channels / a.groups);
  s.push_back(a.filters);
  return s;
}

// The kernel (as laid out for ConvAttrs) and, when the attrs ask for it, the bias from the stream.
// The kernel as stored is shared; a depthwise one (k..., in, multiplier) is the same memory as the
// conv node's (k..., 1, in*multiplier), copied under that shape.
std::vector<ir::Weight> conv_weights(const LayerSpec& spec, const ir::ConvAttrs& a, std::shared_ptr<const Tensor> kernel) {
  const Shape shape = kernel_shape(a);
  std::vector<ir::Weight> w{kernel->shape == shape ? ir::Weight{"kernel", std::move(kernel)}
                                                   : weight("kernel", kernel->to_floats(), shape)};
  if (a.has_bias) w.push_back(stored_weight(spec.weights, "bias", "bias", {a.filters}));
  return w;
}

// SeparableConv: a depthwise node, then a 1x1 pointwise node carrying the bias and activation. Two
// nodes rather than one fused op so that each half runs on the kernel made for it (the direct
// depthwise loop, the plain GEMM); the layer's output is the pointwise node's.
class SeparableConvLayer : public TypedLayer {
 public:
  SeparableConvLayer(ir::ConvAttrs depthwise, std::vector<ir::Weight> dw, ir::ConvAttrs pointwise,
                     std::vector<ir::Weight> pw)
      : depthwise_(depthwise), pointwise_(pointwise), dw_(std::move(dw)), pw_(std::move(pw)) {}
  int64_t param_count() const override {
    int64_t n = 0;
    for (const auto* ws : {&dw_, &pw_})
      for (const ir::Weight& w : *ws) n += w.value->size();
    return n;
  }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    positional_only(call);
    std::vector<int> mid = sink.add(ir::OpKind::kConv, depthwise_, dw_, {inputs.begin(), inputs.end()});
    return sink.add(ir::OpKind::kConv, pointwise_, pw_, mid);
  }

 private:
  ir::ConvAttrs depthwise_, pointwise_;
  std::vector<ir::Weight> dw_, pw_;
};

}  // namespace

// Conv1D/2D/3D: kernel (k..., in/groups, filters), bias (filters); already the ir layout.
template <int Rank>
std::shared_ptr<const TypedLayer> parse_conv(const LayerSpec& spec) {
  Config c(spec);
  Shape ks = peek_kernel_shape(spec, Rank, "kernel");
  ir::ConvAttrs a = read_window(c, Rank, Rank == 1, ks);
  a.groups = c.integer("groups", 1);
  a.filters = ks[Rank + 1];
  const int64_t cpg = ks[Rank];
  if (a.groups < 1) c.fail("'groups' must be positive");
  if (c.has("filters") && c.integer("filters") != a.filters)
    c.fail("'filters' " + std::to_string(c.integer("filters")) + " does not match the stored kernel " +
           shape_to_string(ks));
  if (a.filters < 1 || cpg < 1 || a.filters % a.groups != 0)
    c.fail("kernel " + shape_to_string(ks) + " does not fit groups=" + std::to_string(a.groups));
  a.in_channels = cpg * a.groups;
  std::shared_ptr<const Tensor> kernel = spec.weights.take_tensor("kernel", ks);
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kConv, a, conv_weights(spec, a, std::move(kernel)));
}

// DepthwiseConv1D/2D: kernel (k..., in, multiplier), bias (in*multiplier). As a conv with one group
// per input channel, the same memory is the kernel (k..., 1, in*multiplier).
template <int Rank>
std::shared_ptr<const TypedLayer> parse_depthwise_conv(const LayerSpec& spec) {
  Config c(spec);
  Shape ks = peek_kernel_shape(spec, Rank, "kernel");
  ir::ConvAttrs a = read_window(c, Rank, false, ks);
  const int64_t in = ks[Rank], multiplier = ks[Rank + 1];
  if (c.has("depth_multiplier") && c.integer("depth_multiplier") != multiplier)
    c.fail("'depth_multiplier' does not match the stored kernel " + shape_to_string(ks));
  if (in < 1 || multiplier < 1) c.fail("empty kernel " + shape_to_string(ks));
  a.in_channels = a.groups = in;
  a.filters = in * multiplier;
  std::shared_ptr<const Tensor> kernel = spec.weights.take_tensor("kernel", ks);
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kConv, a, conv_weights(spec, a, std::move(kernel)));
}

// SeparableConv1D/2D: depthwise kernel (k..., in, multiplier) without bias, then a 1x1 pointwise
// kernel (1..., in*multiplier, filters) with bias (filters).
template <int Rank>
std::shared_ptr<const TypedLayer> parse_separable_conv(const LayerSpec& spec) {
  Config c(spec);
  Shape ks = peek_kernel_shape(spec, Rank, "depthwise_kernel");
  ir::ConvAttrs dw = read_window(c, Rank, false, ks);
  const int64_t in = ks[Rank], multiplier = ks[Rank + 1];
  if (c.has("depth_multiplier") && c.integer("depth_multiplier") != multiplier)
    c.fail("'depth_multiplier' does not match the stored depthwise kernel " + shape_to_string(ks));
  if (in < 1 || multiplier < 1) c.fail("empty depthwise kernel " + shape_to_string(ks));
  dw.in_channels = dw.groups = in;
  dw.filters = in * multiplier;
  std::vector<float> depthwise = spec.weights.take("depthwise_kernel", ks);
  Shape ps = peek_kernel_shape(spec, Rank, "pointwise_kernel");
  ir::ConvAttrs pw;
  pw.rank = Rank;
  pw.channels_first = dw.channels_first;
  pw.in_channels = dw.filters;
  pw.filters = ps[Rank + 1];
  pw.has_bias = dw.has_bias;
  pw.activation = dw.activation;
  dw.has_bias = false;
  dw.activation = {};
  if (c.has("filters") && c.integer("filters") != pw.filters)
    c.fail("'filters' does not match the stored pointwise kernel " + shape_to_string(ps));
  if (pw.filters < 1) c.fail("empty pointwise kernel " + shape_to_string(ps));
  std::shared_ptr<const Tensor> pointwise = spec.weights.take_tensor("pointwise_kernel", kernel_shape(pw));
  std::vector<ir::Weight> dw_weights{weight("depthwise_kernel", std::move(depthwise), kernel_shape(dw))};
  std::vector<ir::Weight> pw_weights = conv_weights(spec, pw, std::move(pointwise));
  pw_weights[0].name = "pointwise_kernel";
  return std::make_shared<SeparableConvLayer>(dw, std::move(dw_weights), pw, std::move(pw_weights));
}

// Conv1D/2D/3DTranspose: kernel (k..., filters, in), bias (filters); the kernel is re-laid to
// (k..., in, filters), the layout every conv node has.
template <int Rank>
std::shared_ptr<const TypedLayer> parse_conv_transpose(const LayerSpec& spec) {
  Config c(spec);
  Shape ks = peek_kernel_shape(spec, Rank, "kernel");
  ir::ConvAttrs a = read_window(c, Rank, false, ks);
  a.transpose = true;
  a.filters = ks[Rank];
  a.in_channels = ks[Rank + 1];
  if (c.has("filters") && c.integer("filters") != a.filters)
    c.fail("'filters' does not match the stored kernel " + shape_to_string(ks));
  if (a.filters < 1 || a.in_channels < 1) c.fail("empty kernel " + shape_to_string(ks));
  if (c.integer("groups", 1) != 1) c.fail("grouped transposed convolutions are not supported");
  if (c.has("output_padding")) {
    std::vector<int64_t> op = c.ints("output_padding", static_cast<size_t>(Rank));
    for (int d = 0; d < Rank; ++d) {
      if (op[d] < 0 || op[d] >= a.strides[d])
        c.fail("'output_padding' " + c.raw("output_padding").dump() + " must be >= 0 and less than the strides");
      a.output_padding[d] = op[d];
    }
  }
  std::vector<float> stored = spec.weights.take("kernel", ks);
  const int64_t taps = element_count(std::span(ks).first(Rank)), in = a.in_channels, filters = a.filters;
  std::vector<float> kernel(stored.size());
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t f = 0; f < filters; ++f)
      for (int64_t ci = 0; ci < in; ++ci) kernel[(t * in + ci) * filters + f] = stored[(t * filters + f) * in + ci];
  auto relaid = std::make_shared<const Tensor>(kernel_shape(a), std::move(kernel));
  return std::make_shared<SingleNodeLayer>(ir::OpKind::kConv, a, conv_weights(spec, a, std::move(relaid)));
}

template std::shared_ptr<const TypedLayer> parse_conv<1>(const LayerSpec&);
template std::shared_ptr<const TypedLayer> parse_conv<2>(const LayerSpec&);
template std::shared_ptr<const TypedLayer> parse_conv<3>(const LayerSpec&);
template std::shared_ptr<const TypedLayer> parse_depthwise_conv<1>(const LayerSpec&);
template std::shared_ptr<const TypedLayer> parse_depthwise_conv<2>(const LayerSpec&);
template std::shared_ptr<const TypedLayer> parse_separable_conv<1>(const LayerSpec&);
template std::shared_ptr<const TypedLayer> parse_separable_conv<2>(const LayerSpec&);
template std::shared_ptr<const TypedLayer> parse_conv_transpose<1>(const LayerSpec&);
template std::shared_ptr<const TypedLayer> parse_conv_transpose<2>(const LayerSpec&);
template std::shared_ptr<const TypedLayer> parse_conv_transpose<3>(const LayerSpec&);

}  // namespace kerasrt::format
