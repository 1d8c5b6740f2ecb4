// Audio preprocessing. STFTSpectrogram: an stft node over its stored DFT kernels (real_kernel /
// imag_kernel, stored as (frame_length, 1, fft_length/2 + 1) 1-D convolution kernels; only those its
// mode reads). MelSpectrogram: torch.stft of the centred, reflect-padded signal (an stft node with the
// window), the mel filterbank (a dense node whose kernel is computed here), optional decibels
// (power_to_db) and a transpose to (mel, frames).
#include <algorithm>
#include <cmath>
#include <numbers>

#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config

namespace kerasrt::format {
namespace {

constexpr int64_t kMaxFft = int64_t{1} << 16;

class StftLayer : public TypedLayer {
 public:
  StftLayer(ir::StftAttrs a, std::vector<ir::Weight> w) : attrs_(a), weights_(std::move(w)) {}
  int64_t param_count() const override {
    int64_t n = 0;
    for (const ir::Weight& w : weights_) n += w.value->size();
    return n;
  }
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    expect_one_input(call, inputs, "STFTSpectrogram");
    const Shape& s = sink.type(inputs[0]).shape;
    if (s.size() != 3) throw Error(call.where + ": STFTSpectrogram expects an input of rank 3, got " + shape_to_string(s));
    return sink.add(ir::OpKind::kStft, attrs_, weights_, {sink.cast(inputs[0], DType::kFloat32)});
  }

