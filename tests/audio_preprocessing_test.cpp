// MelSpectrogram against a naive double-precision STFT + mel filterbank written out here, and
// STFTSpectrogram's convolution, modes and layouts against hand-computed values.
#include <cmath>
#include <numbers>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

// ---- MelSpectrogram -----------------------------------------------------------------------------

struct MelSettings {
  int fft, stride, seq_len, mel_bins;
  double rate, lo_hz, hi_hz, mag_exp;
  std::string window;
  bool to_db;
  double top_db, min_power, ref_power;
};

// Output (batch, mel, frames) computed directly from the definitions.
Tensor naive_mel(const Tensor& x, const MelSettings& s) {
  const double pi = std::numbers::pi;
  int batch = static_cast<int>(x.shape[0]), len = static_cast<int>(x.shape[1]);
  int pad = s.fft / 2, frames = 1 + len / s.stride, bins = s.fft / 2 + 1;
  std::vector<double> win(s.fft, 0.0);
  for (int n = 0; n < s.seq_len; ++n) {
    double c = std::cos(2 * pi * n / s.seq_len);
    win[(s.fft - s.seq_len) / 2 + n] = s.window == "hann" ? 0.5 - 0.5 * c : 0.54 - 0.46 * c;
  }
  auto mel_of = [](double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); };
  double mlo = mel_of(s.lo_hz), mhi = mel_of(s.hi_hz);
  std::vector<double> edges(s.mel_bins + 2);
  for (int i = 0; i < s.mel_bins + 2; ++i) edges[i] = mlo + (mhi - mlo) * i / (s.mel_bins + 1);
  std::vector<double> out(static_cast<size_t>(batch) * s.mel_bins * frames);
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < frames; ++t) {
      std::vector<double> spec(bins);
      for (int k = 0; k < bins; ++k) {
        double re = 0, im = 0;
        for (int n = 0; n < s.fft; ++n) {
          int p = t * s.stride + n - pad;
          if (p < 0) p = -p;
          if (p >= len) p = 2 * (len - 1) - p;
          double v = x.floats()[b * len + p] * win[n];
          re += v * std::cos(2 * pi * k * n / s.fft);
          im -= v * std::sin(2 * pi * k * n / s.fft);
        }
        spec[k] = std::pow(std::sqrt(re * re + im * im), s.mag_exp);
      }
      for (int m = 0; m < s.mel_bins; ++m) {
        double acc = 0;
        for (int k = 1; k < bins; ++k) {
          double mel = mel_of(s.rate / 2 * k / (bins - 1));
          double w = std::min((mel - edges[m]) / (edges[m + 1] - edges[m]),
                              (edges[m + 2] - mel) / (edges[m + 2] - edges[m + 1]));
          acc += spec[k] * std::max(0.0, w);
        }
        out[(b * s.mel_bins + m) * frames + t] = acc;
      }
    }
  if (s.to_db) {
    double peak = -INFINITY;
    for (double& v : out) {
      v = 10 * std::log10(std::max(v, s.min_power)) - 10 * std::log10(std::max(std::fabs(s.ref_power), s.min_power));
      peak = std::max(peak, v);
    }
    for (double& v : out) v = std::max(v, peak - s.top_db);
  }
  Tensor r({batch, s.mel_bins, frames});
  for (size_t i = 0; i < out.size(); ++i) r.floats()[i] = static_cast<float>(out[i]);
  return r;
}

json mel_config(const MelSettings& s) {
  return {{"fft_length", s.fft},      {"sequence_stride", s.stride}, {"sequence_length", s.seq_len},
          {"window", s.window},       {"sampling_rate", s.rate},     {"num_mel_bins", s.mel_bins},
          {"min_freq", s.lo_hz},      {"max_freq", s.hi_hz},         {"power_to_db", s.to_db},
          {"top_db", s.top_db},       {"mag_exp", s.mag_exp},        {"min_power", s.min_power},
          {"ref_power", s.ref_power}};
}

TEST(AudioPreprocMelSpectrogram, PowerSpectrumThroughMelFilterbank) {
  MelSettings s{16, 8, 12, 4, 1000.0, 50.0, 450.0, 2.0, "hann", false, 80.0, 1e-10, 1.0};
  std::mt19937 rng(11);
  Tensor x = random_tensor({2, 40}, rng);
  auto op = make_op(layer("MelSpectrogram", mel_config(s)));
  auto out = run_op(*op, {x});
  EXPECT_EQ(out[0].shape, (Shape{2, 4, 6}));
  EXPECT_EQ(compare(naive_mel(x, s), out[0], 1e-5, 1e-4), "");
}

