// Reference resize, auto_contrast, equalize and clahe: computed in float32 (resize: float64 when the
// node asks) in the order the torch backend of Keras uses, so that roundings agree. Intermediate
// arrays live in scratch.
#include <algorithm>
#include <climits>
#include <cmath>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

using ir::Interpolation;

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

Images images_of(std::span<const int64_t> s, bool channels_first) {
  Images im;
  im.channels_first = channels_first;
  const size_t o = s.size() == 4 ? 1 : 0;
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

// ---- resize ---------------------------------------------------------------------------------------
// The image a resize reads: a window of the input (crop), or the input inside bands of fill_value (pad).
struct Source {
  const float* data;
  Images in;             // the input's layout
  int64_t y0 = 0, x0 = 0;  // window origin in the input (negative: padding bands)
  int64_t h = 0, w = 0;    // the staged image's size
  float fill = 0.f;
  float at(int64_t b, int64_t y, int64_t x, int64_t ch) const {
    const int64_t iy = y + y0, ix = x + x0;
    if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) return fill;
    return data[in.at(b, iy, ix, ch)];
  }
};

// The centred box with the target's aspect ratio (Keras's crop_to_aspect_ratio / smart_resize).
void aspect_crop(Source& s, int64_t th, int64_t tw) {
  const int64_t h = s.in.h, w = s.in.w;
  int64_t ch = static_cast<int64_t>(static_cast<double>(w * th) / static_cast<double>(tw));
  ch = std::max<int64_t>(std::min(h, ch), 1);
  int64_t cw = static_cast<int64_t>(static_cast<double>(h * tw) / static_cast<double>(th));
  cw = std::max<int64_t>(std::min(w, cw), 1);
  s.y0 = static_cast<int64_t>(static_cast<double>(h - ch) / 2);
  s.x0 = static_cast<int64_t>(static_cast<double>(w - cw) / 2);
  s.h = ch;
  s.w = cw;
}

// Fill bands of equal size on both sides of the short dimension (Keras's pad_to_aspect_ratio).
void aspect_pad(Source& s, int64_t th, int64_t tw) {
  const int64_t h = s.in.h, w = s.in.w;
  const int64_t pad_h = std::max(h, static_cast<int64_t>(static_cast<double>(w * th) / tw));
  const int64_t pad_w = std::max(w, static_cast<int64_t>(static_cast<double>(h * tw) / th));
  const int64_t top = static_cast<int64_t>(static_cast<double>(pad_h - h) / 2);
  const int64_t left = static_cast<int64_t>(static_cast<double>(pad_w - w) / 2);
  s.y0 = -top;
  s.x0 = -left;
  s.h = h + 2 * top;
  s.w = w + 2 * left;
}

// What the resize of this node reads, and whether it is a plain copy (a center crop that fits).
Source staged_source(const ir::ResizeAttrs& a, const float* data, const Images& si, const Images& di, bool& copy) {
  Source s{data, si, 0, 0, si.h, si.w, a.fill_value};
  copy = false;
  switch (a.fit) {
    case ir::ResizeFit::kStretch: break;
    case ir::ResizeFit::kCropToAspect: aspect_crop(s, di.h, di.w); break;
    case ir::ResizeFit::kPadToAspect: aspect_pad(s, di.h, di.w); break;
    case ir::ResizeFit::kCenterCrop:
      if (si.h >= di.h && si.w >= di.w) {
        s.y0 = (si.h - di.h) / 2;
        s.x0 = (si.w - di.w) / 2;
        s.h = di.h;
        s.w = di.w;
        copy = true;
      } else {
        aspect_crop(s, di.h, di.w);
      }
      break;
  }
  return s;
}

Interpolation interpolation_of(const ir::ResizeAttrs& a) {
  return a.fit == ir::ResizeFit::kCenterCrop ? Interpolation::kBilinear : a.interpolation;
}
bool antialiased(const ir::ResizeAttrs& a) {
  return a.antialias && a.fit != ir::ResizeFit::kCenterCrop && a.interpolation != Interpolation::kNearest;
}

// Up to four (source index, weight) taps of one output position along one axis.
template <class T>
struct Taps {
  int count = 0;
  int64_t index[4] = {};
  T weight[4] = {};
};

float cubic_near(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }   // |x| <= 1
float cubic_far(float x, float a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }  // 1 < |x| < 2

