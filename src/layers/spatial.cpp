// Layers that move data along the spatial axes without weights: ZeroPadding, Cropping and
// UpSampling (1D/2D/3D, either data format), plus UpSampling2D's bilinear and bicubic resize.
#include <array>

#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

size_t first_spatial_axis(bool channels_first) { return channels_first ? 2 : 1; }

constexpr int64_t kMaxConfigValue = int64_t{1} << 31;

int64_t checked(const Config& c, const char* key, const Json& v, int64_t lo) {
  if (!v.is_number_integer()) c.fail(std::string("'") + key + "' should hold integers, got " + v.dump());
  int64_t x = v.get<int64_t>();
  if (x < lo || x > kMaxConfigValue)
    c.fail(std::string("'") + key + "' values must be between " + std::to_string(lo) + " and 2^31, got " + v.dump());
  return x;
}

using Sides = std::vector<std::pair<int64_t, int64_t>>;  // (front, back) per spatial axis

// padding/cropping in the forms Keras writes: an int (every side), one int per axis (both sides of
// it), one (front, back) pair per axis; for one axis a bare (front, back) pair. Keras 1 also wrote
// ZeroPadding as a dict of named sides.
Sides parse_sides(const Config& c, const char* key, size_t spatial, int64_t fallback) {
  if (!c.has(key)) return Sides(spatial, {fallback, fallback});
  const Json& v = c.raw(key);
  if (v.is_number_integer()) {
    int64_t p = checked(c, key, v, 0);
    return Sides(spatial, {p, p});
  }
  if (v.is_object()) {
    static const std::array<std::array<const char*, 2>, 3> names2d = {{{"top_pad", "bottom_pad"}, {"left_pad", "right_pad"}}};
    static const std::array<std::array<const char*, 2>, 3> names1d = {{{"left_pad", "right_pad"}}};
    const auto& names = spatial == 1 ? names1d : names2d;
    if (spatial > 2) c.fail(std::string("unsupported '") + key + "' " + v.dump());
    Sides out;
    for (size_t a = 0; a < spatial; ++a) {
      auto side = [&](const char* n) { return v.contains(n) ? checked(c, key, v[n], 0) : int64_t{0}; };
      out.emplace_back(side(names[a][0]), side(names[a][1]));
    }
    return out;
  }
  if (!v.is_array()) c.fail(std::string("'") + key + "' should be an int or a list, got " + v.dump());
  if (spatial == 1 && v.size() == 2 && v[0].is_number_integer())
    return {{checked(c, key, v[0], 0), checked(c, key, v[1], 0)}};
  if (v.size() != spatial)
    c.fail(std::string("'") + key + "' should have " + std::to_string(spatial) + " entries, got " + v.dump());
  Sides out;
  for (const Json& e : v) {
    if (e.is_number_integer()) {
      int64_t p = checked(c, key, e, 0);
      out.emplace_back(p, p);
    } else if (e.is_array() && e.size() == 2) {
      out.emplace_back(checked(c, key, e[0], 0), checked(c, key, e[1], 0));
    } else {
      c.fail(std::string("'") + key + "' entries should be an int or a pair, got " + v.dump());
    }
  }
  return out;
}

std::vector<int64_t> parse_factors(const Config& c, const char* key, size_t spatial, int64_t fallback) {
  std::vector<int64_t> f = c.ints(key, spatial, fallback);
  for (int64_t v : f)
    if (v < 1 || v > kMaxConfigValue) c.fail(std::string("'") + key + "' values must be positive, got " + std::to_string(v));
  return f;
}

// ---- ZeroPadding / Cropping / nearest UpSampling ------------------------------------------------
// Each output cell copies one input cell (or is zero); the source index is a per-axis function.
class SpatialGather : public Op {
 public:
  enum class Kind { kPad, kCrop, kRepeat };

