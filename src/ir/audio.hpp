// Audio ops: the short-time Fourier transform of framed signals, and power to decibels.
#pragma once

#include <cstdint>

namespace kerasrt::ir {

// What an stft node yields per frequency bin of re + i*im: log(max(|z|, eps)), max(|z|, eps)
// (eps = 1e-7 on |z|^2 and |z|), the one-sided power spectrum (interior bins doubled), re, im,
// atan2(im, re), re and im side by side (2 * freq values), or |z| ^ exponent.
enum class StftOutput : uint8_t { kLog, kMagnitude, kPsd, kReal, kImag, kAngle, kComplex, kPower };

// Zero padding as a "valid" or "same" convolution, or torch.stft's centring: fft_length / 2
// samples reflected (edge not repeated) on both sides.
enum class StftPadding : uint8_t { kValid, kSame, kReflectCenter };

// Frames of frame_length samples every frame_step, each transformed to freq = fft_length / 2 + 1 bins.
// Kernel weights (window false): real and/or imag of shape (frame_length, freq) (only those the
// output needs, real first), correlated with each frame in float64; input (batch, time, channels)
// (channels_first: (batch, channels, time)); output (batch, frames, channels * f) (channels_first:
// (batch, channels * f, frames)), expand_dims: (batch, frames, f, channels) (channels_first:
// (batch, channels, frames, f)); f = freq, or 2 * freq for complex.
// Window (window true): one weight "window" of frame_length == fft_length multiplies each frame (in
// float32) before a float64 DFT; input (time) or (batch, time); output (frames, freq) or
// (batch, frames, freq).
struct StftAttrs {
  int64_t frame_length = 1, frame_step = 1, fft_length = 1, freq = 1;
  StftPadding padding = StftPadding::kValid;
  StftOutput output = StftOutput::kLog;
  float exponent = 2.f;  // kPower
  bool window = false;
  bool channels_first = false;
  bool expand_dims = false;
};

// 10 * log10(max(x, min_power)) - ref_db, floored at (its maximum over the whole tensor) - top_db;
// any NaN makes every value NaN. Float32, shape kept.
struct PowerToDbAttrs {
  float min_power = 1e-10f, ref_db = 0.f, top_db = 80.f;
};

const char* stft_output_name(StftOutput o);
const char* stft_padding_name(StftPadding p);

}  // namespace kerasrt::ir
