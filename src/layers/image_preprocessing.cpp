// Deterministic image preprocessing layers: Resizing, CenterCrop, AutoContrast, Equalization and
// ContrastLimitedAdaptiveHistogramEqualization, computed in float32 in the order the torch backend
// of Keras uses, so that roundings agree.
#include <algorithm>
#include <climits>
#include <cmath>

#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

constexpr int64_t kMaxSide = int64_t{1} << 20;  // sanity bound on configured output sizes

// float -> int32 as x86 (and so torch on CPU) converts: NaN and out-of-range values become INT_MIN.
int32_t to_int32_like_cpu(float v) {
  if (!(v >= -2147483648.f && v < 2147483648.f)) return INT_MIN;
  return static_cast<int32_t>(v);
}

// A rank-3 image or rank-4 batch in either data format; a rank-3 image is a batch of one.
struct Images {
  int64_t n = 1, h = 0, w = 0, c = 0;
  bool channels_first = false;
  int64_t at(int64_t b, int64_t y, int64_t x, int64_t ch) const {
    return channels_first ? ((b * c + ch) * h + y) * w + x : ((b * h + y) * w + x) * c + ch;
  }
  int64_t size() const { return n * h * w * c; }
};

void expect_image_rank(const Shape& s, const std::string& where) {
  if (s.size() != 3 && s.size() != 4)
    throw Error(where + ": expects a rank-3 image or a rank-4 batch of images, got " + shape_to_string(s));
}

Images images_of(std::span<const int64_t> s, bool channels_first) {
  Images im;
  im.channels_first = channels_first;
  size_t o = s.size() == 4 ? 1 : 0;
  if (o) im.n = s[0];
  if (channels_first) {
    im.c = s[o];
    im.h = s[o + 1];
    im.w = s[o + 2];
  } else {
    im.h = s[o];
    im.w = s[o + 1];
    im.c = s[o + 2];
  }
  return im;
}

// Input shape with its height and width replaced.
Shape with_size(const Shape& in, bool channels_first, int64_t h, int64_t w) {
  Shape out = in;
  size_t hy = in.size() - (channels_first ? 2 : 3);
  out[hy] = h;
  out[hy + 1] = w;
  return out;
}

std::pair<double, double> sorted_range(const Config& c, const char* key) {
  if (!c.has(key)) return {0.0, 255.0};
  const Json& v = c.raw(key);
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
    c.fail(std::string("'") + key + "' should be a list of two numbers, got " + v.dump());
  double a = v[0].get<double>(), b = v[1].get<double>();
  return {std::min(a, b), std::max(a, b)};
}

// Keras's _transform_value_range: a no-op between equal ranges, else through [0, 1] in float32.
void transform_value_range(std::vector<float>& x, std::pair<double, double> from, std::pair<double, double> to) {
  if (from == to) return;
  const float from_lo = static_cast<float>(from.first), from_span = static_cast<float>(from.second) - from_lo;
  const float to_lo = static_cast<float>(to.first), to_span = static_cast<float>(to.second) - to_lo;
  for (float& v : x) v = (v - from_lo) / from_span * to_span + to_lo;
}

// ---- resizing (torch's F.interpolate with half-pixel centres) -------------------------------------
enum class Interp { kNearest, kBilinear, kBicubic };

// For each output position along one axis, the source indices and weights it blends.
struct AxisTaps {
  std::vector<std::vector<std::pair<int64_t, float>>> taps;
};

float cubic_near(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }   // |x| <= 1
float cubic_far(float x, float a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }  // 1 < |x| < 2

AxisTaps plain_taps(int64_t in, int64_t out, Interp interp) {
  AxisTaps t;
  t.taps.resize(static_cast<size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    auto& taps = t.taps[o];
    if (interp == Interp::kNearest) {  // "nearest-exact": floor((o + 0.5) * scale)
      float pos = static_cast<float>((static_cast<double>(o) + 0.5) * scale);
      taps.push_back({std::min(static_cast<int64_t>(std::floor(pos)), in - 1), 1.f});
    } else if (interp == Interp::kBilinear) {
      float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
      if (src < 0.f) src = 0.f;
      int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
      float l1 = std::min(std::max(src - static_cast<float>(i0), 0.f), 1.f);
      int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
      taps.push_back({i0, 1.f - l1});
      taps.push_back({i1, l1});
    } else {  // bicubic, A = -0.75, border pixels repeated
      float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
      int64_t i0 = static_cast<int64_t>(std::floor(src));
      float f = src - static_cast<float>(i0);
      const float a = -0.75f;
      const float g = 1.f - f;
      float w[4] = {cubic_far(f + 1.f, a), cubic_near(f, a), cubic_near(g, a), cubic_far(g + 1.f, a)};
      for (int k = 0; k < 4; ++k) taps.push_back({std::clamp<int64_t>(i0 - 1 + k, 0, in - 1), w[k]});
    }
  }
  return t;
}

