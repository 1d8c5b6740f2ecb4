// Reference ConvLSTM kernel: rnn's time loop (see ref/recurrent.cpp) with the gate sums from two
// reference convolutions per step. The gates are taken out as arrays of the state's layout, so an
// activation over the last axis sees the axis Keras gives it (the last spatial one for channels_first).
#include <algorithm>

#include "kernels/recurrent_walk.hpp"
#include "kernels/conv_lstm_step.hpp"
#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

// Floats of scratch: the step input, states before and after a step, previous and current outputs,
// two gate sums, four gates, a conv's accumulator and the activations' scratch.
int64_t scratch_floats(const ConvLstmStep& d) {
  const int64_t n = d.batch * d.state_size;
  return d.batch * d.step_in + 4 * n + 2 * n + 2 * 4 * n + 4 * n + 4 * d.filters + d.last;
}

size_t conv_lstm_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  return static_cast<size_t>(scratch_floats(conv_lstm_step(node.as<ir::ConvLstmAttrs>(), in[0].shape))) * sizeof(float);
}

void run_conv_lstm(const KernelCall& c) {
  const auto& a = c.node.as<ir::ConvLstmAttrs>();
  const ir::ConvAttrs rec = ir::conv_lstm_recurrent(a);
  const ConvLstmStep d = conv_lstm_step(a, c.in[0].shape);
  const int64_t n = d.batch * d.state_size, f = d.filters, last = d.last, pos = d.state_size / f;
  const float* xs = static_cast<const float*>(c.in[0].data);
  const float* mask = a.has_mask ? static_cast<const float*>(c.in.back().data) : nullptr;
  const RecurrentWalk walk{d.batch, d.steps, d.state_size, 2, a.return_sequences, a.return_state, a.reverse_output, a.zero_output_for_mask, mask};
  const float* K = c.node.weight(0).values<float>().data();
  const float* R = c.node.weight(1).values<float>().data();
  const float* bias = a.input.has_bias ? c.node.weight(2).values<float>().data() : nullptr;

  float* x_t = reinterpret_cast<float*>(c.ctx.scratch.data());
  float* prev = x_t + d.batch * d.step_in;  // h, c
  float* next = prev + 2 * n;
  float* y_prev = next + 2 * n;
  float* y_t = y_prev + n;
  float* zx = y_t + n;   // conv(x_t), z_shape
  float* zh = zx + 4 * n;  // conv(h), z_shape
  float* gate = zh + 4 * n;  // gate k at gate + k*n, state layout
  float* acc = gate + 4 * n;
  float* act_scratch = acc + 4 * f;

  walk.start(prev, y_prev, c.in, a.initial_states);

  for (int64_t t = 0; t < d.steps; ++t) {
    const int64_t src = a.go_backwards ? d.steps - 1 - t : t;
    for (int64_t b = 0; b < d.batch; ++b)
      std::copy(xs + (b * d.steps + src) * d.step_in, xs + (b * d.steps + src + 1) * d.step_in, x_t + b * d.step_in);
    conv_reference(a.input, x_t, d.x_shape(), K, bias, zx, d.z_shape(), acc);
    conv_reference(rec, prev, d.state_shape(), R, nullptr, zh, d.z_shape(), acc);
    // Gate k: channels [k*f, (k+1)*f) of the sum, in the state's layout.
    for (int k = 0; k < 4; ++k) {
      float* g = gate + k * n;
      for (int64_t b = 0; b < d.batch; ++b)
        for (int64_t p = 0; p < pos; ++p)
          for (int64_t j = 0; j < f; ++j) {
            const int64_t zi = a.input.channels_first ? (b * 4 * f + k * f + j) * pos + p : (b * pos + p) * 4 * f + k * f + j;
            const int64_t si = a.input.channels_first ? (b * f + j) * pos + p : (b * pos + p) * f + j;
            g[si] = zx[zi] + zh[zi];
          }
      apply_unary(k == 2 ? a.activation : a.recurrent_activation, g, g, n, last, act_scratch);
    }
    float* h = next;
    lstm_update(gate, prev + n, next + n, h, n,
                [&](const float* cs, float* out) { apply_unary(a.activation, cs, out, n, last, act_scratch); });
    walk.finish_step(t, src, h, prev, next, y_prev, y_t, c.out);
  }
  walk.finish(y_prev, prev, c.out);
}

}  // namespace

const Kernel kConvLstm{"ref", ir::OpKind::kConvLstm, nullptr, conv_lstm_scratch, nullptr, run_conv_lstm};

}  // namespace kerasrt::kernels::ref
