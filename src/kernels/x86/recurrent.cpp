// Recurrent kernel through the packed GEMM: the input projection of every time step is one GEMM
// (batch*time rows against the kernel, packed in prepare), each step's recurrent projection another
// with batch rows; the gate arithmetic runs as flat loops over contiguous (batch, units) arrays.
#include <algorithm>

#include "ir/recurrent.hpp"
#include "kernels/recurrent_walk.hpp"
#include "kernels/gemm.hpp"
#include "kernels/ref/ref.hpp"
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

struct Packed {
  PackedB kernel;     // (in, gates*units)
  PackedB recurrent;  // (units, gates*units); gru reset-before: only the z and r columns
  PackedB candidate;  // gru reset-before: the h columns of the recurrent kernel, (units, units)
};

bool reset_before(const ir::RnnAttrs& a) { return a.cell == ir::RnnCell::kGru && !a.reset_after; }

std::shared_ptr<const void> rnn_prepare(const ir::Node& node) {
  const auto& a = node.as<ir::RnnAttrs>();
  const int64_t gu = ir::rnn_gates(a.cell) * a.units;
  const float* R = node.weight(1).values<float>().data();
  auto p = std::make_shared<Packed>();
  p->kernel = pack_b(a.in, gu, node.weight(0).values<float>().data(), gu);
  if (reset_before(a)) {
    p->recurrent = pack_b(a.units, 2 * a.units, R, gu);
    p->candidate = pack_b(a.units, a.units, R + 2 * a.units, gu);
  } else {
    p->recurrent = pack_b(a.units, gu, R, gu);
  }
  return p;
}

struct Layout {
  int64_t batch, steps, units, gates, states, n, gu;
  // Offsets in floats into the scratch.
  int64_t xp, zh, gate, prev, next, y_prev, y_t, rh, act, total;
};

Layout layout_of(const ir::RnnAttrs& a, std::span<const int64_t> x) {
  Layout l{};
  l.batch = x[0], l.steps = x[1], l.units = a.units, l.gates = ir::rnn_gates(a.cell), l.states = ir::rnn_state_count(a.cell);
  l.n = l.batch * l.units, l.gu = l.gates * l.units;
  int64_t at = 0;
  auto take = [&at](int64_t floats) {
    int64_t here = at;
    at += (floats + 15) / 16 * 16;  // keep each array 64-byte aligned
    return here;
  };
  l.xp = take(l.batch * l.steps * l.gu);
  l.zh = take(l.batch * l.gu);
  l.gate = take(l.gates * l.n);
  l.prev = take(l.states * l.n);
  l.next = take(l.states * l.n);
  l.y_prev = take(l.n);
  l.y_t = take(l.n);
  l.rh = take(l.n);
  l.act = take(l.units);
  l.total = at;
  return l;
}

size_t rnn_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  return static_cast<size_t>(layout_of(node.as<ir::RnnAttrs>(), in[0].shape).total) * sizeof(float);
}