// Antialiased taps (torch's _upsample_*_aa): the filter is stretched by the scale when downsampling
// and the weights of each output are normalised to sum to one.
AxisTaps antialias_taps(int64_t in, int64_t out, Interp interp) {
  AxisTaps t;
  t.taps.resize(static_cast<size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const float interp_size = interp == Interp::kBilinear ? 2.f : 4.f;
  const float support = scale >= 1.f ? interp_size * 0.5f * scale : interp_size * 0.5f;
  const float invscale = scale >= 1.f ? 1.f / scale : 1.f;
  auto filter = [interp](float x) {
    x = std::fabs(x);
    if (interp == Interp::kBilinear) return x < 1.f ? 1.f - x : 0.f;
    const float a = -0.5f;
    if (x < 1.f) return cubic_near(x, a);
    if (x < 2.f) return cubic_far(x, a);
    return 0.f;
  };
  for (int64_t o = 0; o < out; ++o) {
    float center = scale * (static_cast<float>(o) + 0.5f);
    int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5f), 0);
    int64_t count = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5f), in) - lo;
    std::vector<float> w;
    float total = 0.f;
    for (int64_t j = 0; j < count; ++j) {
      w.push_back(filter((static_cast<float>(j + lo) - center + 0.5f) * invscale));
      total += w.back();
    }
    for (int64_t j = 0; j < count; ++j) t.taps[o].push_back({lo + j, total != 0.f ? w[j] / total : w[j]});
  }
  return t;
}

// Resizes every image and channel of `src` (layout `si`) into `dst` (layout `di`, same n and c).
void resize_images(const float* src, const Images& si, float* dst, const Images& di, Interp interp, bool antialias) {
  if (antialias && interp != Interp::kNearest) {
    // Separable, width first then height, each pass skipped when that size is unchanged.
    Images mid = si;
    mid.w = di.w;
    std::vector<float> tmp(static_cast<size_t>(mid.size()));
    const float* cur = src;
    if (si.w != di.w) {
      AxisTaps tx = antialias_taps(si.w, di.w, interp);
      for (int64_t b = 0; b < si.n; ++b)
        for (int64_t ch = 0; ch < si.c; ++ch)
          for (int64_t y = 0; y < si.h; ++y)
            for (int64_t x = 0; x < di.w; ++x) {
              float acc = 0.f;
              for (auto [ix, wx] : tx.taps[x]) acc += src[si.at(b, y, ix, ch)] * wx;
              tmp[mid.at(b, y, x, ch)] = acc;
            }
      cur = tmp.data();
    } else {
      std::copy(src, src + si.size(), tmp.begin());
      cur = tmp.data();
    }
    AxisTaps ty = si.h != di.h ? antialias_taps(si.h, di.h, interp) : plain_taps(si.h, di.h, Interp::kNearest);
    for (int64_t b = 0; b < di.n; ++b)
      for (int64_t ch = 0; ch < di.c; ++ch)
        for (int64_t y = 0; y < di.h; ++y)
          for (int64_t x = 0; x < di.w; ++x) {
            float acc = 0.f;
            for (auto [iy, wy] : ty.taps[y]) acc += cur[mid.at(b, iy, x, ch)] * wy;
            dst[di.at(b, y, x, ch)] = acc;
          }
    return;
  }
  AxisTaps ty = plain_taps(si.h, di.h, interp), tx = plain_taps(si.w, di.w, interp);
  for (int64_t b = 0; b < di.n; ++b)
    for (int64_t ch = 0; ch < di.c; ++ch)
      for (int64_t y = 0; y < di.h; ++y)
        for (int64_t x = 0; x < di.w; ++x) {
          float acc = 0.f;
          for (auto [iy, wy] : ty.taps[y]) {
            float row = 0.f;
            for (auto [ix, wx] : tx.taps[x]) row += wx * src[si.at(b, iy, ix, ch)];
            acc += wy * row;
          }
          dst[di.at(b, y, x, ch)] = acc;
        }
}

