// What every recurrent kernel (rnn and conv_lstm, reference and fast) does around its cell math, in
// one place so that mask and output semantics cannot drift apart between them:
// - after a step, a masked sample keeps every state and repeats its previous output (zeros with
//   zero_output_for_mask);
// - the step's output lands at its time index (mirrored with reverse_output);
// - at the start, the states come from the initial-state inputs or are zeros;
// - at the end, the last output and the states are written out.
// States are `states` blocks of n = batch * width floats each; outputs are (batch, width).
// Also here: LSTM's state update, which the LSTM and ConvLSTM kernels share.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>

#include <kerasrt/kerasrt.hpp>

namespace kerasrt::kernels {

struct RecurrentWalk {
  int64_t batch = 0, steps = 0, width = 0, states = 0;
  bool return_sequences = false, return_state = false, reverse_output = false, zero_output_for_mask = false;
  const float* mask = nullptr;  // (batch, steps), nonzero = use the step; null: no mask
  int64_t n() const { return batch * width; }

  // Before the first step: the states from the call's inputs 1.. (initial_states) or zeros, and a
  // zero previous output (what a sample masked from the start repeats).
  void start(float* prev, float* y_prev, std::span<const ConstTensorView> in, bool initial_states) const {
    const int64_t count = n();
    for (int64_t k = 0; k < states; ++k) {
      float* p = prev + k * count;
      if (initial_states) std::copy_n(static_cast<const float*>(in[1 + k].data), count, p);
      else std::fill(p, p + count, 0.f);
    }
    std::fill(y_prev, y_prev + count, 0.f);
  }

  // After step t (which read input time `src`): the step's output y_t from the new hidden state h,
  // masked samples carried over from prev/y_prev, and the output written into the sequence. Then the
  // buffers trade places: next and y_t become the previous state and output for the next step.
  void finish_step(int64_t t, int64_t src, const float* h, float*& prev, float*& next, float*& y_prev, float*& y_t,
                   std::span<const TensorView> out) const {
    const int64_t s = width, count = n();
    for (int64_t b = 0; b < batch; ++b) {
      float* yb = y_t + b * s;
      if (!mask || mask[b * steps + src] != 0.f) {
        std::copy(h + b * s, h + (b + 1) * s, yb);
        continue;
      }
      for (int64_t k = 0; k < states; ++k)
        std::copy(prev + k * count + b * s, prev + k * count + (b + 1) * s, next + k * count + b * s);
      if (zero_output_for_mask) std::fill(yb, yb + s, 0.f);
      else std::copy(y_prev + b * s, y_prev + (b + 1) * s, yb);
    }
    if (return_sequences) {
      float* seq = static_cast<float*>(out[0].data);
      const int64_t at = reverse_output ? steps - 1 - t : t;
      for (int64_t b = 0; b < batch; ++b) std::copy(y_t + b * s, y_t + (b + 1) * s, seq + (b * steps + at) * s);
    }
    std::swap(y_prev, y_t);
    std::swap(prev, next);
  }

  // After the last step: the last output (unless the sequence was returned) and the states.
  void finish(const float* y_last, const float* states_now, std::span<const TensorView> out) const {
    const int64_t count = n();
    if (!return_sequences) std::copy(y_last, y_last + count, static_cast<float*>(out[0].data));
    if (return_state)
      for (int64_t k = 0; k < states; ++k)
        std::copy(states_now + k * count, states_now + (k + 1) * count, static_cast<float*>(out[1 + k].data));
  }
};

// LSTM's state update from its activated gates (i, f, g, o: n floats each): c = f·c_prev + i·g and
// h = cell_activation(c)·o; cell_activation(c, h) writes the activation of c into h.
template <class CellActivation>
void lstm_update(const float* gate, const float* c_prev, float* c, float* h, int64_t n,
                 CellActivation&& cell_activation) {
  const float *gi = gate, *gf = gate + n, *gg = gate + 2 * n, *go = gate + 3 * n;
  for (int64_t i = 0; i < n; ++i) c[i] = gf[i] * c_prev[i] + gi[i] * gg[i];
  cell_activation(c, h);
  for (int64_t i = 0; i < n; ++i) h[i] *= go[i];
}

}  // namespace kerasrt::kernels