void run_rnn(const KernelCall& c) {
  const auto& a = c.node.as<ir::RnnAttrs>();
  const auto& pk = *static_cast<const Packed*>(c.prepared);
  const Layout l = layout_of(a, c.in[0].shape);
  const int64_t u = l.units, n = l.n, gu = l.gu, B = l.batch, T = l.steps;
  float* s = reinterpret_cast<float*>(c.ctx.scratch.data());
  float *xp = s + l.xp, *zh = s + l.zh, *gate = s + l.gate, *prev = s + l.prev, *next = s + l.next;
  float *y_prev = s + l.y_prev, *y_t = s + l.y_t, *rh = s + l.rh, *act = s + l.act;
  const float* xs = static_cast<const float*>(c.in[0].data);
  const float* mask = a.has_mask ? static_cast<const float*>(c.in.back().data) : nullptr;
  const RecurrentWalk walk{B, T, u, l.states, a.return_sequences, a.return_state, a.reverse_output, a.zero_output_for_mask, mask};
  const float* bias = a.has_bias ? c.node.weight(2).values<float>().data() : nullptr;
  const float* rec_bias = a.cell == ir::RnnCell::kGru && a.reset_after && bias ? bias + gu : nullptr;
  const int64_t rec_cols = reset_before(a) ? 2 * u : gu;

  // Every step's bias + x·kernel at once: row b*T + t.
  if (bias)
    for (int64_t r = 0; r < B * T; ++r) std::copy(bias, bias + gu, xp + r * gu);
  gemm_packed(B * T, xs, a.in, pk.kernel, xp, gu, bias != nullptr, c.ctx);

  walk.start(prev, y_prev, c.in, a.initial_states);

  for (int64_t t = 0; t < T; ++t) {
    const int64_t src = a.go_backwards ? T - 1 - t : t;
    const float* h_prev = prev;
    if (rec_bias)
      for (int64_t b = 0; b < B; ++b) std::copy(rec_bias, rec_bias + gu, zh + b * gu);
    gemm_packed(B, h_prev, u, pk.recurrent, zh, rec_cols, rec_bias != nullptr, c.ctx);
    // Gate pre-activations as contiguous (batch, units) arrays: x part + h part.
    const int64_t direct = a.cell == ir::RnnCell::kGru ? 2 : l.gates;  // gru's candidate is combined below
    for (int64_t b = 0; b < B; ++b) {
      const float* xr = xp + (b * T + src) * gu;
      const float* hr = zh + b * rec_cols;
      for (int64_t k = 0; k < direct; ++k) {
        float* g = gate + k * n + b * u;
        const float* xk = xr + k * u;
        const float* hk = hr + k * u;
        for (int64_t j = 0; j < u; ++j) g[j] = xk[j] + hk[j];
      }
    }
    float* h = next;
    if (a.cell == ir::RnnCell::kSimple) {
      apply_unary(a.activation, gate, h, n, u, act, c.ctx);
    } else if (a.cell == ir::RnnCell::kLstm) {
      for (int k = 0; k < 4; ++k)
        apply_unary(k == 2 ? a.activation : a.recurrent_activation, gate + k * n, gate + k * n, n, u, act, c.ctx);
      lstm_update(gate, prev + n, next + n, h, n,
                  [&](const float* cs, float* out) { apply_unary(a.activation, cs, out, n, u, act, c.ctx); });
    } else {
      float *zg = gate, *rg = gate + n, *hh = gate + 2 * n;
      apply_unary(a.recurrent_activation, gate, gate, 2 * n, u, act, c.ctx);  // z and r, adjacent
      if (a.reset_after) {
        for (int64_t b = 0; b < B; ++b) {
          const float* xc = xp + (b * T + src) * gu + 2 * u;
          const float* hc = zh + b * gu + 2 * u;
          for (int64_t j = 0; j < u; ++j) hh[b * u + j] = xc[j] + rg[b * u + j] * hc[j];
        }
      } else {
        for (int64_t i = 0; i < n; ++i) rh[i] = rg[i] * h_prev[i];
        for (int64_t b = 0; b < B; ++b) {
          const float* xc = xp + (b * T + src) * gu + 2 * u;
          std::copy(xc, xc + u, hh + b * u);
        }
        gemm_packed(B, rh, u, pk.candidate, hh, u, true, c.ctx);
      }
      apply_unary(a.activation, hh, hh, n, u, act, c.ctx);
      for (int64_t i = 0; i < n; ++i) h[i] = zg[i] * h_prev[i] + (1.f - zg[i]) * hh[i];
    }
    walk.finish_step(t, src, h, prev, next, y_prev, y_t, c.out);
  }
  walk.finish(y_prev, prev, c.out);
}

}  // namespace

const Kernel kRnnGemm{"gemm", ir::OpKind::kRnn, nullptr, rnn_scratch, rnn_prepare, run_rnn};

}  // namespace kerasrt::kernels::x86