// The centred box with the target's aspect ratio (Keras's crop_to_aspect_ratio / smart_resize).
struct Box {
  int64_t y0, x0, h, w;
};
Box aspect_crop_box(int64_t h, int64_t w, int64_t th, int64_t tw) {
  int64_t ch = static_cast<int64_t>(static_cast<double>(w * th) / static_cast<double>(tw));
  ch = std::max<int64_t>(std::min(h, ch), 1);
  int64_t cw = static_cast<int64_t>(static_cast<double>(h * tw) / static_cast<double>(th));
  cw = std::max<int64_t>(std::min(w, cw), 1);
  return {static_cast<int64_t>(static_cast<double>(h - ch) / 2), static_cast<int64_t>(static_cast<double>(w - cw) / 2),
          ch, cw};
}

// Copies a box of every image into a new buffer.
std::vector<float> crop_images(const float* src, const Images& si, const Box& box, Images& out) {
  out = si;
  out.h = box.h;
  out.w = box.w;
  std::vector<float> buf(static_cast<size_t>(out.size()));
  for (int64_t b = 0; b < si.n; ++b)
    for (int64_t ch = 0; ch < si.c; ++ch)
      for (int64_t y = 0; y < box.h; ++y)
        for (int64_t x = 0; x < box.w; ++x) buf[out.at(b, y, x, ch)] = src[si.at(b, box.y0 + y, box.x0 + x, ch)];
  return buf;
}

// The output size Resizing and CenterCrop are configured with.
void read_target_size(const Config& c, int64_t& height, int64_t& width) {
  height = c.integer("height");
  width = c.integer("width");
  if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide)
    c.fail("'height' and 'width' must be in [1, " + std::to_string(kMaxSide) + "]");
}

class Resizing : public Op {
 public:
  explicit Resizing(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    read_target_size(c, height_, width_);
    channels_first_ = c.channels_first();
    std::string interp = c.str("interpolation", "bilinear");
    if (interp == "bilinear") interp_ = Interp::kBilinear;
    else if (interp == "nearest") interp_ = Interp::kNearest;
    else if (interp == "bicubic") interp_ = Interp::kBicubic;
    else c.fail("unsupported interpolation '" + interp + "' (the torch backend of Keras has bilinear, nearest, bicubic)");
    crop_ = c.flag("crop_to_aspect_ratio", false);
    pad_ = c.flag("pad_to_aspect_ratio", false);
    if (crop_ && pad_) c.fail("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be true");
    if (c.str("fill_mode", "constant") != "constant") c.fail("only fill_mode 'constant' is supported");
    fill_value_ = static_cast<float>(c.number("fill_value", 0.0));
    antialias_ = c.flag("antialias", false) && interp_ != Interp::kNearest;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Resizing");
    expect_image_rank(in[0], where_);
    return {with_size(in[0], channels_first_, height_, width_)};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    Images si = images_of(in[0].shape, channels_first_);
    Images di = images_of(out[0].shape, channels_first_);
    if (si.h < 1 || si.w < 1) throw Error(where_ + ": cannot resize an empty image");
    std::vector<float> staged;
    Images st;
    const float* src = in[0].data;
    if (crop_) {
      staged = crop_images(src, si, aspect_crop_box(si.h, si.w, height_, width_), st);
      src = staged.data();
      si = st;
    } else if (pad_) {
      staged = pad_to_aspect(src, si, st);
      src = staged.data();
      si = st;
    }
    resize_images(src, si, out[0].data, di, interp_, antialias_);
  }