TEST(AudioPreprocMelSpectrogram, MagnitudeWithHammingWindow) {
  MelSettings s{32, 5, 32, 6, 8000.0, 0.0, 4000.0, 1.0, "hamming", false, 80.0, 1e-10, 1.0};
  std::mt19937 rng(12);
  Tensor x = random_tensor({1, 50}, rng);
  auto out = run_op(*make_op(layer("MelSpectrogram", mel_config(s))), {x});
  EXPECT_EQ(compare(naive_mel(x, s), out[0], 1e-5, 1e-4), "");
}

TEST(AudioPreprocMelSpectrogram, DecibelsFlooredBelowTheBatchPeak) {
  // A quiet and a loud signal: the floor is set by the loud one's peak, over the whole batch.
  MelSettings s{16, 4, 16, 3, 2000.0, 100.0, 900.0, 2.0, "hann", true, 20.0, 1e-10, 2.0};
  std::mt19937 rng(13);
  Tensor x = random_tensor({2, 24}, rng);
  for (int i = 0; i < 24; ++i) x.floats()[i] *= 1e-3f;
  auto out = run_op(*make_op(layer("MelSpectrogram", mel_config(s))), {x});
  Tensor ref = naive_mel(x, s);
  EXPECT_EQ(compare(ref, out[0], 1e-4, 1e-4), "");
  float peak = *std::max_element(ref.floats().begin(), ref.floats().end());
  EXPECT_NEAR(*std::min_element(out[0].floats().begin(), out[0].floats().end()), peak - 20.f, 1e-3);
}

TEST(AudioPreprocMelSpectrogram, UnbatchedShapesAndErrors) {
  MelSettings s{16, 8, 16, 4, 1000.0, 50.0, 450.0, 2.0, "hann", true, 80.0, 1e-10, 1.0};
  auto op = make_op(layer("MelSpectrogram", mel_config(s)));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{40}})[0], (Shape{4, 6}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1}})[0], (Shape{-1, 4, -1}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{2, 8}}), Error);  // shorter than the reflect pad + 1
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{2, 3, 40}}), Error);
  json bad = mel_config(s);
  bad["window"] = "blackman";
  EXPECT_THROW(make_op(layer("MelSpectrogram", bad)), Error);
  bad = mel_config(s);
  bad["sequence_length"] = 32;
  EXPECT_THROW(make_op(layer("MelSpectrogram", bad)), Error);
}

// ---- STFTSpectrogram ----------------------------------------------------------------------------

json stft_config(const char* mode, int frame_length, int step, int fft, const char* padding = "valid",
                 bool expand = false, const char* format = "channels_last") {
  return {{"mode", mode},       {"frame_length", frame_length}, {"frame_step", step},
          {"fft_length", fft},  {"window", "hann"},             {"periodic", false},
          {"scaling", nullptr}, {"padding", padding},           {"expand_dims", expand},
          {"data_format", format}};
}

TEST(AudioPreprocStft, RealModeIsAStridedCorrelation) {
  // Kernel (2, 1, 2): frequency 0 sums the frame, frequency 1 takes x[t] - x[t+1].
  Weights::Entry real{"real_kernel", {2, 1, 2}, {1, 1, 1, -1}};
  auto op = make_op(layer("STFTSpectrogram", stft_config("real", 2, 1, 2)), {real});
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3})});
  EXPECT_EQ(out[0].shape, (Shape{1, 2, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3, -1, 5, -1}));
  // "same": one zero appended at the end, so a third frame sees [3, 0].
  auto same = make_op(layer("STFTSpectrogram", stft_config("real", 2, 1, 2, "same")), {real});
  EXPECT_EQ(run_op(*same, {Tensor({1, 3, 1}, {1, 2, 3})})[0].to_floats(), (std::vector<float>{3, -1, 5, -1, 3, 3}));
}

TEST(AudioPreprocStft, ModesFromRealAndImaginaryParts) {
  // frame_length 1, fft 2: re = 2 * [1.5, 0] = [3, 0], im = 2 * [2, 0] = [4, 0].
  std::vector<Weights::Entry> kernels = {{"real_kernel", {1, 1, 2}, {1.5f, 0}}, {"imag_kernel", {1, 1, 2}, {2, 0}}};
  Tensor x({1, 1, 1}, {2});
  auto run_mode = [&](const char* mode) {
    return run_op(*make_op(layer("STFTSpectrogram", stft_config(mode, 1, 1, 2)), kernels), {x})[0].to_floats();
  };
  const float eps = 1e-7f;
  auto mag = run_mode("magnitude");
  EXPECT_FLOAT_EQ(mag[0], 5.f);
  EXPECT_FLOAT_EQ(mag[1], std::sqrt(eps));
  auto lg = run_mode("log");
  EXPECT_FLOAT_EQ(lg[0], std::log(5.f));
  EXPECT_FLOAT_EQ(lg[1], std::log(std::sqrt(eps)));
  EXPECT_EQ(run_mode("psd"), (std::vector<float>{25, 0}));
  auto angle = run_mode("angle");
  EXPECT_FLOAT_EQ(angle[0], std::atan2(4.f, 3.f));
  EXPECT_FLOAT_EQ(angle[1], 0.f);
  EXPECT_EQ(run_mode("stft"), (std::vector<float>{3, 0, 4, 0}));
  // "imag" stores only the imaginary kernel.
  auto imag = make_op(layer("STFTSpectrogram", stft_config("imag", 1, 1, 2)), {kernels[1]});
  EXPECT_EQ(run_op(*imag, {x})[0].to_floats(), (std::vector<float>{4, 0}));
}

