// Reference stft (each frame correlated with DFT weights, or windowed and transformed, in float64,
// then combined per bin in float32) and power_to_db.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

using ir::StftOutput;

// re + i*im of one bin as the node's output (for complex, the re half; the caller writes im).
float combine(StftOutput out, float re, float im, int64_t f, int64_t freq, float exponent) {
  const float eps = 1e-7f;
  const float power = re * re + im * im;
  switch (out) {
    case StftOutput::kReal: return re;
    case StftOutput::kImag: return im;
    case StftOutput::kAngle: return std::atan2(im, re);
    case StftOutput::kComplex: return re;
    case StftOutput::kPsd: return f > 0 && f < freq - 1 ? power + power : power;  // one-sided: interior doubled
    case StftOutput::kMagnitude: return std::sqrt(std::max(power, eps));
    case StftOutput::kLog: return std::log(std::max(std::sqrt(std::max(power, eps)), eps));
    case StftOutput::kPower: return std::pow(std::sqrt(power), exponent);
  }
  return 0.f;
}

size_t stft_scratch(const ir::Node& node, std::span<const TensorType>, std::span<const TensorType>) {
  const auto& a = node.as<ir::StftAttrs>();
  if (a.window) return static_cast<size_t>(a.fft_length) * (2 * sizeof(double) + sizeof(float));
  return static_cast<size_t>(2 * a.freq) * sizeof(float);
}

// torch.stft of centred, reflect-padded frames times the window: a float64 DFT whose twiddle for
// (bin k, sample n) is table entry (k * n) mod fft.
void run_windowed(const KernelCall& c, const ir::StftAttrs& a) {
  const auto s = c.in[0].shape;
  const int64_t batch = s.size() == 2 ? s[0] : 1, len = s.back();
  const int64_t frames = c.out[0].shape[c.out[0].shape.size() - 2];
  const int64_t fft = a.fft_length, pad = a.padding == ir::StftPadding::kReflectCenter ? fft / 2 : 0;
  double* cos_t = reinterpret_cast<double*>(c.ctx.scratch.data());
  double* sin_t = cos_t + fft;
  float* frame = reinterpret_cast<float*>(sin_t + fft);
  for (int64_t m = 0; m < fft; ++m) {
    const double angle = 2.0 * std::numbers::pi * static_cast<double>(m) / static_cast<double>(fft);
    cos_t[m] = std::cos(angle);
    sin_t[m] = std::sin(angle);
  }
  const float* window = c.node.weight(0).floats().data();
  const float* in = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  for (int64_t b = 0; b < batch; ++b) {
    const float* x = in + b * len;
    for (int64_t t = 0; t < frames; ++t) {
      for (int64_t n = 0; n < fft; ++n) {
        int64_t p = t * a.frame_step + n - pad;
        if (a.padding == ir::StftPadding::kReflectCenter) {
          if (p < 0) p = -p;
          if (p >= len) p = 2 * (len - 1) - p;
          frame[n] = x[p] * window[n];
        } else {
          frame[n] = p >= 0 && p < len ? x[p] * window[n] : 0.f;
        }
      }
      float* row = y + (b * frames + t) * a.freq;
      for (int64_t k = 0; k < a.freq; ++k) {
        double re = 0, im = 0;
        for (int64_t n = 0; n < fft; ++n) {
          const int64_t m = (k * n) % fft;
          re += frame[n] * cos_t[m];
          im -= frame[n] * sin_t[m];
        }
        row[k] = combine(a.output, static_cast<float>(re), static_cast<float>(im), k, a.freq, a.exponent);
      }
    }
  }
}

void run_stft(const KernelCall& c) {
  const auto& a = c.node.as<ir::StftAttrs>();
  if (a.window) return run_windowed(c, a);
  const auto s = c.in[0].shape;
  const int64_t batch = s[0], time = a.channels_first ? s[2] : s[1], channels = a.channels_first ? s[1] : s[2];
  const int64_t frames = a.channels_first ? c.out[0].shape[2] : c.out[0].shape[1];
  const int64_t total = std::max<int64_t>((frames - 1) * a.frame_step + a.frame_length - time, 0);
  const int64_t pad = a.padding == ir::StftPadding::kSame ? total / 2 : 0;
  const int64_t freq = a.freq, nf = a.output == StftOutput::kComplex ? 2 * freq : freq;
  const bool has_real = a.output != StftOutput::kImag, has_imag = a.output != StftOutput::kReal;
  const float* real_k = has_real ? c.node.weight(0).floats().data() : nullptr;
  const float* imag_k = has_imag ? c.node.weight(has_real ? 1 : 0).floats().data() : nullptr;
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  float* re = reinterpret_cast<float*>(c.ctx.scratch.data());
  float* im = re + freq;
  std::fill(re, re + 2 * freq, 0.f);
  // Keras's _adjust_shapes layout: (b, channel, frame, frequency) placed per data format.
  auto out_index = [&](int64_t b, int64_t ch, int64_t t, int64_t f) {
    if (a.channels_first)
      return a.expand_dims ? ((b * channels + ch) * frames + t) * nf + f : ((b * channels + ch) * nf + f) * frames + t;
    return a.expand_dims ? ((b * frames + t) * nf + f) * channels + ch : (b * frames + t) * channels * nf + ch * nf + f;
  };
  auto correlate = [&](const float* kernel, int64_t b, int64_t ch, int64_t t, float* out) {
    for (int64_t f = 0; f < freq; ++f) {
      double acc = 0;
      for (int64_t k = 0; k < a.frame_length; ++k) {
        const int64_t p = t * a.frame_step + k - pad;
        if (p < 0 || p >= time) continue;  // zero padding
        const float v = a.channels_first ? x[(b * channels + ch) * time + p] : x[(b * time + p) * channels + ch];
        acc += static_cast<double>(v) * kernel[k * freq + f];
      }
      out[f] = static_cast<float>(acc);
    }
  };
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t t = 0; t < frames; ++t) {
        if (real_k) correlate(real_k, b, ch, t, re);
        if (imag_k) correlate(imag_k, b, ch, t, im);
        for (int64_t f = 0; f < freq; ++f) {
          y[out_index(b, ch, t, f)] = combine(a.output, re[f], im[f], f, freq, a.exponent);
          if (a.output == StftOutput::kComplex) y[out_index(b, ch, t, freq + f)] = im[f];
        }
      }
}

void run_power_to_db(const KernelCall& c) {
  const auto& a = c.node.as<ir::PowerToDbAttrs>();
  const float* x = static_cast<const float*>(c.in[0].data);
  float* y = static_cast<float*>(c.out[0].data);
  const int64_t n = element_count(c.in[0].shape);
  float peak = -INFINITY;
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    float v = 10.0f * std::log10(std::isnan(x[i]) ? x[i] : std::max(x[i], a.min_power));
    v -= a.ref_db;
    nan |= std::isnan(v);
    peak = std::max(peak, v);
    y[i] = v;
  }
  const float floor = nan ? NAN : peak - a.top_db;
  for (int64_t i = 0; i < n; ++i) y[i] = std::isnan(y[i]) || std::isnan(floor) ? NAN : std::max(y[i], floor);
}

}  // namespace

const Kernel kStft{"ref", ir::OpKind::kStft, nullptr, stft_scratch, nullptr, run_stft};
const Kernel kPowerToDb{"ref", ir::OpKind::kPowerToDb, nullptr, nullptr, nullptr, run_power_to_db, true};

}  // namespace kerasrt::kernels::ref
