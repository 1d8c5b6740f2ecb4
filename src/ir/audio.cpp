#include "ir/audio.hpp"

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {

const char* stft_output_name(StftOutput o) {
  switch (o) {
    case StftOutput::kLog: return "log";
    case StftOutput::kMagnitude: return "magnitude";
    case StftOutput::kPsd: return "psd";
    case StftOutput::kReal: return "real";
    case StftOutput::kImag: return "imag";
    case StftOutput::kAngle: return "angle";
    case StftOutput::kComplex: return "complex";
    case StftOutput::kPower: return "power";
  }
  return "?";
}

const char* stft_padding_name(StftPadding p) {
  switch (p) {
    case StftPadding::kValid: return "valid";
    case StftPadding::kSame: return "same";
    case StftPadding::kReflectCenter: return "reflect_center";
  }
  return "?";
}

namespace {

void expect_weight(const Weight& w, const Shape& shape) {
  if (w.value->shape != shape || w.value->dtype != DType::kFloat32)
    throw Error("stft weight '" + w.name + "' must be float32 of shape " + shape_to_string(shape));
}

// Frames of a signal of `time` samples (-1 unknown).
int64_t frame_count(const StftAttrs& a, int64_t time) {
  if (time < 0) return -1;
  switch (a.padding) {
    case StftPadding::kSame: return (time + a.frame_step - 1) / a.frame_step;
    case StftPadding::kValid:
      if (time < a.frame_length)
        throw Error("a signal of " + std::to_string(time) + " samples is shorter than frame_length " +
                    std::to_string(a.frame_length));
      return (time - a.frame_length) / a.frame_step + 1;
    case StftPadding::kReflectCenter:
      if (time <= a.fft_length / 2)
        throw Error("a signal of " + std::to_string(time) + " samples is too short for the reflect padding of " +
                    std::to_string(a.fft_length / 2) + " samples");
      return 1 + (time + 2 * (a.fft_length / 2) - a.frame_length) / a.frame_step;
  }
  return -1;
}

}  // namespace

std::vector<TensorType> infer_stft(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  const auto& a = node.as<StftAttrs>();
  const Shape& s = in[0].shape;
  if (in[0].dtype != DType::kFloat32) throw Error(std::string("stft takes float32, got ") + dtype_name(in[0].dtype));
  if (a.frame_length < 1 || a.frame_step < 1 || a.fft_length < a.frame_length || a.freq != a.fft_length / 2 + 1)
    throw Error("stft needs positive frame sizes and freq = fft_length / 2 + 1 >= frame_length / 2 + 1");
  if (a.window) {
    if (node.weights.size() != 1 || a.frame_length != a.fft_length) throw Error("stft needs one window of fft_length");
    expect_weight(node.weights[0], {a.fft_length});
    if (s.size() != 1 && s.size() != 2) throw Error("expects (samples) or (batch, samples), got " + shape_to_string(s));
    const int64_t frames = frame_count(a, s.back());
    if (s.size() == 1) return {{{frames, a.freq}, DType::kFloat32}};
    return {{{s[0], frames, a.freq}, DType::kFloat32}};
  }
  const size_t want = (a.output == StftOutput::kReal || a.output == StftOutput::kImag) ? 1 : 2;
  if (node.weights.size() != want) throw Error("stft needs " + std::to_string(want) + " DFT weight(s)");
  for (const Weight& w : node.weights) expect_weight(w, {a.frame_length, a.freq});
  if (a.output == StftOutput::kPower || a.padding == StftPadding::kReflectCenter)
    throw Error("stft over DFT weights has no power output or reflect padding");
  if (s.size() != 3) throw Error("stft expects an input of rank 3, got " + shape_to_string(s));
  const int64_t batch = s[0], time = a.channels_first ? s[2] : s[1], channels = a.channels_first ? s[1] : s[2];
  const int64_t frames = frame_count(a, time);
  const int64_t f = a.output == StftOutput::kComplex ? 2 * a.freq : a.freq;
  Shape out;
  if (a.expand_dims) {
    out = a.channels_first ? Shape{batch, channels, frames, f} : Shape{batch, frames, f, channels};
  } else {
    const int64_t cf = channels < 0 ? -1 : channels * f;
    out = a.channels_first ? Shape{batch, cf, frames} : Shape{batch, frames, cf};
  }
  return {{out, DType::kFloat32}};
}

std::vector<TensorType> infer_power_to_db(const Node&, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  if (in[0].dtype != DType::kFloat32)
    throw Error(std::string("power_to_db takes float32, got ") + dtype_name(in[0].dtype));
  return {in[0]};
}

}  // namespace kerasrt::ir