// torch's F.interpolate taps (half-pixel centres) in float32.
Taps<float> float_taps(int64_t in, int64_t out, int64_t o, Interpolation interp) {
  Taps<float> t;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  if (interp == Interpolation::kNearest) {  // "nearest-exact": floor((o + 0.5) * scale)
    const float pos = static_cast<float>((static_cast<double>(o) + 0.5) * scale);
    t.count = 1;
    t.index[0] = std::min(static_cast<int64_t>(std::floor(pos)), in - 1);
    t.weight[0] = 1.f;
  } else if (interp == Interpolation::kBilinear) {
    float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
    if (src < 0.f) src = 0.f;
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
    const float l1 = std::min(std::max(src - static_cast<float>(i0), 0.f), 1.f);
    t.count = 2;
    t.index[0] = i0;
    t.index[1] = i0 + (i0 < in - 1 ? 1 : 0);
    t.weight[0] = 1.f - l1;
    t.weight[1] = l1;
  } else {  // bicubic, A = -0.75, border pixels repeated
    const float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
    const int64_t i0 = static_cast<int64_t>(std::floor(src));
    const float f = src - static_cast<float>(i0), a = -0.75f, g = 1.f - f;
    const float w[4] = {cubic_far(f + 1.f, a), cubic_near(f, a), cubic_near(g, a), cubic_far(g + 1.f, a)};
    t.count = 4;
    for (int k = 0; k < 4; ++k) {
      t.index[k] = std::clamp<int64_t>(i0 - 1 + k, 0, in - 1);
      t.weight[k] = w[k];
    }
  }
  return t;
}

// Keys' cubic convolution kernel with a = -0.75 (torch's choice), at distance d from a tap.
double cubic_weight(double d) {
  constexpr double a = -0.75;
  d = std::fabs(d);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

// The same taps in float64 (UpSampling2D's resize); linear positions before the first centre read
// the first cell.
Taps<double> double_taps(int64_t in, int64_t out, int64_t o, Interpolation interp) {
  Taps<double> t;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  double pos = (static_cast<double>(o) + 0.5) * scale - 0.5;
  if (interp != Interpolation::kBicubic) {
    pos = std::max(pos, 0.0);
    const int64_t i0 = std::min(static_cast<int64_t>(pos), in - 1);
    const double frac = std::min(std::max(pos - static_cast<double>(i0), 0.0), 1.0);
    t.count = 2;
    t.index[0] = i0;
    t.index[1] = std::min(i0 + 1, in - 1);
    t.weight[0] = 1 - frac;
    t.weight[1] = frac;
  } else {
    const int64_t base = static_cast<int64_t>(std::floor(pos));
    const double frac = pos - static_cast<double>(base);
    t.count = 4;
    for (int k = 0; k < 4; ++k) {
      t.index[k] = std::min(std::max<int64_t>(base - 1 + k, 0), in - 1);
      t.weight[k] = cubic_weight(frac - (k - 1));
    }
  }
  return t;
}

// Antialiased taps (torch's _upsample_*_aa): the filter is stretched by the scale when downsampling
// and the weights of each output are normalised to sum to one. Calls f(index, weight) per tap.
template <class F>
void antialias_taps(int64_t in, int64_t out, int64_t o, Interpolation interp, F f) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const float interp_size = interp == Interpolation::kBilinear ? 2.f : 4.f;
  const float support = scale >= 1.f ? interp_size * 0.5f * scale : interp_size * 0.5f;
  const float invscale = scale >= 1.f ? 1.f / scale : 1.f;
  auto filter = [interp](float x) {
    x = std::fabs(x);
    if (interp == Interpolation::kBilinear) return x < 1.f ? 1.f - x : 0.f;
    const float a = -0.5f;
    if (x < 1.f) return cubic_near(x, a);
    if (x < 2.f) return cubic_far(x, a);
    return 0.f;
  };
  const float center = scale * (static_cast<float>(o) + 0.5f);
  const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5f), 0);
  const int64_t count = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5f), in) - lo;
  float total = 0.f;
  for (int64_t j = 0; j < count; ++j) total += filter((static_cast<float>(j + lo) - center + 0.5f) * invscale);
  for (int64_t j = 0; j < count; ++j) {
    const float w = filter((static_cast<float>(j + lo) - center + 0.5f) * invscale);
    f(lo + j, total != 0.f ? w / total : w);
  }
}

