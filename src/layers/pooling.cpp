// Pooling over 1-3 spatial axes in either data format: windowed (Max/AveragePooling), global and
// adaptive. All of them reduce a box of input cells per output cell, so they share one kernel that
// takes the box bounds per axis.
#include <array>
#include <limits>

#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// [begin, end) of the input cells each output cell reduces, per axis slot.
using Windows = std::array<std::vector<std::pair<int64_t, int64_t>>, 3>;

enum class Reduce { kMax, kMean };

// Max or mean over each window; the mean divides by the number of cells inside the input (padding
// never counts, which is what Keras's torch backend computes for "same" average pooling).
void pool_windows(const ConstView& in, const MutView& out, bool channels_first, const Windows& win, Reduce mode) {
  const SpatialLayout li = spatial_layout(in.shape, channels_first);
  const SpatialLayout lo = spatial_layout(out.shape, channels_first);
  for (int64_t b = 0; b < li.batch; ++b)
    for (int64_t c = 0; c < li.channels; ++c) {
      const float* x = in.data + b * li.batch_stride + c * li.channel_stride;
      float* y = out.data + b * lo.batch_stride + c * lo.channel_stride;
      for (int64_t o0 = 0; o0 < lo.dims[0]; ++o0)
        for (int64_t o1 = 0; o1 < lo.dims[1]; ++o1)
          for (int64_t o2 = 0; o2 < lo.dims[2]; ++o2) {
            const auto [b0, e0] = win[0][o0];
            const auto [b1, e1] = win[1][o1];
            const auto [b2, e2] = win[2][o2];
            float best = -std::numeric_limits<float>::infinity();
            double sum = 0;
            for (int64_t i0 = b0; i0 < e0; ++i0)
              for (int64_t i1 = b1; i1 < e1; ++i1)
                for (int64_t i2 = b2; i2 < e2; ++i2) {
                  float v = x[i0 * li.strides[0] + i1 * li.strides[1] + i2 * li.strides[2]];
                  if (v > best || std::isnan(v)) best = v;  // NaN wins, as in torch
                  sum += v;
                }
            const int64_t count = (e0 - b0) * (e1 - b1) * (e2 - b2);
            float& dst = y[o0 * lo.strides[0] + o1 * lo.strides[1] + o2 * lo.strides[2]];
            dst = mode == Reduce::kMax ? best : static_cast<float>(sum / static_cast<double>(count));
          }
    }
}

// Spatial dims of an input that must have `spatial` spatial axes.
std::vector<int64_t> spatial_dims(const Shape& s, size_t spatial, bool channels_first, const char* what) {
  expect_rank(s, spatial + 2, what);
  size_t first = channels_first ? 2 : 1;
  return std::vector<int64_t>(s.begin() + static_cast<std::ptrdiff_t>(first),
                              s.begin() + static_cast<std::ptrdiff_t>(first + spatial));
}

Shape with_spatial(const Shape& in, const std::vector<int64_t>& dims, bool channels_first) {
  Shape out{in[0]};
  if (channels_first) out.push_back(in[1]);
  out.insert(out.end(), dims.begin(), dims.end());
  if (!channels_first) out.push_back(in.back());
  return out;
}

Windows full_windows() { return {{{{0, 1}}, {{0, 1}}, {{0, 1}}}}; }

int64_t checked_positive(const Config& c, int64_t v, const char* key) {
  if (v < 1 || v > (int64_t{1} << 31))
    c.fail(std::string("'") + key + "' values must be between 1 and 2^31, got " + std::to_string(v));
  return v;
}

