// Audio preprocessing: MelSpectrogram (torch.stft with a centred, reflect-padded signal, then a mel
// filterbank and optional dB scaling) and STFTSpectrogram (a strided 1-D convolution with the stored
// real/imaginary DFT kernels).
#include <algorithm>
#include <cmath>
#include <numbers>

#include "layers/common.hpp"
#include "layers/matmul.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

constexpr int64_t kMaxFft = int64_t{1} << 16;

// torch.hann_window / hamming_window with periodic=True, in float32 as torch computes them.
std::vector<float> periodic_window(const std::string& kind, int64_t n) {
  if (n == 1) return {1.f};
  const float alpha = kind == "hann" ? 0.5f : 0.54f, beta = kind == "hann" ? 0.5f : 0.46f;
  const float step = static_cast<float>(2.0 * std::numbers::pi / static_cast<double>(n));
  std::vector<float> w(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) w[i] = std::cos(static_cast<float>(i) * step) * -beta + alpha;
  return w;
}

// ---- MelSpectrogram -----------------------------------------------------------------------------
class MelSpectrogram : public Op {
 public:
  explicit MelSpectrogram(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    fft_ = c.integer("fft_length", 2048);
    stride_ = c.integer("sequence_stride", 512);
    seq_len_ = c.integer("sequence_length", fft_);
    if (fft_ < 2 || fft_ > kMaxFft) c.fail("'fft_length' must be in [2, " + std::to_string(kMaxFft) + "]");
    if (seq_len_ < 1 || seq_len_ > fft_) c.fail("'sequence_length' must be in [1, fft_length]");
    if (stride_ < 1) c.fail("'sequence_stride' must be positive");
    double sampling_rate = c.number("sampling_rate", 16000.0);
    int64_t mel_bins = c.integer("num_mel_bins", 128);
    if (mel_bins < 1 || mel_bins > kMaxFft) c.fail("'num_mel_bins' must be in [1, " + std::to_string(kMaxFft) + "]");
    double min_freq = c.number("min_freq", 20.0);
    double max_freq = c.has("max_freq") && c.number("max_freq") != 0.0
                          ? c.number("max_freq")
                          : static_cast<double>(static_cast<int64_t>(sampling_rate / 2));
    power_to_db_ = c.flag("power_to_db", true);
    top_db_ = static_cast<float>(c.number("top_db", 80.0));
    mag_exp_ = static_cast<float>(c.number("mag_exp", 2.0));
    min_power_ = static_cast<float>(c.number("min_power", 1e-10));
    ref_power_ = static_cast<float>(c.number("ref_power", 1.0));

    // The window, zero-padded on both sides to fft_length (torch.stft with win_length < n_fft).
    std::vector<float> win;
    const Json& wj = spec.config.contains("window") ? spec.config["window"] : Json("hann");
    if (wj.is_null()) {
      win.assign(static_cast<size_t>(seq_len_), 1.f);
    } else if (wj.is_string()) {
      std::string kind = wj.get<std::string>();
      if (kind != "hann" && kind != "hamming") c.fail("'window' must be \"hann\" or \"hamming\", got '" + kind + "'");
      win = periodic_window(kind, seq_len_);
    } else if (wj.is_array() && static_cast<int64_t>(wj.size()) == seq_len_) {
      for (const Json& v : wj) {
        if (!v.is_number()) c.fail("'window' values must be numbers");
        win.push_back(static_cast<float>(v.get<double>()));
      }
    } else {
      c.fail("'window' must be a name or a list of sequence_length numbers");
    }
    window_.assign(static_cast<size_t>(fft_), 0.f);
    std::copy(win.begin(), win.end(), window_.begin() + (fft_ - seq_len_) / 2);

    bins_ = fft_ / 2 + 1;
    mel_bins_ = mel_bins;
    filterbank_ = mel_filterbank(bins_, mel_bins, static_cast<float>(sampling_rate), static_cast<float>(min_freq),
                                 static_cast<float>(max_freq));
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "MelSpectrogram");
    const Shape& s = in[0];
    if (s.size() != 1 && s.size() != 2)
      throw Error(where_ + ": expects (samples) or (batch, samples), got " + shape_to_string(s));
    int64_t len = s.back();
    if (len >= 0 && len <= fft_ / 2)
      throw Error(where_ + ": a signal of " + std::to_string(len) + " samples is too short for the reflect padding of " +
                  std::to_string(fft_ / 2) + " samples");
    int64_t frames = len < 0 ? -1 : 1 + (len + 2 * (fft_ / 2) - fft_) / stride_;
    if (s.size() == 1) return {{mel_bins_, frames}};
    return {{s[0], mel_bins_, frames}};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const auto& s = in[0].shape;
    int64_t batch = s.size() == 2 ? s[0] : 1, len = s.back();
    int64_t frames = out[0].shape.back();
    const int64_t pad = fft_ / 2;
    // Twiddles in double; table index is (k * n) mod fft.
    std::vector<double> cos_t(static_cast<size_t>(fft_)), sin_t(static_cast<size_t>(fft_));
    for (int64_t m = 0; m < fft_; ++m) {
      double a = 2.0 * std::numbers::pi * static_cast<double>(m) / static_cast<double>(fft_);
      cos_t[m] = std::cos(a);
      sin_t[m] = std::sin(a);
    }
    std::vector<float> frame(static_cast<size_t>(fft_)), spec(static_cast<size_t>(bins_));
    std::vector<float> mel(static_cast<size_t>(batch * frames * mel_bins_));  // (batch, frames, mel)
    for (int64_t b = 0; b < batch; ++b) {
      const float* x = in[0].data + b * len;
      for (int64_t t = 0; t < frames; ++t) {
        for (int64_t n = 0; n < fft_; ++n) {
          int64_t p = t * stride_ + n - pad;  // reflect (edge not repeated)
          if (p < 0) p = -p;
          if (p >= len) p = 2 * (len - 1) - p;
          frame[n] = x[p] * window_[n];
        }
        for (int64_t k = 0; k < bins_; ++k) {
          double re = 0, im = 0;
          for (int64_t n = 0; n < fft_; ++n) {
            int64_t m = (k * n) % fft_;
            re += frame[n] * cos_t[m];
            im -= frame[n] * sin_t[m];
          }
          float fr = static_cast<float>(re), fi = static_cast<float>(im);
          float mag = std::sqrt(fr * fr + fi * fi);
          spec[k] = std::pow(mag, mag_exp_);
        }
        float* row = mel.data() + (b * frames + t) * mel_bins_;
        matmul(1, 1, bins_, mel_bins_, row_major(spec.data(), bins_), row_major(filterbank_.data(), mel_bins_),
               row_major(row, mel_bins_), MatmulSum::kDouble);
      }
    }
    if (power_to_db_) to_db(mel);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < frames; ++t)
        for (int64_t m = 0; m < mel_bins_; ++m)
          out[0].data[(b * mel_bins_ + m) * frames + t] = mel[(b * frames + t) * mel_bins_ + m];
  }

 private:
  static float hz_to_mel(float f) { return 1127.0f * std::log(1.0f + f / 700.0f); }

  // Keras's linspace for tensor endpoints: start + (i / (num - 1)) * (stop - start), in float32.
  static std::vector<float> linspace(float start, float stop, int64_t num) {
    std::vector<float> v(static_cast<size_t>(num));
    for (int64_t i = 0; i < num; ++i)
      v[i] = start + static_cast<float>(i) / static_cast<float>(num - 1) * (stop - start);
    return v;
  }

  // (bins, mel) triangles on the HTK mel scale with peak 1; the DC bin's row is zero.
  static std::vector<float> mel_filterbank(int64_t bins, int64_t mel_bins, float sampling_rate, float lo_hz,
                                           float hi_hz) {
    std::vector<float> freqs = linspace(0.f, sampling_rate / 2.0f, bins);
    std::vector<float> edges = linspace(hz_to_mel(lo_hz), hz_to_mel(hi_hz), mel_bins + 2);
    std::vector<float> m(static_cast<size_t>(bins * mel_bins), 0.f);
    for (int64_t k = 1; k < bins; ++k) {
      float mel = hz_to_mel(freqs[k]);
      for (int64_t j = 0; j < mel_bins; ++j) {
        float lower = edges[j], center = edges[j + 1], upper = edges[j + 2];
        float up = (mel - lower) / (center - lower);
        float down = (upper - mel) / (upper - center);
        float v = std::isnan(up) || std::isnan(down) ? NAN : std::min(up, down);
        m[k * mel_bins + j] = std::isnan(v) ? v : std::max(0.f, v);
      }
    }
    return m;
  }

  // 10*log10(max(x, min_power)) relative to ref_power, floored at (max over the whole batch) - top_db.
  void to_db(std::vector<float>& x) const {
    const float ref = 10.0f * std::log10(std::max(std::fabs(ref_power_), min_power_));
    float peak = -INFINITY;
    bool nan = false;
    for (float& v : x) {
      v = 10.0f * std::log10(std::isnan(v) ? v : std::max(v, min_power_));
      v -= ref;
      nan |= std::isnan(v);
      peak = std::max(peak, v);
    }
    const float floor = nan ? NAN : peak - top_db_;
    for (float& v : x) v = std::isnan(v) || std::isnan(floor) ? NAN : std::max(v, floor);
  }

  std::string where_;
  int64_t fft_ = 0, stride_ = 0, seq_len_ = 0, bins_ = 0, mel_bins_ = 0;
  bool power_to_db_ = true;
  float top_db_ = 80.f, mag_exp_ = 2.f, min_power_ = 1e-10f, ref_power_ = 1.f;
  std::vector<float> window_;      // (fft)
  std::vector<float> filterbank_;  // (bins, mel)
};

