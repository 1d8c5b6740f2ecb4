// Convolutions: Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D and Conv1D/2D/3DTranspose.
//
// All of them run through one reference kernel, `ConvCore`, that works on 1 to 3 spatial dims
// (missing dims are treated as size 1) in either data format:
//   y[b, o, g*fpg + f] = bias[g*fpg + f] + sum_{tap, c} x[b, src(o, tap), g*cpg + c] * w[tap, c, g*fpg + f]
// where cpg/fpg are input channels/filters per group and `src` maps an output position and a
// kernel tap to an input position (or to padding) per axis, for a forward or a transposed conv.
// Depthwise is a grouped conv with one group per input channel (its Keras kernel (k..., in, mult)
// is already laid out as (k..., 1, in*mult)); separable is depthwise followed by a 1x1 conv.
#include <algorithm>
#include <array>
#include <cctype>

#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

constexpr int kMaxRank = 3;
constexpr int64_t kMaxWindowValue = 1 << 16;  // bound on strides/dilation so index arithmetic cannot overflow

using Dims = std::array<int64_t, kMaxRank>;

enum class Padding { kValid, kSame, kCausal };

// How one spatial axis maps output positions and kernel taps to input positions.
struct AxisMap {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, dilation = 1;
  // Forward conv: input = o*stride - offset + k*dilation.
  // Transposed conv: the full (uncropped) output position o + offset receives input i from tap k
  // when it equals i*stride + k*dilation.
  int64_t offset = 0;
  bool transposed = false;

  // The input index for output index `o` and tap `k`, or -1 when the tap reads padding.
  int64_t source(int64_t o, int64_t k) const {
    if (!transposed) {
      int64_t i = o * stride - offset + k * dilation;
      return i >= 0 && i < in ? i : -1;
    }
    int64_t q = o + offset - k * dilation;
    if (q < 0 || q % stride != 0) return -1;
    int64_t i = q / stride;
    return i < in ? i : -1;
  }
};

// The settings every layer of the family reads from its config.
struct Window {
  int rank = 0;
  Dims kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1};
  Padding padding = Padding::kValid;
  bool channels_first = false;
};

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

// The reference convolution: a forward (possibly grouped, strided, dilated, padded) or a
// transposed convolution with an optional bias. The kernel is (taps..., in/groups, filters).
class ConvCore {
 public:
  ConvCore() = default;
  ConvCore(Window window, bool transposed, int64_t in_channels, int64_t filters, int64_t groups,
           std::vector<float> kernel, std::vector<float> bias, Dims output_padding = {-1, -1, -1})
      : window_(window),
        transposed_(transposed),
        in_channels_(in_channels),
        filters_(filters),
        groups_(groups),
        output_padding_(output_padding),
        kernel_(std::move(kernel)),
        bias_(std::move(bias)) {}

  const Window& window() const { return window_; }
  int64_t in_channels() const { return in_channels_; }
  int64_t filters() const { return filters_; }
  int64_t param_count() const { return static_cast<int64_t>(kernel_.size() + bias_.size()); }

  // Checks rank and channels of an input shape (-1 allowed) and returns the output shape.
  Shape output_shape(const Shape& in, const char* layer) const {
    const int rank = window_.rank;
    if (in.size() != static_cast<size_t>(rank + 2))
      throw Error(std::string(layer) + " expects a rank-" + std::to_string(rank + 2) + " input, got " +
                  shape_to_string(in));
    int64_t channels = window_.channels_first ? in[1] : in.back();
    if (channels >= 0 && channels != in_channels_)
      throw Error(std::string(layer) + " expects " + std::to_string(in_channels_) + " input channels, got input " +
                  shape_to_string(in));
    int first_spatial = window_.channels_first ? 2 : 1;
    Shape out = in;
    out[window_.channels_first ? 1 : in.size() - 1] = filters_;
    for (int d = 0; d < rank; ++d) {
      int64_t n = in[first_spatial + d];
      if (n < 0) continue;
      int64_t len = axis_map(d, n).out;
      if (len <= 0)
        throw Error(std::string(layer) + ": input " + shape_to_string(in) +
                    " is too small for the kernel (output size would be " + std::to_string(len) + ")");
      out[first_spatial + d] = len;
    }
    return out;
  }