// Every output position from its separable taps (T: the precision of the taps and the sums).
template <class T>
void resize_with_taps(const Source& s, float* dst, const Images& di, Interpolation interp,
                      Taps<T> (*taps)(int64_t, int64_t, int64_t, Interpolation)) {
  for (int64_t b = 0; b < di.n; ++b)
    for (int64_t ch = 0; ch < di.c; ++ch)
      for (int64_t y = 0; y < di.h; ++y) {
        const Taps<T> ty = taps(s.h, di.h, y, interp);
        for (int64_t x = 0; x < di.w; ++x) {
          const Taps<T> tx = taps(s.w, di.w, x, interp);
          T acc = 0;
          for (int i = 0; i < ty.count; ++i) {
            T row = 0;
            for (int j = 0; j < tx.count; ++j) row += tx.weight[j] * s.at(b, ty.index[i], tx.index[j], ch);
            acc += ty.weight[i] * row;
          }
          dst[di.at(b, y, x, ch)] = static_cast<float>(acc);
        }
      }
}

// Separable, width first (into `mid`, the staged height by the output width) then height; a pass
// whose size is unchanged copies.
void resize_antialiased(const Source& s, float* mid, float* dst, const Images& di, Interpolation interp) {
  Images m{di.n, s.h, di.w, di.c, false};
  for (int64_t b = 0; b < di.n; ++b)
    for (int64_t ch = 0; ch < di.c; ++ch)
      for (int64_t y = 0; y < s.h; ++y)
        for (int64_t x = 0; x < di.w; ++x) {
          if (s.w == di.w) {
            mid[m.at(b, y, x, ch)] = s.at(b, y, x, ch);
            continue;
          }
          float acc = 0.f;
          antialias_taps(s.w, di.w, x, interp, [&](int64_t ix, float wx) { acc += s.at(b, y, ix, ch) * wx; });
          mid[m.at(b, y, x, ch)] = acc;
        }
  for (int64_t b = 0; b < di.n; ++b)
    for (int64_t ch = 0; ch < di.c; ++ch)
      for (int64_t y = 0; y < di.h; ++y)
        for (int64_t x = 0; x < di.w; ++x) {
          float acc = 0.f;
          if (s.h == di.h) acc += mid[m.at(b, y, x, ch)];
          else antialias_taps(s.h, di.h, y, interp, [&](int64_t iy, float wy) { acc += mid[m.at(b, iy, x, ch)] * wy; });
          dst[di.at(b, y, x, ch)] = acc;
        }
}

size_t resize_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType> out) {
  const auto& a = node.as<ir::ResizeAttrs>();
  if (!antialiased(a)) return 0;
  const Images si = images_of(in[0].shape, a.channels_first), di = images_of(out[0].shape, a.channels_first);
  if (si.h < 1 || si.w < 1) return 0;
  bool copy = false;
  const Source s = staged_source(a, nullptr, si, di, copy);
  return static_cast<size_t>(di.n * s.h * di.w * di.c) * sizeof(float);
}

void run_resize(const KernelCall& c) {
  const auto& a = c.node.as<ir::ResizeAttrs>();
  const Images si = images_of(c.in[0].shape, a.channels_first), di = images_of(c.out[0].shape, a.channels_first);
  if (si.h < 1 || si.w < 1) throw Error("resize: cannot resize an empty image");
  float* dst = static_cast<float*>(c.out[0].data);
  bool copy = false;
  const Source s = staged_source(a, static_cast<const float*>(c.in[0].data), si, di, copy);
  if (copy) {
    for (int64_t b = 0; b < di.n; ++b)
      for (int64_t ch = 0; ch < di.c; ++ch)
        for (int64_t y = 0; y < di.h; ++y)
          for (int64_t x = 0; x < di.w; ++x) dst[di.at(b, y, x, ch)] = s.at(b, y, x, ch);
    return;
  }
  const Interpolation interp = interpolation_of(a);
  if (antialiased(a)) return resize_antialiased(s, reinterpret_cast<float*>(c.ctx.scratch.data()), dst, di, interp);
  if (a.double_precision) return resize_with_taps(s, dst, di, interp, double_taps);
  resize_with_taps(s, dst, di, interp, float_taps);
}

