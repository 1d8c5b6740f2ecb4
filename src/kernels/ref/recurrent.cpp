// Reference recurrent kernel: the time loop of Keras's backend rnn() with plain loops per sample
// and unit. go_backwards walks the time axis from the end and returns sequences in walking order (or
// reversed with reverse_output); at a masked step every state keeps its value and the output
// repeats the previous one (zeros before the first step, or always zeros with zero_output_for_mask).
#include <algorithm>

#include "ir/recurrent.hpp"
#include "kernels/recurrent_walk.hpp"
#include "kernels/ref/ref.hpp"

namespace kerasrt::kernels::ref {
namespace {

struct Dims {
  int64_t batch, steps, in, units, gates, states;
};

Dims dims_of(const ir::RnnAttrs& a, std::span<const int64_t> x) {
  return {x[0], x[1], a.in, a.units, ir::rnn_gates(a.cell), ir::rnn_state_count(a.cell)};
}

// Floats of scratch: states before and after a step, the previous and current outputs, the input
// and recurrent projections, one (batch, units) array per gate, and the activations' scratch.
int64_t scratch_floats(const Dims& d) {
  const int64_t n = d.batch * d.units;
  return 2 * d.states * n + 2 * n + 2 * d.batch * d.gates * d.units + d.gates * n + d.units;
}

size_t rnn_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  return static_cast<size_t>(scratch_floats(dims_of(node.as<ir::RnnAttrs>(), in[0].shape))) * sizeof(float);
}

void run_rnn(const KernelCall& c) {
  const auto& a = c.node.as<ir::RnnAttrs>();
  const Dims d = dims_of(a, c.in[0].shape);
  const int64_t u = d.units, gu = d.gates * u, n = d.batch * u;
  const float* xs = static_cast<const float*>(c.in[0].data);
  const float* mask = a.has_mask ? static_cast<const float*>(c.in.back().data) : nullptr;
  const RecurrentWalk walk{d.batch, d.steps, u, d.states, a.return_sequences, a.return_state, a.reverse_output, a.zero_output_for_mask, mask};
  const float* K = c.node.weight(0).values<float>().data();
  const float* R = c.node.weight(1).values<float>().data();
  const float* bias = a.has_bias ? c.node.weight(2).values<float>().data() : nullptr;
  const float* rec_bias = a.cell == ir::RnnCell::kGru && a.reset_after && bias ? bias + gu : nullptr;

  float* prev = reinterpret_cast<float*>(c.ctx.scratch.data());
  float* next = prev + d.states * n;
  float* y_prev = next + d.states * n;
  float* y_t = y_prev + n;
  float* z = y_t + n;        // (batch, gates*units): bias + x·kernel (+ h·recurrent for simple, lstm)
  float* zh = z + d.batch * gu;  // gru: (batch, gates*units): h·recurrent (+ recurrent bias)
  float* gate = zh + d.batch * gu;  // gate k at gate + k*n, (batch, units)
  float* act_scratch = gate + d.gates * n;

  walk.start(prev, y_prev, c.in, a.initial_states);

  for (int64_t t = 0; t < d.steps; ++t) {
    const int64_t src = a.go_backwards ? d.steps - 1 - t : t;
    const float* h_prev = prev;
    // z = bias + x·kernel, plus h·recurrent for the cells whose gates all see it.
    for (int64_t b = 0; b < d.batch; ++b) {
      const float* x = xs + (b * d.steps + src) * d.in;
      for (int64_t col = 0; col < gu; ++col) {
        float acc = bias ? bias[col] : 0.f;
        for (int64_t k = 0; k < d.in; ++k) acc += x[k] * K[k * gu + col];
        if (a.cell != ir::RnnCell::kGru)
          for (int64_t m = 0; m < u; ++m) acc += h_prev[b * u + m] * R[m * gu + col];
        z[b * gu + col] = acc;
      }
    }
    float* h = next;
    if (a.cell == ir::RnnCell::kSimple) {
      std::copy(z, z + n, h);
      apply_unary(a.activation, h, h, n, u, act_scratch);
    } else if (a.cell == ir::RnnCell::kLstm) {
      for (int k = 0; k < 4; ++k) {
        for (int64_t b = 0; b < d.batch; ++b)
          for (int64_t j = 0; j < u; ++j) gate[k * n + b * u + j] = z[b * gu + k * u + j];
        apply_unary(k == 2 ? a.activation : a.recurrent_activation, gate + k * n, gate + k * n, n, u, act_scratch);
      }
      lstm_update(gate, prev + n, next + n, h, n,
                  [&](const float* cs, float* out) { apply_unary(a.activation, cs, out, n, u, act_scratch); });
    } else {
      // gru, gates z, r, h. reset_after: h·recurrent for all three gates, the reset gate scaling the
      // candidate's part; otherwise the reset gate scales h before the candidate's product.
      float *zg = gate, *rg = gate + n, *hh = gate + 2 * n;
      const int64_t rec_cols = a.reset_after ? gu : 2 * u;
      for (int64_t b = 0; b < d.batch; ++b)
        for (int64_t col = 0; col < rec_cols; ++col) {
          float acc = rec_bias ? rec_bias[col] : 0.f;
          for (int64_t m = 0; m < u; ++m) acc += h_prev[b * u + m] * R[m * gu + col];
          zh[b * gu + col] = acc;
        }
      for (int64_t b = 0; b < d.batch; ++b)
        for (int64_t j = 0; j < u; ++j) {
          zg[b * u + j] = z[b * gu + j] + zh[b * gu + j];
          rg[b * u + j] = z[b * gu + u + j] + zh[b * gu + u + j];
        }
      apply_unary(a.recurrent_activation, zg, zg, n, u, act_scratch);
      apply_unary(a.recurrent_activation, rg, rg, n, u, act_scratch);
      for (int64_t b = 0; b < d.batch; ++b)
        for (int64_t j = 0; j < u; ++j) {
          float acc = z[b * gu + 2 * u + j];
          if (a.reset_after) {
            acc += rg[b * u + j] * zh[b * gu + 2 * u + j];
          } else {
            for (int64_t m = 0; m < u; ++m) acc += rg[b * u + m] * h_prev[b * u + m] * R[m * gu + 2 * u + j];
          }
          hh[b * u + j] = acc;
        }
      apply_unary(a.activation, hh, hh, n, u, act_scratch);
      for (int64_t i = 0; i < n; ++i) h[i] = zg[i] * h_prev[i] + (1.f - zg[i]) * hh[i];
    }
    walk.finish_step(t, src, h, prev, next, y_prev, y_t, c.out);
  }
  walk.finish(y_prev, prev, c.out);
}

}  // namespace

const Kernel kRnn{"ref", ir::OpKind::kRnn, nullptr, rnn_scratch, nullptr, run_rnn};

}  // namespace kerasrt::kernels::ref