  SpatialGather(std::string name, Kind kind, size_t spatial, bool channels_first, Sides sides, std::vector<int64_t> factors)
      : name_(std::move(name)), kind_(kind), spatial_(spatial), channels_first_(channels_first),
        sides_(std::move(sides)), factors_(std::move(factors)) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, name_.c_str());
    expect_rank(in[0], spatial_ + 2, name_.c_str());
    Shape out = in[0];
    const size_t first = first_spatial_axis(channels_first_);
    for (size_t a = 0; a < spatial_; ++a) {
      int64_t& d = out[first + a];
      if (d < 0) continue;
      d = output_length(a, d);
      if (kind_ == Kind::kCrop && d < 1)
        throw Error(name_ + ": cropping " + crop_string() + " leaves nothing of input " + shape_to_string(in[0]));
    }
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const SpatialLayout li = spatial_layout(in[0].shape, channels_first_);
    const SpatialLayout lo = spatial_layout(out[0].shape, channels_first_);
    // Source offset along each slot for every output index, -1 where the output is padding.
    std::array<std::vector<int64_t>, 3> src;
    for (size_t slot = 0; slot < 3; ++slot) {
      const int64_t a = static_cast<int64_t>(slot) - static_cast<int64_t>(3 - spatial_);
      src[slot].resize(static_cast<size_t>(lo.dims[slot]));
      for (int64_t o = 0; o < lo.dims[slot]; ++o) {
        int64_t i = a < 0 ? o : source_index(static_cast<size_t>(a), o, li.dims[slot]);
        src[slot][o] = i < 0 ? -1 : i * li.strides[slot];
      }
    }
    for (int64_t b = 0; b < lo.batch; ++b)
      for (int64_t c = 0; c < lo.channels; ++c) {
        const float* x = in[0].data + b * li.batch_stride + c * li.channel_stride;
        float* y = out[0].data + b * lo.batch_stride + c * lo.channel_stride;
        for (int64_t o0 = 0; o0 < lo.dims[0]; ++o0)
          for (int64_t o1 = 0; o1 < lo.dims[1]; ++o1)
            for (int64_t o2 = 0; o2 < lo.dims[2]; ++o2) {
              const int64_t s0 = src[0][o0], s1 = src[1][o1], s2 = src[2][o2];
              const bool inside = s0 >= 0 && s1 >= 0 && s2 >= 0;
              y[o0 * lo.strides[0] + o1 * lo.strides[1] + o2 * lo.strides[2]] = inside ? x[s0 + s1 + s2] : 0.f;
            }
      }
  }

 private:
  int64_t output_length(size_t a, int64_t len) const {
    switch (kind_) {
      case Kind::kPad: return len + sides_[a].first + sides_[a].second;
      case Kind::kCrop: return len - sides_[a].first - sides_[a].second;
      case Kind::kRepeat: return len * factors_[a];
    }
    return len;
  }

  // Input index feeding output index `o` on spatial axis `a`, or -1 for a padded cell.
  int64_t source_index(size_t a, int64_t o, int64_t len) const {
    switch (kind_) {
      case Kind::kPad: {
        int64_t i = o - sides_[a].first;
        return i >= 0 && i < len ? i : -1;
      }
      case Kind::kCrop: return o + sides_[a].first;
      case Kind::kRepeat: return o / factors_[a];
    }
    return -1;
  }

  std::string crop_string() const {
    std::string s;
    for (const auto& [front, back] : sides_) {
      s += '(';
      s += std::to_string(front);
      s += ", ";
      s += std::to_string(back);
      s += ')';
    }
    return s;
  }

  std::string name_;
  Kind kind_;
  size_t spatial_;
  bool channels_first_;
  Sides sides_;
  std::vector<int64_t> factors_;
};