// ---- auto_contrast --------------------------------------------------------------------------------
// Keras's _transform_value_range: a no-op between equal ranges, else through [0, 1] in float32.
struct ValueRange {
  bool identity;
  float from_lo, from_span, to_lo, to_span;
  ValueRange(double flo, double fhi, double tlo, double thi)
      : identity(flo == tlo && fhi == thi),
        from_lo(static_cast<float>(flo)),
        from_span(static_cast<float>(fhi) - static_cast<float>(flo)),
        to_lo(static_cast<float>(tlo)),
        to_span(static_cast<float>(thi) - static_cast<float>(tlo)) {}
  float operator()(float v) const { return identity ? v : (v - from_lo) / from_span * to_span + to_lo; }
};

// Each (image, last axis index) group stretched to [0, 255] over axes 1 and 2 of the batch.
void run_auto_contrast(const KernelCall& c) {
  const auto& a = c.node.as<ir::AutoContrastAttrs>();
  const auto s = c.in[0].shape;
  const size_t o = s.size() == 4 ? 1 : 0;
  const int64_t n = o ? s[0] : 1, d1 = s[o], d2 = s[o + 1], d3 = s[o + 2];
  const float* in = static_cast<const float*>(c.in[0].data);
  float* out = static_cast<float*>(c.out[0].data);
  const ValueRange to_unit(a.low, a.high, 0.0, 255.0), back(0.0, 255.0, a.low, a.high);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < d3; ++k) {
      auto idx = [&](int64_t i, int64_t j) { return ((b * d1 + i) * d2 + j) * d3 + k; };
      float low = INFINITY, high = -INFINITY;
      bool nan = false;
      for (int64_t i = 0; i < d1; ++i)
        for (int64_t j = 0; j < d2; ++j) {
          const float v = to_unit(in[idx(i, j)]);
          nan |= std::isnan(v);
          low = std::min(low, v);
          high = std::max(high, v);
        }
      if (nan) low = high = NAN;
      const float scale = 255.f / (high - low), offset = -low * scale;
      for (int64_t i = 0; i < d1; ++i)
        for (int64_t j = 0; j < d2; ++j) {
          float v = to_unit(in[idx(i, j)]) * scale + offset;
          if (v < 0.f) v = 0.f;
          else if (v > 255.f) v = 255.f;
          v = back(v);
          out[idx(i, j)] = std::isnan(v) ? in[idx(i, j)] : v;
        }
    }
}

// ---- equalize -------------------------------------------------------------------------------------
// Keras's _scale_values: python-double scale and offset, applied in float32.
struct Affine {
  float scale, offset;
  Affine(double flo, double fhi, double tlo, double thi) {
    const double s = (thi - tlo) / (fhi - flo);
    scale = static_cast<float>(s);
    offset = static_cast<float>(tlo - flo * s);
  }
  float operator()(float x) const { return x * scale + offset; }
};

size_t equalize_scratch(const ir::Node& node, std::span<const TensorType>, std::span<const TensorType>) {
  const int64_t bins = node.as<ir::EqualizeAttrs>().bins;
  return static_cast<size_t>(bins) * (sizeof(int64_t) + sizeof(float));
}

void run_equalize(const KernelCall& c) {
  const auto& a = c.node.as<ir::EqualizeAttrs>();
  const Images im = images_of(c.in[0].shape, a.channels_first);
  const float* in = static_cast<const float*>(c.in[0].data);
  float* out = static_cast<float*>(c.out[0].data);
  int64_t* hist = reinterpret_cast<int64_t*>(c.ctx.scratch.data());
  float* lut = reinterpret_cast<float*>(hist + a.bins);
  const Affine to_255(a.low, a.high, 0.0, 255.0), back(0.0, 255.0, a.low, a.high);
  const float top = static_cast<float>(a.bins - 1);
  auto each = [&](int64_t ch, auto f) {
    for (int64_t b = 0; b < im.n; ++b)
      for (int64_t y = 0; y < im.h; ++y)
        for (int64_t x = 0; x < im.w; ++x) f(im.at(b, y, x, ch));
  };
  for (int64_t ch = 0; ch < im.c; ++ch) {
    std::fill(hist, hist + a.bins, 0);
    each(ch, [&](int64_t i) {
      const int64_t k = to_int32_like_cpu(to_255(in[i]) * top / 255.f);
      hist[std::clamp<int64_t>(k, 0, a.bins - 1)] += 1;
    });
    const int64_t nonzero = std::count_if(hist, hist + a.bins, [](int64_t h) { return h != 0; });
    if (nonzero <= 1) {
      each(ch, [&](int64_t i) { out[i] = back(to_255(in[i])); });
      continue;
    }
    // The cumulative histogram (in hist) and its first non-zero value.
    int64_t run = 0, cdf_min = -1;
    for (int64_t k = 0; k < a.bins; ++k) {
      run += hist[k];
      hist[k] = run;
      if (cdf_min < 0 && run != 0) cdf_min = run;
    }
    int64_t denom = hist[a.bins - 1] - cdf_min;
    if (denom == 0) denom = 1;
    for (int64_t k = 0; k < a.bins; ++k) {
      const float l = std::nearbyint(static_cast<float>((hist[k] - cdf_min) * 255) / static_cast<float>(denom));
      lut[k] = std::clamp(l, 0.f, 255.f);
    }
    each(ch, [&](int64_t i) {
      float pos = to_255(in[i]) / 255.f * top;
      pos = std::isnan(pos) ? 0.f : std::clamp(pos, 0.f, top);
      out[i] = back(lut[static_cast<size_t>(pos)]);
    });
  }
}