// ---- MaxPooling / AveragePooling ----------------------------------------------------------------
class WindowPooling : public Op {
 public:
  WindowPooling(const LayerSpec& spec, size_t spatial, Reduce mode) : spatial_(spatial), mode_(mode), name_(spec.class_name) {
    Config c(spec);
    // Keras 1 named the 1D window "pool_length"/"stride" and the padding "border_mode".
    if (c.has("pool_size")) pool_ = c.ints("pool_size", spatial);
    else if (spatial == 1 && c.has("pool_length")) pool_ = c.ints("pool_length", 1);
    else pool_.assign(spatial, 2);
    if (c.has("strides")) strides_ = c.ints("strides", spatial);
    else if (spatial == 1 && c.has("stride")) strides_ = c.ints("stride", 1);
    else strides_ = pool_;
    for (int64_t& p : pool_) p = checked_positive(c, p, "pool_size");
    for (int64_t& s : strides_) s = checked_positive(c, s, "strides");
    padding_ = c.str("padding", c.str("border_mode", "valid"));
    if (padding_ != "valid" && padding_ != "same") c.fail("unsupported padding '" + padding_ + "' (expected valid or same)");
    channels_first_ = c.channels_first();
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, name_.c_str());
    std::vector<int64_t> dims = spatial_dims(in[0], spatial_, channels_first_, name_.c_str());
    for (size_t a = 0; a < spatial_; ++a) {
      int64_t len = conv_output_length(dims[a], pool_[a], strides_[a], 1, padding_);
      if (dims[a] >= 0 && len < 1)
        throw Error(name_ + ": pool size " + std::to_string(pool_[a]) + " does not fit the input " +
                    shape_to_string(in[0]) + " with padding '" + padding_ + "'");
      dims[a] = len;
    }
    return {with_spatial(in[0], dims, channels_first_)};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::vector<int64_t> in_dims = spatial_dims(Shape(in[0].shape.begin(), in[0].shape.end()), spatial_, channels_first_, "");
    Windows win = full_windows();
    for (size_t a = 0; a < spatial_; ++a) {
      const int64_t len = in_dims[a];
      const int64_t front = padding_ == "same" ? same_pad_front(len, pool_[a], strides_[a], 1) : 0;
      const int64_t outs = conv_output_length(len, pool_[a], strides_[a], 1, padding_);
      auto& w = win[3 - spatial_ + a];
      w.clear();
      for (int64_t o = 0; o < outs; ++o) {
        int64_t begin = o * strides_[a] - front;
        w.emplace_back(std::max<int64_t>(begin, 0), std::min(begin + pool_[a], len));
      }
    }
    pool_windows(in[0], out[0], channels_first_, win, mode_);
  }

 private:
  size_t spatial_;
  Reduce mode_;
  std::string name_;
  std::vector<int64_t> pool_, strides_;
  std::string padding_;
  bool channels_first_ = false;
};

// ---- AdaptiveMaxPooling / AdaptiveAveragePooling --------------------------------------------------
// Output cell i of n over an axis of length L reduces [floor(i*L/n), ceil((i+1)*L/n)), as torch's
// adaptive pooling does; windows may overlap, and n > L repeats cells.
class AdaptivePooling : public Op {
 public:
  AdaptivePooling(const LayerSpec& spec, size_t spatial, Reduce mode) : spatial_(spatial), mode_(mode), name_(spec.class_name) {
    Config c(spec);
    out_size_ = c.ints("output_size", spatial);
    for (int64_t& n : out_size_) n = checked_positive(c, n, "output_size");
    channels_first_ = c.channels_first();
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, name_.c_str());
    for (int64_t d : spatial_dims(in[0], spatial_, channels_first_, name_.c_str()))
      if (d == 0) throw Error(name_ + " cannot pool an empty axis of input " + shape_to_string(in[0]));
    return {with_spatial(in[0], out_size_, channels_first_)};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::vector<int64_t> in_dims = spatial_dims(Shape(in[0].shape.begin(), in[0].shape.end()), spatial_, channels_first_, "");
    Windows win = full_windows();
    for (size_t a = 0; a < spatial_; ++a) {
      const int64_t len = in_dims[a], n = out_size_[a];
      auto& w = win[3 - spatial_ + a];
      w.clear();
      for (int64_t i = 0; i < n; ++i) w.emplace_back(i * len / n, ((i + 1) * len + n - 1) / n);
    }
    pool_windows(in[0], out[0], channels_first_, win, mode_);
  }

 private:
  size_t spatial_;
  Reduce mode_;
  std::string name_;
  std::vector<int64_t> out_size_;
  bool channels_first_ = false;
};

// ---- GlobalMaxPooling / GlobalAveragePooling ----------------------------------------------------
class GlobalPooling : public Op {
 public:
  GlobalPooling(const LayerSpec& spec, size_t spatial, Reduce mode) : spatial_(spatial), mode_(mode), name_(spec.class_name) {
    Config c(spec);
    keepdims_ = c.flag("keepdims", false);
    channels_first_ = c.channels_first();
  }