// ---- UpSampling2D with bilinear / bicubic interpolation -------------------------------------------
// Keras resizes with torch's interpolate(align_corners=False, antialias=False): output index o maps
// to source position (o + 0.5) * in/out - 0.5 (half-pixel centres); taps outside the input are
// clamped to the edge.
class ResizeUpSampling2D : public Op {
 public:
  ResizeUpSampling2D(std::string name, bool bicubic, bool channels_first, std::vector<int64_t> factors)
      : name_(std::move(name)), bicubic_(bicubic), channels_first_(channels_first), factors_(std::move(factors)) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, name_.c_str());
    expect_rank(in[0], 4, name_.c_str());
    Shape out = in[0];
    const size_t first = first_spatial_axis(channels_first_);
    for (size_t a = 0; a < 2; ++a) {
      if (out[first + a] == 0) throw Error(name_ + " cannot resize an empty input " + shape_to_string(in[0]));
      out[first + a] = dim_or_unknown(out[first + a], out[first + a] * factors_[a]);
    }
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const SpatialLayout li = spatial_layout(in[0].shape, channels_first_);
    const SpatialLayout lo = spatial_layout(out[0].shape, channels_first_);
    const std::vector<Taps> rows = taps(li.dims[1], lo.dims[1]);
    const std::vector<Taps> cols = taps(li.dims[2], lo.dims[2]);
    for (int64_t b = 0; b < lo.batch; ++b)
      for (int64_t c = 0; c < lo.channels; ++c) {
        const float* x = in[0].data + b * li.batch_stride + c * li.channel_stride;
        float* y = out[0].data + b * lo.batch_stride + c * lo.channel_stride;
        for (int64_t oh = 0; oh < lo.dims[1]; ++oh)
          for (int64_t ow = 0; ow < lo.dims[2]; ++ow) {
            const Taps& r = rows[oh];
            const Taps& q = cols[ow];
            double acc = 0;
            for (int i = 0; i < r.count; ++i) {
              double row = 0;
              for (int j = 0; j < q.count; ++j) row += q.weight[j] * x[r.index[i] * li.strides[1] + q.index[j] * li.strides[2]];
              acc += r.weight[i] * row;
            }
            y[oh * lo.strides[1] + ow * lo.strides[2]] = static_cast<float>(acc);
          }
      }
  }

 private:
  struct Taps {
    int count = 0;
    std::array<int64_t, 4> index{};
    std::array<double, 4> weight{};
  };

  // Keys' cubic convolution kernel with a = -0.75 (torch's choice), at distance d from a tap.
  static double cubic_weight(double d) {
    constexpr double a = -0.75;
    d = std::fabs(d);
    if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
    if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
    return 0;
  }

  std::vector<Taps> taps(int64_t in_len, int64_t out_len) const {
    const double scale = static_cast<double>(in_len) / static_cast<double>(out_len);
    std::vector<Taps> out(static_cast<size_t>(out_len));
    for (int64_t o = 0; o < out_len; ++o) {
      double pos = (static_cast<double>(o) + 0.5) * scale - 0.5;
      Taps& t = out[o];
      if (!bicubic_) {
        pos = std::max(pos, 0.0);  // linear: positions before the first centre read the first cell
        int64_t i0 = std::min(static_cast<int64_t>(pos), in_len - 1);
        int64_t i1 = std::min(i0 + 1, in_len - 1);
        double frac = std::min(std::max(pos - static_cast<double>(i0), 0.0), 1.0);
        t.count = 2;
        t.index = {i0, i1, 0, 0};
        t.weight = {1 - frac, frac, 0, 0};
      } else {
        int64_t base = static_cast<int64_t>(std::floor(pos));
        double frac = pos - static_cast<double>(base);
        t.count = 4;
        for (int k = 0; k < 4; ++k) {
          t.index[k] = std::min(std::max<int64_t>(base - 1 + k, 0), in_len - 1);
          t.weight[k] = cubic_weight(frac - (k - 1));
        }
      }
    }
    return out;
  }

  std::string name_;
  bool bicubic_;
  bool channels_first_;
  std::vector<int64_t> factors_;
};

// ---- factories -----------------------------------------------------------------------------------
std::shared_ptr<Op> make_padding(const LayerSpec& spec, size_t spatial) {
  Config c(spec);
  return std::make_shared<SpatialGather>(spec.class_name, SpatialGather::Kind::kPad, spatial, c.channels_first(),
                                         parse_sides(c, "padding", spatial, 1), std::vector<int64_t>{});
}

std::shared_ptr<Op> make_cropping(const LayerSpec& spec, size_t spatial) {
  Config c(spec);
  // Cropping1D is channels-last only and has no data_format; Cropping2D defaults to no cropping.
  bool channels_first = spatial == 1 ? false : c.channels_first();
  return std::make_shared<SpatialGather>(spec.class_name, SpatialGather::Kind::kCrop, spatial, channels_first,
                                         parse_sides(c, "cropping", spatial, spatial == 2 ? 0 : 1),
                                         std::vector<int64_t>{});
}

std::shared_ptr<Op> make_upsampling(const LayerSpec& spec, size_t spatial) {
  Config c(spec);
  bool channels_first = spatial == 1 ? false : c.channels_first();
  // Keras 1 called UpSampling1D's factor "length".
  const char* key = spatial == 1 && !c.has("size") && c.has("length") ? "length" : "size";
  std::vector<int64_t> factors = parse_factors(c, key, spatial, 2);
  std::string interpolation = c.str("interpolation", "nearest");
  for (char& ch : interpolation) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (interpolation == "nearest")
    return std::make_shared<SpatialGather>(spec.class_name, SpatialGather::Kind::kRepeat, spatial, channels_first,
                                           Sides{}, std::move(factors));
  if (spatial == 2 && (interpolation == "bilinear" || interpolation == "bicubic"))
    return std::make_shared<ResizeUpSampling2D>(spec.class_name, interpolation == "bicubic", channels_first,
                                                std::move(factors));
  c.fail("unsupported interpolation '" + interpolation + "'");
}

}  // namespace

void register_spatial(const AddLayer& add) {
  for (size_t n = 1; n <= 3; ++n) {
    const std::string d = std::to_string(n) + "D";
    add("ZeroPadding" + d, [n](const LayerSpec& s) { return make_padding(s, n); });
    add("Cropping" + d, [n](const LayerSpec& s) { return make_cropping(s, n); });
    add("UpSampling" + d, [n](const LayerSpec& s) { return make_upsampling(s, n); });
  }
}

}  // namespace kerasrt::layers