 private:
  // Fill bands of equal size on both sides of the short dimension (Keras's pad_to_aspect_ratio).
  std::vector<float> pad_to_aspect(const float* src, const Images& si, Images& out) const {
    int64_t pad_h = std::max(si.h, static_cast<int64_t>(static_cast<double>(si.w * height_) / width_));
    int64_t pad_w = std::max(si.w, static_cast<int64_t>(static_cast<double>(si.h * width_) / height_));
    int64_t top = static_cast<int64_t>(static_cast<double>(pad_h - si.h) / 2);
    int64_t left = static_cast<int64_t>(static_cast<double>(pad_w - si.w) / 2);
    out = si;
    out.h = si.h + 2 * top;
    out.w = si.w + 2 * left;
    std::vector<float> buf(static_cast<size_t>(out.size()), fill_value_);
    for (int64_t b = 0; b < si.n; ++b)
      for (int64_t ch = 0; ch < si.c; ++ch)
        for (int64_t y = 0; y < si.h; ++y)
          for (int64_t x = 0; x < si.w; ++x) buf[out.at(b, y + top, x + left, ch)] = src[si.at(b, y, x, ch)];
    return buf;
  }

  std::string where_;
  int64_t height_ = 0, width_ = 0;
  bool channels_first_ = false, crop_ = false, pad_ = false, antialias_ = false;
  Interp interp_ = Interp::kBilinear;
  float fill_value_ = 0.f;
};

// CenterCrop: the centred height x width window; an image smaller than that in either dimension is
// cropped to the target's aspect ratio and resized bilinearly instead (Keras's smart_resize).
class CenterCrop : public Op {
 public:
  explicit CenterCrop(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    read_target_size(c, height_, width_);
    channels_first_ = c.channels_first();
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "CenterCrop");
    expect_image_rank(in[0], where_);
    return {with_size(in[0], channels_first_, height_, width_)};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    Images si = images_of(in[0].shape, channels_first_);
    Images di = images_of(out[0].shape, channels_first_);
    if (si.h < 1 || si.w < 1) throw Error(where_ + ": cannot crop an empty image");
    Images cropped;
    if (si.h >= height_ && si.w >= width_) {
      Box box{(si.h - height_) / 2, (si.w - width_) / 2, height_, width_};
      std::vector<float> buf = crop_images(in[0].data, si, box, cropped);
      std::copy(buf.begin(), buf.end(), out[0].data);
      return;
    }
    std::vector<float> buf = crop_images(in[0].data, si, aspect_crop_box(si.h, si.w, height_, width_), cropped);
    resize_images(buf.data(), cropped, out[0].data, di, Interp::kBilinear, false);
  }

 private:
  std::string where_;
  int64_t height_ = 0, width_ = 0;
  bool channels_first_ = false;
};

// ---- AutoContrast -------------------------------------------------------------------------------
// Stretches each group to [0, 255] (in value_range units). Keras reduces over axes 1 and 2 of the
// batch whatever the data format (per image and channel for channels_last); groups that come out
// NaN (constant or containing NaN) keep their input values.
class AutoContrast : public Op {
 public:
  explicit AutoContrast(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    range_ = sorted_range(c, "value_range");
    if (!(range_.second > range_.first)) c.fail("'value_range' must span a positive interval");
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "AutoContrast");
    expect_image_rank(in[0], where_);
    return {in[0]};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const auto& s = in[0].shape;
    size_t o = s.size() == 4 ? 1 : 0;
    int64_t n = o ? s[0] : 1, d1 = s[o], d2 = s[o + 1], d3 = s[o + 2];
    std::vector<float> x(in[0].data, in[0].data + in[0].size());
    transform_value_range(x, range_, {0.0, 255.0});
    for (int64_t b = 0; b < n; ++b)
      for (int64_t k = 0; k < d3; ++k) {
        auto idx = [&](int64_t i, int64_t j) { return ((b * d1 + i) * d2 + j) * d3 + k; };
        float low = INFINITY, high = -INFINITY;
        bool nan = false;
        for (int64_t i = 0; i < d1; ++i)
          for (int64_t j = 0; j < d2; ++j) {
            float v = x[idx(i, j)];
            nan |= std::isnan(v);
            low = std::min(low, v);
            high = std::max(high, v);
          }
        if (nan) low = high = NAN;
        const float scale = 255.f / (high - low), offset = -low * scale;
        for (int64_t i = 0; i < d1; ++i)
          for (int64_t j = 0; j < d2; ++j) {
            float& v = x[idx(i, j)];
            v = v * scale + offset;
            if (v < 0.f) v = 0.f;
            else if (v > 255.f) v = 255.f;
          }
      }
    transform_value_range(x, {0.0, 255.0}, range_);
    for (size_t i = 0; i < x.size(); ++i) out[0].data[i] = std::isnan(x[i]) ? in[0].data[i] : x[i];
  }

 private:
  std::string where_;
  std::pair<double, double> range_;
};