  // GlobalAveragePooling1D takes a (batch, steps) mask: masked steps are left out of the mean.
  std::shared_ptr<const Op> bind(const Call& call) const override {
    std::vector<int> masks = call.tensors_with_role("mask");
    if (masks.empty()) return Op::bind(call);
    if (!(spatial_ == 1 && mode_ == Reduce::kMean))
      throw Error(call.where + ": " + name_ + " does not take a mask");
    if (masks.size() != 1 || call.roles.size() != 2 || call.positional_count() != 1)
      throw Error(call.where + ": " + name_ + " expects one input tensor and one mask");
    auto bound = std::make_shared<GlobalPooling>(*this);
    bound->mask_index_ = masks[0];
    return bound;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, mask_index_ < 0 ? 1 : 2, name_.c_str());
    const Shape& x = in[data_index()];
    std::vector<int64_t> dims = spatial_dims(x, spatial_, channels_first_, name_.c_str());
    if (mode_ == Reduce::kMax)
      for (int64_t d : dims)
        if (d == 0) throw Error(name_ + " cannot take the maximum over an empty axis of input " + shape_to_string(x));
    if (mask_index_ >= 0) {
      const Shape& m = in[mask_index_];
      bool ok = m.size() == 2 && dims_agree(m[0], x[0]) && dims_agree(m[1], dims[0]);
      if (!ok) throw Error(name_ + ": mask " + shape_to_string(m) + " does not match input " + shape_to_string(x));
    }
    const int64_t channels = channels_first_ ? x[1] : x.back();
    if (!keepdims_) return {{x[0], channels}};
    return {with_spatial(x, std::vector<int64_t>(spatial_, 1), channels_first_)};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const ConstView& x = in[data_index()];
    // Lay the output out as the keepdims shape: the same values in the same order either way.
    Shape keep = with_spatial(Shape(x.shape.begin(), x.shape.end()), std::vector<int64_t>(spatial_, 1), channels_first_);
    MutView y{out[0].data, keep};
    if (mask_index_ >= 0) return run_masked(x, in[mask_index_].data, y);
    std::vector<int64_t> dims = spatial_dims(Shape(x.shape.begin(), x.shape.end()), spatial_, channels_first_, "");
    Windows win = full_windows();
    for (size_t a = 0; a < spatial_; ++a) win[3 - spatial_ + a] = {{0, dims[a]}};
    pool_windows(x, y, channels_first_, win, mode_);
  }

 private:
  int data_index() const { return mask_index_ == 0 ? 1 : 0; }

  // Sum of unmasked steps over their count (0/0 gives NaN for a fully masked row, as in Keras).
  void run_masked(const ConstView& x, const float* mask, const MutView& y) const {
    const SpatialLayout lx = spatial_layout(x.shape, channels_first_);
    const int64_t steps = lx.dims[2];
    for (int64_t b = 0; b < lx.batch; ++b) {
      const float* m = mask + b * steps;
      double kept = 0;
      for (int64_t t = 0; t < steps; ++t) kept += m[t] != 0.f;
      for (int64_t c = 0; c < lx.channels; ++c) {
        const float* xc = x.data + b * lx.batch_stride + c * lx.channel_stride;
        double sum = 0;
        for (int64_t t = 0; t < steps; ++t)
          if (m[t] != 0.f) sum += xc[t * lx.strides[2]];
        y.data[b * lx.channels + c] = static_cast<float>(sum / kept);
      }
    }
  }

  size_t spatial_;
  Reduce mode_;
  std::string name_;
  bool keepdims_ = false;
  bool channels_first_ = false;
  int mask_index_ = -1;
};

template <class T>
LayerFactory factory(size_t spatial, Reduce mode) {
  return [spatial, mode](const LayerSpec& s) { return std::make_shared<T>(s, spatial, mode); };
}

}  // namespace

void register_pooling(const AddLayer& add) {
  for (size_t n = 1; n <= 3; ++n) {
    const std::string d = std::to_string(n) + "D";
    for (const std::string& name : {"MaxPooling" + d, "MaxPool" + d})
      add(name, factory<WindowPooling>(n, Reduce::kMax));
    for (const std::string& name : {"AveragePooling" + d, "AvgPool" + d})
      add(name, factory<WindowPooling>(n, Reduce::kMean));
    for (const std::string& name : {"GlobalMaxPooling" + d, "GlobalMaxPool" + d})
      add(name, factory<GlobalPooling>(n, Reduce::kMax));
    for (const std::string& name : {"GlobalAveragePooling" + d, "GlobalAvgPool" + d})
      add(name, factory<GlobalPooling>(n, Reduce::kMean));
    add("AdaptiveMaxPooling" + d, factory<AdaptivePooling>(n, Reduce::kMax));
    add("AdaptiveAveragePooling" + d, factory<AdaptivePooling>(n, Reduce::kMean));
  }
}

}  // namespace kerasrt::layers