 private:
  ir::StftAttrs attrs_;
  std::vector<ir::Weight> weights_;
};

// torch.hann_window / hamming_window with periodic=True, in float32 as torch computes them.
std::vector<float> periodic_window(const std::string& kind, int64_t n) {
  if (n == 1) return {1.f};
  const float alpha = kind == "hann" ? 0.5f : 0.54f, beta = kind == "hann" ? 0.5f : 0.46f;
  const float step = static_cast<float>(2.0 * std::numbers::pi / static_cast<double>(n));
  std::vector<float> w(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) w[i] = std::cos(static_cast<float>(i) * step) * -beta + alpha;
  return w;
}

float hz_to_mel(float f) { return 1127.0f * std::log(1.0f + f / 700.0f); }

// Keras's linspace for tensor endpoints: start + (i / (num - 1)) * (stop - start), in float32.
std::vector<float> linspace(float start, float stop, int64_t num) {
  std::vector<float> v(static_cast<size_t>(num));
  for (int64_t i = 0; i < num; ++i) v[i] = start + static_cast<float>(i) / static_cast<float>(num - 1) * (stop - start);
  return v;
}

// (bins, mel) triangles on the HTK mel scale with peak 1; the DC bin's row is zero.
std::vector<float> mel_filterbank(int64_t bins, int64_t mel_bins, float sampling_rate, float lo_hz, float hi_hz) {
  std::vector<float> freqs = linspace(0.f, sampling_rate / 2.0f, bins);
  std::vector<float> edges = linspace(hz_to_mel(lo_hz), hz_to_mel(hi_hz), mel_bins + 2);
  std::vector<float> m(static_cast<size_t>(bins * mel_bins), 0.f);
  for (int64_t k = 1; k < bins; ++k) {
    const float mel = hz_to_mel(freqs[k]);
    for (int64_t j = 0; j < mel_bins; ++j) {
      const float lower = edges[j], center = edges[j + 1], upper = edges[j + 2];
      const float up = (mel - lower) / (center - lower);
      const float down = (upper - mel) / (upper - center);
      const float v = std::isnan(up) || std::isnan(down) ? NAN : std::min(up, down);
      m[k * mel_bins + j] = std::isnan(v) ? v : std::max(0.f, v);
    }
  }
  return m;
}

class MelLayer : public TypedLayer {
 public:
  MelLayer(ir::StftAttrs stft, ir::Weight window, ir::DenseAttrs dense, ir::Weight filterbank, bool to_db,
           ir::PowerToDbAttrs db)
      : stft_(stft), window_(std::move(window)), dense_(dense), filterbank_(std::move(filterbank)), to_db_(to_db),
        db_(db) {}
  void check_call(const Call& call) const override { positional_only(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    check_call(call);
    expect_one_input(call, inputs, "MelSpectrogram");
    const size_t rank = sink.type(inputs[0]).shape.size();
    if (rank != 1 && rank != 2)
      throw Error(call.where + ": expects (samples) or (batch, samples), got " +
                  shape_to_string(sink.type(inputs[0]).shape));
    int x = sink.add(ir::OpKind::kStft, stft_, {window_}, {sink.cast(inputs[0], DType::kFloat32)}).at(0);
    x = sink.add(ir::OpKind::kDense, dense_, {filterbank_}, {x}).at(0);
    if (to_db_) x = sink.add(ir::OpKind::kPowerToDb, db_, {}, {x}).at(0);
    ir::TransposeAttrs t{rank == 1 ? std::vector<int>{1, 0} : std::vector<int>{0, 2, 1}};
    return sink.add(ir::OpKind::kTranspose, t, {}, {x});
  }

 private:
  ir::StftAttrs stft_;
  ir::Weight window_;
  ir::DenseAttrs dense_;
  ir::Weight filterbank_;
  bool to_db_;
  ir::PowerToDbAttrs db_;
};

}  // namespace

std::shared_ptr<const TypedLayer> parse_mel_spectrogram(const LayerSpec& spec) {
  Config c(spec);
  const int64_t fft = c.integer("fft_length", 2048), stride = c.integer("sequence_stride", 512);
  const int64_t seq_len = c.integer("sequence_length", fft);
  if (fft < 2 || fft > kMaxFft) c.fail("'fft_length' must be in [2, " + std::to_string(kMaxFft) + "]");
  if (seq_len < 1 || seq_len > fft) c.fail("'sequence_length' must be in [1, fft_length]");
  if (stride < 1) c.fail("'sequence_stride' must be positive");
  const double sampling_rate = c.number("sampling_rate", 16000.0);
  const int64_t mel_bins = c.integer("num_mel_bins", 128);
  if (mel_bins < 1 || mel_bins > kMaxFft) c.fail("'num_mel_bins' must be in [1, " + std::to_string(kMaxFft) + "]");
  const double min_freq = c.number("min_freq", 20.0);
  const double max_freq = c.has("max_freq") && c.number("max_freq") != 0.0
                              ? c.number("max_freq")
                              : static_cast<double>(static_cast<int64_t>(sampling_rate / 2));
  const bool to_db = c.flag("power_to_db", true);
  ir::PowerToDbAttrs db;
  db.top_db = static_cast<float>(c.number("top_db", 80.0));
  db.min_power = static_cast<float>(c.number("min_power", 1e-10));
  const float ref_power = static_cast<float>(c.number("ref_power", 1.0));
  db.ref_db = 10.0f * std::log10(std::max(std::fabs(ref_power), db.min_power));

  // The window, zero-padded on both sides to fft_length (torch.stft with win_length < n_fft).
  std::vector<float> win;
  const Json& wj = spec.config.contains("window") ? spec.config["window"] : Json("hann");
  if (wj.is_null()) {
    win.assign(static_cast<size_t>(seq_len), 1.f);
  } else if (wj.is_string()) {
    const std::string kind = wj.get<std::string>();
    if (kind != "hann" && kind != "hamming") c.fail("'window' must be \"hann\" or \"hamming\", got '" + kind + "'");
    win = periodic_window(kind, seq_len);
  } else if (wj.is_array() && static_cast<int64_t>(wj.size()) == seq_len) {
    for (const Json& v : wj) {
      if (!v.is_number()) c.fail("'window' values must be numbers");
      win.push_back(static_cast<float>(v.get<double>()));
    }
  } else {
    c.fail("'window' must be a name or a list of sequence_length numbers");
  }
  std::vector<float> window(static_cast<size_t>(fft), 0.f);
  std::copy(win.begin(), win.end(), window.begin() + (fft - seq_len) / 2);

  ir::StftAttrs a;
  a.frame_length = a.fft_length = fft;
  a.frame_step = stride;
  a.freq = fft / 2 + 1;
  a.padding = ir::StftPadding::kReflectCenter;
  a.output = ir::StftOutput::kPower;
  a.exponent = static_cast<float>(c.number("mag_exp", 2.0));
  a.window = true;
  ir::DenseAttrs d;
  d.in = a.freq;
  d.units = mel_bins;
  d.has_bias = false;
  std::vector<float> bank = mel_filterbank(a.freq, mel_bins, static_cast<float>(sampling_rate),
                                           static_cast<float>(min_freq), static_cast<float>(max_freq));
  return std::make_shared<MelLayer>(a, weight("window", std::move(window), {fft}), d,
                                    weight("kernel", std::move(bank), {a.freq, mel_bins}), to_db, db);
}

std::shared_ptr<const TypedLayer> parse_stft_spectrogram(const LayerSpec& spec) {
  Config c(spec);
  ir::StftAttrs a;
  const std::string mode = c.str("mode", "log");
  if (mode == "log") a.output = ir::StftOutput::kLog;
  else if (mode == "magnitude") a.output = ir::StftOutput::kMagnitude;
  else if (mode == "psd") a.output = ir::StftOutput::kPsd;
  else if (mode == "real") a.output = ir::StftOutput::kReal;
  else if (mode == "imag") a.output = ir::StftOutput::kImag;
  else if (mode == "angle") a.output = ir::StftOutput::kAngle;
  else if (mode == "stft") a.output = ir::StftOutput::kComplex;
  else c.fail("unknown mode '" + mode + "'");
  a.frame_length = c.integer("frame_length", 256);
  if (a.frame_length < 1 || a.frame_length > kMaxFft)
    c.fail("'frame_length' must be in [1, " + std::to_string(kMaxFft) + "]");
  a.frame_step = c.integer("frame_step", a.frame_length / 2);
  if (a.frame_step < 1 || a.frame_step > a.frame_length) c.fail("'frame_step' must be in [1, frame_length]");
  int64_t fft = 1;
  while (fft < a.frame_length) fft *= 2;
  fft = c.integer("fft_length", fft);
  if (fft < a.frame_length || fft > kMaxFft)
    c.fail("'fft_length' must be in [frame_length, " + std::to_string(kMaxFft) + "]");
  a.fft_length = fft;
  a.freq = fft / 2 + 1;
  const std::string padding = c.str("padding", "valid");
  if (padding != "valid" && padding != "same") c.fail("'padding' must be 'valid' or 'same'");
  a.padding = padding == "same" ? ir::StftPadding::kSame : ir::StftPadding::kValid;
  a.expand_dims = c.flag("expand_dims", false);
  a.channels_first = c.channels_first();
  if (a.output == ir::StftOutput::kPsd && a.freq < 2) c.fail("mode 'psd' needs fft_length >= 2");
  // (frame_length, 1, freq) stored; the middle axis (one input channel) dropped.
  std::vector<ir::Weight> w;
  const Shape stored{a.frame_length, 1, a.freq};
  if (a.output != ir::StftOutput::kImag)
    w.push_back(weight("real", spec.weights.take("real_kernel", stored), {a.frame_length, a.freq}));
  if (a.output != ir::StftOutput::kReal)
    w.push_back(weight("imag", spec.weights.take("imag_kernel", stored), {a.frame_length, a.freq}));
  return std::make_shared<StftLayer>(a, std::move(w));
}

}  // namespace kerasrt::format