// ---- Equalization -------------------------------------------------------------------------------
// Histogram equalisation per channel, with one histogram over the whole batch (Keras slices
// images[..., i]). It acts only in training mode; at inference it returns its input.
class Equalization : public Op {
 public:
  explicit Equalization(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    bins_ = c.integer("bins", 256);
    if (bins_ < 1 || bins_ > (1 << 20)) c.fail("'bins' must be in [1, 2^20]");
    range_ = sorted_range(c, "value_range");
    if (!(range_.second > range_.first)) c.fail("'value_range' must span a positive interval");
    channels_first_ = c.channels_first();
  }

  std::shared_ptr<const Op> bind(const Call& call) const override {
    Op::bind(call);
    auto copy = std::make_shared<Equalization>(*this);
    copy->training_ = call_wants_training(call);
    return copy;
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Equalization");
    expect_image_rank(in[0], where_);
    return {in[0]};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    if (!training_) {
      std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
      return;
    }
    Images im = images_of(in[0].shape, channels_first_);
    std::vector<float> channel(static_cast<size_t>(im.n * im.h * im.w));
    for (int64_t ch = 0; ch < im.c; ++ch) {
      size_t k = 0;
      for (int64_t b = 0; b < im.n; ++b)
        for (int64_t y = 0; y < im.h; ++y)
          for (int64_t x = 0; x < im.w; ++x) channel[k++] = in[0].data[im.at(b, y, x, ch)];
      equalize(channel);
      k = 0;
      for (int64_t b = 0; b < im.n; ++b)
        for (int64_t y = 0; y < im.h; ++y)
          for (int64_t x = 0; x < im.w; ++x) out[0].data[im.at(b, y, x, ch)] = channel[k++];
    }
  }

 private:
  // Keras's _scale_values: python-double scale and offset, applied in float32.
  static void scale_values(std::vector<float>& v, std::pair<double, double> from, std::pair<double, double> to) {
    double scale = (to.second - to.first) / (from.second - from.first);
    double offset = to.first - from.first * scale;
    const float fs = static_cast<float>(scale), fo = static_cast<float>(offset);
    for (float& x : v) x = x * fs + fo;
  }

  void equalize(std::vector<float>& v) const {
    scale_values(v, range_, {0.0, 255.0});
    const float top = static_cast<float>(bins_ - 1);
    std::vector<int64_t> hist(static_cast<size_t>(bins_), 0);
    for (float x : v) {
      int64_t i = to_int32_like_cpu(x * top / 255.f);
      hist[std::clamp<int64_t>(i, 0, bins_ - 1)] += 1;
    }
    int64_t nonzero = std::count_if(hist.begin(), hist.end(), [](int64_t h) { return h != 0; });
    if (nonzero > 1) {
      std::vector<int64_t> cdf(hist.size());
      int64_t run = 0, cdf_min = -1;
      for (size_t i = 0; i < hist.size(); ++i) {
        run += hist[i];
        cdf[i] = run;
        if (cdf_min < 0 && run != 0) cdf_min = run;
      }
      int64_t denom = cdf.back() - cdf_min;
      if (denom == 0) denom = 1;
      std::vector<float> lut(hist.size());
      for (size_t i = 0; i < hist.size(); ++i) {
        float l = std::nearbyint(static_cast<float>((cdf[i] - cdf_min) * 255) / static_cast<float>(denom));
        lut[i] = std::clamp(l, 0.f, 255.f);
      }
      for (float& x : v) {
        float pos = x / 255.f * top;
        pos = std::isnan(pos) ? 0.f : std::clamp(pos, 0.f, top);
        x = lut[static_cast<size_t>(pos)];
      }
    }
    scale_values(v, {0.0, 255.0}, range_);
  }

  std::string where_;
  int64_t bins_ = 256;
  std::pair<double, double> range_;
  bool channels_first_ = false;
  bool training_ = false;
};