// ---- clahe ----------------------------------------------------------------------------------------
// Keras's CLAHE: the image (padded symmetrically at the bottom/right to whole tiles) is split into a
// grid of tiles; each tile/channel gets a clipped 256-bin histogram and a normalised CDF; a pixel
// blends the CDFs of the four nearest tile centres bilinearly.
struct ClaheLayout {
  Images im;
  int64_t tile_h, tile_w;
  size_t values, cdfs;  // floats of the channels-last copy and of the CDFs
};

ClaheLayout clahe_layout(const ir::ClaheAttrs& a, std::span<const int64_t> shape) {
  ClaheLayout l;
  l.im = images_of(shape, a.channels_first);
  l.tile_h = (l.im.h + a.grid_h - 1) / a.grid_h;
  l.tile_w = (l.im.w + a.grid_w - 1) / a.grid_w;
  l.values = static_cast<size_t>(l.im.size());
  l.cdfs = static_cast<size_t>(l.im.n * a.grid_h * a.grid_w * l.im.c * 256);
  return l;
}

size_t clahe_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const ClaheLayout l = clahe_layout(node.as<ir::ClaheAttrs>(), in[0].shape);
  return (l.values + l.cdfs) * sizeof(float) + 256 * sizeof(int64_t);
}

// Clip (Keras truncates the limit to the integer histogram's dtype), redistribute the excess evenly,
// accumulate (in double, like torch's CPU cumsum) and normalise to [0, 255].
void tile_cdf(const int64_t* hist, int64_t tile_pixels, double clip_limit, float* cdf_norm) {
  float cdf[256];
  if (clip_limit > 0) {
    const int64_t limit = static_cast<int64_t>(clip_limit * static_cast<double>(tile_pixels) / 256.0);
    int64_t excess = 0;
    for (int i = 0; i < 256; ++i) excess += hist[i] - std::clamp<int64_t>(hist[i], 0, limit);
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
  const float cdf_min = *std::min_element(cdf, cdf + 256);
  float denom = static_cast<float>(tile_pixels) - cdf_min;
  if (denom == 0.f) denom = 1.f;
  for (int i = 0; i < 256; ++i) cdf_norm[i] = std::clamp((cdf[i] - cdf_min) * 255.f / denom, 0.f, 255.f);
}

// Tile-centre coordinate of padded row/column p, in a grid with one repeated tile on each side.
struct GridCoord {
  int64_t i0, i1;
  float frac;
};
GridCoord grid_coord(int64_t p, int64_t tile, int64_t grid) {
  const float g = (static_cast<float>(p) - static_cast<float>(tile / 2.0)) / static_cast<float>(tile) + 1.f;
  const float f0 = std::floor(g);
  return {static_cast<int64_t>(std::clamp(f0, 0.f, static_cast<float>(grid + 1))),
          static_cast<int64_t>(std::clamp(f0 + 1.f, 0.f, static_cast<float>(grid + 1))), g - f0};
}

void run_clahe(const KernelCall& c) {
  const auto& a = c.node.as<ir::ClaheAttrs>();
  const ClaheLayout l = clahe_layout(a, c.in[0].shape);
  const Images& im = l.im;
  const int64_t n = im.n, h = im.h, w = im.w, ch_count = im.c;
  if (h < 1 || w < 1) throw Error("clahe: cannot equalise an empty image");
  const float* in = static_cast<const float*>(c.in[0].data);
  float* out = static_cast<float*>(c.out[0].data);
  int64_t* hist = reinterpret_cast<int64_t*>(c.ctx.scratch.data());  // first: int64-aligned
  float* x = reinterpret_cast<float*>(hist + 256);
  float* cdfs = x + l.values;
  const Images nhwc{n, h, w, ch_count, false};
  const ValueRange to_255(a.low, a.high, 0.0, 255.0), back(0.0, 255.0, a.low, a.high);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xx = 0; xx < w; ++xx)
        for (int64_t ch = 0; ch < ch_count; ++ch) x[nhwc.at(b, y, xx, ch)] = to_255(in[im.at(b, y, xx, ch)]);

  // numpy "symmetric" padding (edge repeated, periodic beyond twice the size).
  auto mirror = [](int64_t p, int64_t size) {
    const int64_t m = p % (2 * size);
    return m < size ? m : 2 * size - 1 - m;
  };
  auto cdf_at = [&](int64_t b, int64_t ty, int64_t tx, int64_t ch) {
    return cdfs + (((b * a.grid_h + ty) * a.grid_w + tx) * ch_count + ch) * 256;
  };
  const int64_t tile_pixels = l.tile_h * l.tile_w;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ty = 0; ty < a.grid_h; ++ty)
      for (int64_t tx = 0; tx < a.grid_w; ++tx)
        for (int64_t ch = 0; ch < ch_count; ++ch) {
          std::fill(hist, hist + 256, 0);
          for (int64_t y = 0; y < l.tile_h; ++y)
            for (int64_t xx = 0; xx < l.tile_w; ++xx) {
              const float v = x[nhwc.at(b, mirror(ty * l.tile_h + y, h), mirror(tx * l.tile_w + xx, w), ch)];
              hist[std::clamp<int64_t>(to_int32_like_cpu(v), 0, 255)] += 1;
            }
          tile_cdf(hist, tile_pixels, a.clip_limit, cdf_at(b, ty, tx, ch));
        }

  // Padded grid index g maps to tile clamp(g - 1).
  auto cdf_padded = [&](int64_t b, int64_t gy, int64_t gx, int64_t ch, int64_t bin) {
    const int64_t ty = std::clamp<int64_t>(gy - 1, 0, a.grid_h - 1), tx = std::clamp<int64_t>(gx - 1, 0, a.grid_w - 1);
    return cdf_at(b, ty, tx, ch)[bin];
  };
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y < h; ++y) {
      const GridCoord gy = grid_coord(y, l.tile_h, a.grid_h);
      for (int64_t xx = 0; xx < w; ++xx) {
        const GridCoord gx = grid_coord(xx, l.tile_w, a.grid_w);
        for (int64_t ch = 0; ch < ch_count; ++ch) {
          const float v = x[nhwc.at(b, y, xx, ch)];
          const float clipped = std::isnan(v) ? 0.f : std::clamp(v, 0.f, 255.f);
          const int64_t bin = static_cast<int64_t>(clipped);
          const float nw = cdf_padded(b, gy.i0, gx.i0, ch, bin), ne = cdf_padded(b, gy.i0, gx.i1, ch, bin);
          const float sw = cdf_padded(b, gy.i1, gx.i0, ch, bin), se = cdf_padded(b, gy.i1, gx.i1, ch, bin);
          const float top = nw * (1.f - gx.frac) + ne * gx.frac;
          const float bottom = sw * (1.f - gx.frac) + se * gx.frac;
          out[im.at(b, y, xx, ch)] = back(top * (1.f - gy.frac) + bottom * gy.frac);
        }
      }
    }
}

}  // namespace

const Kernel kResize{"ref", ir::OpKind::kResize, nullptr, resize_scratch, nullptr, run_resize};
const Kernel kAutoContrast{"ref", ir::OpKind::kAutoContrast, nullptr, nullptr, nullptr, run_auto_contrast};
const Kernel kEqualize{"ref", ir::OpKind::kEqualize, nullptr, equalize_scratch, nullptr, run_equalize};
const Kernel kClahe{"ref", ir::OpKind::kClahe, nullptr, clahe_scratch, nullptr, run_clahe};

}  // namespace kerasrt::kernels::ref
