// UpSampling2D's bilinear and bicubic resize (ZeroPadding, Cropping and nearest UpSampling are
// typed: format/keras/spatial.cpp, which builds this Op for the other interpolations).
#include <array>

#include "layers/common.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

size_t first_spatial_axis(bool channels_first) { return channels_first ? 2 : 1; }

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

}  // namespace

std::shared_ptr<Op> make_resize_upsampling_2d(const LayerSpec& spec, const std::vector<int64_t>& factors, bool bicubic) {
  return std::make_shared<ResizeUpSampling2D>(spec.class_name, bicubic, Config(spec).channels_first(), factors);
}

}  // namespace kerasrt::layers