// ---- ContrastLimitedAdaptiveHistogramEqualization -----------------------------------------------
// Keras's CLAHE: the image (padded symmetrically at the bottom/right to whole tiles) is split into a
// grid of tiles; each tile/channel gets a clipped 256-bin histogram and a normalised CDF; a pixel
// blends the CDFs of the four nearest tile centres bilinearly.
class Clahe : public Op {
 public:
  explicit Clahe(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    if (c.has("value_range")) {
      const Json& v = c.raw("value_range");
      if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
        c.fail("'value_range' should be a list of two numbers");
      range_ = {v[0].get<double>(), v[1].get<double>()};  // Keras keeps the order given
      if (range_.first == range_.second) c.fail("'value_range' must span a non-empty interval");
    }
    clip_limit_ = c.number("clip_limit", 4.0);
    std::vector<int64_t> grid = c.ints("tile_grid_size", 2, 8);
    grid_h_ = grid[0];
    grid_w_ = grid[1];
    if (grid_h_ < 1 || grid_w_ < 1 || grid_h_ > 4096 || grid_w_ > 4096)
      c.fail("'tile_grid_size' must be in [1, 4096]");
    channels_first_ = c.channels_first();
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "ContrastLimitedAdaptiveHistogramEqualization");
    expect_image_rank(in[0], where_);
    return {in[0]};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    Images im = images_of(in[0].shape, channels_first_);
    const int64_t n = im.n, h = im.h, w = im.w, c = im.c;
    if (h < 1 || w < 1) throw Error(where_ + ": cannot equalise an empty image");
    Images nhwc{n, h, w, c, false};
    std::vector<float> x(static_cast<size_t>(im.size()));
    for (int64_t b = 0; b < n; ++b)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx)
          for (int64_t ch = 0; ch < c; ++ch) x[nhwc.at(b, y, xx, ch)] = in[0].data[im.at(b, y, xx, ch)];
    transform_value_range(x, range_, {0.0, 255.0});

    const int64_t tile_h = (h + grid_h_ - 1) / grid_h_, tile_w = (w + grid_w_ - 1) / grid_w_;
    const int64_t hp = tile_h * grid_h_, wp = tile_w * grid_w_;
    // numpy "symmetric" padding (edge repeated, periodic beyond twice the size).
    auto mirror = [](int64_t p, int64_t size) {
      int64_t m = p % (2 * size);
      return m < size ? m : 2 * size - 1 - m;
    };
    auto pixel = [&](int64_t b, int64_t y, int64_t xx, int64_t ch) {
      return x[nhwc.at(b, mirror(y, h), mirror(xx, w), ch)];
    };

    // Normalised CDF per (b, tile row, tile col, channel), 256 entries each.
    std::vector<float> cdfs(static_cast<size_t>(n * grid_h_ * grid_w_ * c * 256));
    auto cdf_at = [&](int64_t b, int64_t ty, int64_t tx, int64_t ch) {
      return cdfs.data() + (((b * grid_h_ + ty) * grid_w_ + tx) * c + ch) * 256;
    };
    const int64_t tile_pixels = tile_h * tile_w;
    std::vector<int64_t> hist(256);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ty = 0; ty < grid_h_; ++ty)
        for (int64_t tx = 0; tx < grid_w_; ++tx)
          for (int64_t ch = 0; ch < c; ++ch) {
            std::fill(hist.begin(), hist.end(), 0);
            for (int64_t y = 0; y < tile_h; ++y)
              for (int64_t xx = 0; xx < tile_w; ++xx) {
                int64_t v = to_int32_like_cpu(pixel(b, ty * tile_h + y, tx * tile_w + xx, ch));
                hist[std::clamp<int64_t>(v, 0, 255)] += 1;
              }
            tile_cdf(hist, tile_pixels, cdf_at(b, ty, tx, ch));
          }

    // Tile-centre coordinates of each padded row/column, in a grid with one repeated tile on each side.
    auto grid_coords = [](int64_t len, int64_t tile, int64_t grid, std::vector<int64_t>& i0, std::vector<int64_t>& i1,
                          std::vector<float>& frac) {
      for (int64_t p = 0; p < len; ++p) {
        float g = (static_cast<float>(p) - static_cast<float>(tile / 2.0)) / static_cast<float>(tile) + 1.f;
        float f0 = std::floor(g);
        frac.push_back(g - f0);
        i0.push_back(static_cast<int64_t>(std::clamp(f0, 0.f, static_cast<float>(grid + 1))));
        i1.push_back(static_cast<int64_t>(std::clamp(f0 + 1.f, 0.f, static_cast<float>(grid + 1))));
      }
    };
    std::vector<int64_t> y0, y1, x0, x1;
    std::vector<float> wy, wx;
    grid_coords(hp, tile_h, grid_h_, y0, y1, wy);
    grid_coords(wp, tile_w, grid_w_, x0, x1, wx);
    // Padded grid index g maps to tile clamp(g - 1).
    auto cdf_padded = [&](int64_t b, int64_t gy, int64_t gx, int64_t ch, int64_t bin) {
      int64_t ty = std::clamp<int64_t>(gy - 1, 0, grid_h_ - 1), tx = std::clamp<int64_t>(gx - 1, 0, grid_w_ - 1);
      return cdf_at(b, ty, tx, ch)[bin];
    };

    std::vector<float> result(x.size());
    for (int64_t b = 0; b < n; ++b)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx)
          for (int64_t ch = 0; ch < c; ++ch) {
            float v = x[nhwc.at(b, y, xx, ch)];
            float clipped = std::isnan(v) ? 0.f : std::clamp(v, 0.f, 255.f);
            int64_t bin = static_cast<int64_t>(clipped);
            float nw = cdf_padded(b, y0[y], x0[xx], ch, bin), ne = cdf_padded(b, y0[y], x1[xx], ch, bin);
            float sw = cdf_padded(b, y1[y], x0[xx], ch, bin), se = cdf_padded(b, y1[y], x1[xx], ch, bin);
            float top = nw * (1.f - wx[xx]) + ne * wx[xx];
            float bottom = sw * (1.f - wx[xx]) + se * wx[xx];
            result[nhwc.at(b, y, xx, ch)] = top * (1.f - wy[y]) + bottom * wy[y];
          }
    transform_value_range(result, {0.0, 255.0}, range_);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx)
          for (int64_t ch = 0; ch < c; ++ch) out[0].data[im.at(b, y, xx, ch)] = result[nhwc.at(b, y, xx, ch)];
  }

 private:
  // Clip (Keras truncates the limit to the integer histogram's dtype), redistribute the excess
  // evenly, accumulate (in double, like torch's CPU cumsum) and normalise to [0, 255].
  void tile_cdf(const std::vector<int64_t>& hist, int64_t tile_pixels, float* cdf_norm) const {
    float cdf[256];
    if (clip_limit_ > 0) {
      int64_t limit = static_cast<int64_t>(clip_limit_ * static_cast<double>(tile_pixels) / 256.0);
      int64_t excess = 0;
      for (int64_t v : hist) excess += v - std::clamp<int64_t>(v, 0, limit);
      const float redist = static_cast<float>(excess) / 256.f;
      double acc = 0;
      for (int i = 0; i < 256; ++i) {
        acc += static_cast<float>(std::clamp<int64_t>(hist[i], 0, limit)) + redist;
        cdf[i] = static_cast<float>(acc);
      }
    } else {
      int64_t acc = 0;
      for (int i = 0; i < 256; ++i) {
        acc += hist[i];
        cdf[i] = static_cast<float>(acc);
      }
    }
    float cdf_min = *std::min_element(cdf, cdf + 256);
    float denom = static_cast<float>(tile_pixels) - cdf_min;
    if (denom == 0.f) denom = 1.f;
    for (int i = 0; i < 256; ++i) cdf_norm[i] = std::clamp((cdf[i] - cdf_min) * 255.f / denom, 0.f, 255.f);
  }

  std::string where_;
  std::pair<double, double> range_{0.0, 255.0};
  double clip_limit_ = 4.0;
  int64_t grid_h_ = 8, grid_w_ = 8;
  bool channels_first_ = false;
};

}  // namespace

void register_image_preprocessing(const AddLayer& add) {
  add("Resizing", [](const LayerSpec& s) { return std::make_shared<Resizing>(s); });
  add("CenterCrop", [](const LayerSpec& s) { return std::make_shared<CenterCrop>(s); });
  add("AutoContrast", [](const LayerSpec& s) { return std::make_shared<AutoContrast>(s); });
  add("Equalization", [](const LayerSpec& s) { return std::make_shared<Equalization>(s); });
  add("ContrastLimitedAdaptiveHistogramEqualization", [](const LayerSpec& s) { return std::make_shared<Clahe>(s); });
}

}  // namespace kerasrt::layers