TEST(AudioPreprocStft, PsdDoublesInteriorBins) {
  std::vector<Weights::Entry> kernels = {{"real_kernel", {1, 1, 3}, {1, 1, 1}}, {"imag_kernel", {1, 1, 3}, {0, 0, 0}}};
  auto op = make_op(layer("STFTSpectrogram", stft_config("psd", 1, 1, 4)), kernels);
  EXPECT_EQ(run_op(*op, {Tensor({1, 1, 1}, {2})})[0].to_floats(), (std::vector<float>{4, 8, 4}));
}

TEST(AudioPreprocStft, OutputLayouts) {
  Weights::Entry real{"real_kernel", {1, 1, 2}, {1, 10}};
  Tensor last({1, 2, 2}, {1, 2, 3, 4});   // (batch, time, channels)
  Tensor first({1, 2, 2}, {1, 3, 2, 4});  // (batch, channels, time), same signals
  auto flat_last = make_op(layer("STFTSpectrogram", stft_config("real", 1, 1, 2)), {real});
  EXPECT_EQ(run_op(*flat_last, {last})[0].to_floats(), (std::vector<float>{1, 10, 2, 20, 3, 30, 4, 40}));
  auto exp_last = make_op(layer("STFTSpectrogram", stft_config("real", 1, 1, 2, "valid", true)), {real});
  auto e = run_op(*exp_last, {last});
  EXPECT_EQ(e[0].shape, (Shape{1, 2, 2, 2}));
  EXPECT_EQ(e[0].to_floats(), (std::vector<float>{1, 2, 10, 20, 3, 4, 30, 40}));
  auto flat_first =
      make_op(layer("STFTSpectrogram", stft_config("real", 1, 1, 2, "valid", false, "channels_first")), {real});
  EXPECT_EQ(run_op(*flat_first, {first})[0].to_floats(), (std::vector<float>{1, 3, 10, 30, 2, 4, 20, 40}));
  auto exp_first =
      make_op(layer("STFTSpectrogram", stft_config("real", 1, 1, 2, "valid", true, "channels_first")), {real});
  EXPECT_EQ(run_op(*exp_first, {first})[0].to_floats(), (std::vector<float>{1, 10, 3, 30, 2, 20, 4, 40}));
}

TEST(AudioPreprocStft, ShapesAndErrors) {
  Weights::Entry real{"real_kernel", {4, 1, 3}, std::vector<float>(12, 0.f)};
  Weights::Entry imag{"imag_kernel", {4, 1, 3}, std::vector<float>(12, 0.f)};
  auto op = make_op(layer("STFTSpectrogram", stft_config("magnitude", 4, 2, 4)), {real, imag});
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 10, 2}})[0], (Shape{-1, 4, 6}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1, 2}})[0], (Shape{-1, -1, 6}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 3, 2}}), Error);  // shorter than a frame
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 10}}), Error);
  // fft_length defaults to the next power of two: 5 -> 8, so 5 frequencies.
  json cfg = stft_config("real", 5, 1, 0);
  cfg["fft_length"] = nullptr;
  EXPECT_NO_THROW(make_op(layer("STFTSpectrogram", cfg), {{"real_kernel", {5, 1, 5}, std::vector<float>(25, 0.f)}}));
  EXPECT_THROW(make_op(layer("STFTSpectrogram", stft_config("real", 4, 2, 4)), {{"real_kernel", {4, 1, 2}, {}}}),
               Error);
  EXPECT_THROW(make_op(layer("STFTSpectrogram", stft_config("real", 4, 2, 4)), {real, imag}), Error);  // one unused
  EXPECT_THROW(make_op(layer("STFTSpectrogram", stft_config("real", 4, 5, 4)), {real}), Error);
  EXPECT_THROW(make_op(layer("STFTSpectrogram", stft_config("spectrum", 4, 2, 4)), {real}), Error);
}

}  // namespace
}  // namespace kerasrt::testing