// ---- STFTSpectrogram ----------------------------------------------------------------------------
// Each channel is convolved (stride frame_step, "valid" or "same" zero padding) with the stored
// kernels real_kernel / imag_kernel of shape (frame_length, 1, fft_length/2 + 1).
class StftSpectrogram : public Op {
 public:
  enum class Mode { kLog, kMagnitude, kPsd, kReal, kImag, kAngle, kStft };

  explicit StftSpectrogram(const LayerSpec& spec) : where_(spec.where) {
    Config c(spec);
    std::string mode = c.str("mode", "log");
    if (mode == "log") mode_ = Mode::kLog;
    else if (mode == "magnitude") mode_ = Mode::kMagnitude;
    else if (mode == "psd") mode_ = Mode::kPsd;
    else if (mode == "real") mode_ = Mode::kReal;
    else if (mode == "imag") mode_ = Mode::kImag;
    else if (mode == "angle") mode_ = Mode::kAngle;
    else if (mode == "stft") mode_ = Mode::kStft;
    else c.fail("unknown mode '" + mode + "'");
    frame_length_ = c.integer("frame_length", 256);
    if (frame_length_ < 1 || frame_length_ > kMaxFft)
      c.fail("'frame_length' must be in [1, " + std::to_string(kMaxFft) + "]");
    frame_step_ = c.integer("frame_step", frame_length_ / 2);
    if (frame_step_ < 1 || frame_step_ > frame_length_) c.fail("'frame_step' must be in [1, frame_length]");
    int64_t fft = 1;
    while (fft < frame_length_) fft *= 2;
    fft = c.integer("fft_length", fft);
    if (fft < frame_length_ || fft > kMaxFft) c.fail("'fft_length' must be in [frame_length, " + std::to_string(kMaxFft) + "]");
    freq_ = fft / 2 + 1;
    std::string padding = c.str("padding", "valid");
    if (padding != "valid" && padding != "same") c.fail("'padding' must be 'valid' or 'same'");
    same_ = padding == "same";
    expand_dims_ = c.flag("expand_dims", false);
    channels_first_ = c.channels_first();
    if (mode_ == Mode::kPsd && freq_ < 2) c.fail("mode 'psd' needs fft_length >= 2");
    Shape kshape{frame_length_, 1, freq_};
    if (mode_ != Mode::kImag) real_ = spec.weights.take("real_kernel", kshape);
    if (mode_ != Mode::kReal) imag_ = spec.weights.take("imag_kernel", kshape);
  }

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "STFTSpectrogram");
    expect_rank(in[0], 3, "STFTSpectrogram");
    int64_t batch = in[0][0], time = channels_first_ ? in[0][2] : in[0][1];
    int64_t channels = channels_first_ ? in[0][1] : in[0][2];
    if (time >= 0 && !same_ && time < frame_length_)
      throw Error(where_ + ": a signal of " + std::to_string(time) + " samples is shorter than frame_length " +
                  std::to_string(frame_length_));
    int64_t frames = conv_output_length(time, frame_length_, frame_step_, 1, same_ ? "same" : "valid");
    int64_t f = out_freq();
    if (expand_dims_)
      return {channels_first_ ? Shape{batch, channels, frames, f} : Shape{batch, frames, f, channels}};
    int64_t cf = channels < 0 ? -1 : channels * f;
    return {channels_first_ ? Shape{batch, cf, frames} : Shape{batch, frames, cf}};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    const auto& s = in[0].shape;
    const int64_t batch = s[0], time = channels_first_ ? s[2] : s[1], channels = channels_first_ ? s[1] : s[2];
    const int64_t frames = conv_output_length(time, frame_length_, frame_step_, 1, same_ ? "same" : "valid");
    const int64_t pad = same_ ? same_pad_front(time, frame_length_, frame_step_, 1) : 0;
    const int64_t f_out = out_freq();
    std::vector<float> re(static_cast<size_t>(freq_)), im(static_cast<size_t>(freq_)), values(static_cast<size_t>(f_out));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t ch = 0; ch < channels; ++ch) {
        auto sample = [&](int64_t t) {
          return channels_first_ ? in[0].data[(b * channels + ch) * time + t] : in[0].data[(b * time + t) * channels + ch];
        };
        for (int64_t t = 0; t < frames; ++t) {
          correlate(real_, t, pad, time, sample, re);
          correlate(imag_, t, pad, time, sample, im);
          combine(re, im, values);
          for (int64_t f = 0; f < f_out; ++f) out[0].data[out_index(b, ch, t, f, channels, frames)] = values[f];
        }
      }
  }

 private:
  int64_t out_freq() const { return mode_ == Mode::kStft ? 2 * freq_ : freq_; }

  // The layout Keras's _adjust_shapes gives (b, channel, frame, frequency).
  int64_t out_index(int64_t b, int64_t ch, int64_t t, int64_t f, int64_t channels, int64_t frames) const {
    const int64_t nf = out_freq();
    if (channels_first_)
      return expand_dims_ ? ((b * channels + ch) * frames + t) * nf + f : ((b * channels + ch) * nf + f) * frames + t;
    return expand_dims_ ? ((b * frames + t) * nf + f) * channels + ch : (b * frames + t) * channels * nf + ch * nf + f;
  }

  template <class Sample>
  void correlate(const std::vector<float>& kernel, int64_t t, int64_t pad, int64_t time, const Sample& sample,
                 std::vector<float>& out) const {
    if (kernel.empty()) return;
    for (int64_t f = 0; f < freq_; ++f) {
      double acc = 0;
      for (int64_t k = 0; k < frame_length_; ++k) {
        int64_t p = t * frame_step_ + k - pad;
        if (p < 0 || p >= time) continue;  // zero padding
        acc += static_cast<double>(sample(p)) * kernel[k * freq_ + f];
      }
      out[f] = static_cast<float>(acc);
    }
  }

  void combine(const std::vector<float>& re, const std::vector<float>& im, std::vector<float>& v) const {
    const float eps = 1e-7f;
    for (int64_t f = 0; f < freq_; ++f) {
      float power = re[f] * re[f] + im[f] * im[f];
      switch (mode_) {
        case Mode::kReal: v[f] = re[f]; break;
        case Mode::kImag: v[f] = im[f]; break;
        case Mode::kAngle: v[f] = std::atan2(im[f], re[f]); break;
        case Mode::kStft:
          v[f] = re[f];
          v[freq_ + f] = im[f];
          break;
        case Mode::kPsd: v[f] = f > 0 && f < freq_ - 1 ? power + power : power; break;  // one-sided: interior doubled
        case Mode::kMagnitude: v[f] = std::sqrt(std::max(power, eps)); break;
        case Mode::kLog: v[f] = std::log(std::max(std::sqrt(std::max(power, eps)), eps)); break;
      }
    }
  }

  std::string where_;
  Mode mode_ = Mode::kLog;
  int64_t frame_length_ = 0, frame_step_ = 0, freq_ = 0;
  bool same_ = false, expand_dims_ = false, channels_first_ = false;
  std::vector<float> real_, imag_;  // (frame_length, freq)
};

}  // namespace

void register_audio_preprocessing(const AddLayer& add) {
  add("MelSpectrogram", [](const LayerSpec& s) { return std::make_shared<MelSpectrogram>(s); });
  add("STFTSpectrogram", [](const LayerSpec& s) { return std::make_shared<StftSpectrogram>(s); });
}

}  // namespace kerasrt::layers