  void run(const ConstView& x, const MutView& y) const {
    // The layouts put the spatial axes in the last `rank` of three slots; the leading slots have
    // size 1, and so does the kernel along them.
    const int rank = window_.rank, first_slot = kMaxRank - rank;
    const SpatialLayout lx = spatial_layout(x.shape, window_.channels_first);
    const SpatialLayout ly = spatial_layout(y.shape, window_.channels_first);
    std::array<AxisMap, kMaxRank> axes;
    Dims k{1, 1, 1};
    for (int d = 0; d < rank; ++d) {
      axes[first_slot + d] = axis_map(d, lx.dims[first_slot + d]);
      k[first_slot + d] = window_.kernel[d];
    }
    const int64_t batch = x.shape[0];
    const int64_t cpg = in_channels_ / groups_, fpg = filters_ / groups_;
    std::vector<float> acc(static_cast<size_t>(filters_));
    for (int64_t b = 0; b < batch; ++b) {
      const float* xb = x.data + b * lx.batch_stride;
      float* yb = y.data + b * ly.batch_stride;
      for (int64_t o0 = 0; o0 < ly.dims[0]; ++o0)
        for (int64_t o1 = 0; o1 < ly.dims[1]; ++o1)
          for (int64_t o2 = 0; o2 < ly.dims[2]; ++o2) {
            if (bias_.empty()) std::fill(acc.begin(), acc.end(), 0.f);
            else std::copy(bias_.begin(), bias_.end(), acc.begin());
            for (int64_t k0 = 0; k0 < k[0]; ++k0) {
              int64_t i0 = axes[0].source(o0, k0);
              if (i0 < 0) continue;
              for (int64_t k1 = 0; k1 < k[1]; ++k1) {
                int64_t i1 = axes[1].source(o1, k1);
                if (i1 < 0) continue;
                for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                  int64_t i2 = axes[2].source(o2, k2);
                  if (i2 < 0) continue;
                  const float* xp = xb + i0 * lx.strides[0] + i1 * lx.strides[1] + i2 * lx.strides[2];
                  const float* w_tap = kernel_.data() + ((k0 * k[1] + k1) * k[2] + k2) * cpg * filters_;
                  for (int64_t g = 0; g < groups_; ++g)
                    for (int64_t c = 0; c < cpg; ++c) {
                      const float xv = xp[(g * cpg + c) * lx.channel_stride];
                      const float* w = w_tap + c * filters_ + g * fpg;
                      float* a = acc.data() + g * fpg;
                      for (int64_t f = 0; f < fpg; ++f) a[f] += xv * w[f];
                    }
                }
              }
            }
            float* yp = yb + o0 * ly.strides[0] + o1 * ly.strides[1] + o2 * ly.strides[2];
            for (int64_t f = 0; f < filters_; ++f) yp[f * ly.channel_stride] = acc[f];
          }
    }
  }

 private:
  // Geometry of spatial axis `d` for an input of length `in`.
  AxisMap axis_map(int d, int64_t in) const {
    AxisMap m;
    m.in = in;
    m.kernel = window_.kernel[d];
    m.stride = window_.stride[d];
    m.dilation = window_.dilation[d];
    const int64_t effective = (m.kernel - 1) * m.dilation + 1;
    if (!transposed_) {
      m.out = conv_output_length(in, m.kernel, m.stride, m.dilation,
                                 window_.padding == Padding::kValid ? "valid" : "same");
      if (window_.padding == Padding::kSame) m.offset = same_pad_front(in, m.kernel, m.stride, m.dilation);
      if (window_.padding == Padding::kCausal) m.offset = effective - 1;
      return m;
    }
    // Keras pads the stride-dilated input by (left, right) and correlates with the flipped kernel;
    // equivalently the full transposed output, (in-1)*stride + effective long, is cropped by
    // effective-1-left at the front (a negative crop pads with zeros).
    m.transposed = true;
    const int64_t s = m.stride, op = output_padding_[d];
    int64_t left = 0, right = 0;
    if (window_.padding == Padding::kValid) {
      left = effective - 1;
      right = effective - 1 + (op < 0 ? std::max(effective, s) - effective : op);
    } else {
      int64_t total = op < 0 ? s + effective - 2 : effective + effective % 2 - 2 + op;
      left = std::min(total / 2 + total % 2, effective - 1);
      right = total - left;
    }
    m.out = (in - 1) * s + left + right - effective + 2;
    m.offset = effective - 1 - left;
    return m;
  }

  Window window_;
  bool transposed_ = false;
  int64_t in_channels_ = 0, filters_ = 0, groups_ = 1;
  Dims output_padding_{-1, -1, -1};  // transposed only; -1 = Keras's None
  std::vector<float> kernel_;        // (taps..., in/groups, filters)
  std::vector<float> bias_;          // (filters) or empty
};

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
