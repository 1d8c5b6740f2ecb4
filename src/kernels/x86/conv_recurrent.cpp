// Fast ConvLSTM: the reference's time loop with each step's two convolutions run by the im2col +
// GEMM conv kernel (kConvGemm) on conv nodes made once in prepare(); the gates as in the reference.
#include <algorithm>

#include "kernels/recurrent_walk.hpp"
#include "kernels/conv_lstm_step.hpp"
#include "kernels/x86/x86.hpp"

namespace kerasrt::kernels::x86 {
namespace {

ir::Node conv_node(const ir::ConvAttrs& a, std::vector<ir::Weight> weights) {
  ir::Node n;
  n.kind = ir::OpKind::kConv;
  n.attrs = a;
  n.weights = std::move(weights);
  return n;
}

struct Prepared {
  ir::Node input, recurrent;
  std::shared_ptr<const void> input_packed, recurrent_packed;
};

std::shared_ptr<const void> conv_lstm_prepare(const ir::Node& node) {
  const auto& a = node.as<ir::ConvLstmAttrs>();
  auto p = std::make_shared<Prepared>();
  std::vector<ir::Weight> w{node.weights[0]};
  if (a.input.has_bias) w.push_back(node.weights[2]);
  p->input = conv_node(a.input, std::move(w));
  p->recurrent = conv_node(ir::conv_lstm_recurrent(a), {node.weights[1]});
  p->input_packed = kConvGemm.prepare(p->input);
  p->recurrent_packed = kConvGemm.prepare(p->recurrent);
  return p;
}

// Floats of the loop's own buffers (as the reference's), rounded up to whole cache lines; the
// convolutions get the scratch after them.
int64_t own_floats(const ConvLstmStep& s) {
  const int64_t n = s.batch * s.state_size;
  return (s.batch * s.step_in + 4 * n + 2 * n + 2 * 4 * n + 4 * n + s.last + 15) / 16 * 16;
}

size_t conv_lstm_scratch(const ir::Node& node, std::span<const TensorType> in, std::span<const TensorType>) {
  const auto& a = node.as<ir::ConvLstmAttrs>();
  const ConvLstmStep s = conv_lstm_step(a, in[0].shape);
  const TensorType x{Shape(s.x.begin(), s.x.begin() + s.rank), DType::kFloat32};
  const TensorType h{Shape(s.state.begin(), s.state.begin() + s.rank), DType::kFloat32};
  const TensorType z{Shape(s.z.begin(), s.z.begin() + s.rank), DType::kFloat32};
  const size_t conv = std::max(kConvGemm.scratch_bytes(conv_node(a.input, {}), std::span(&x, 1), std::span(&z, 1)),
                               kConvGemm.scratch_bytes(conv_node(ir::conv_lstm_recurrent(a), {}), std::span(&h, 1),
                                                       std::span(&z, 1)));
  return static_cast<size_t>(own_floats(s)) * sizeof(float) + conv;
}

void run_conv_lstm(const KernelCall& c) {
  const auto& a = c.node.as<ir::ConvLstmAttrs>();
  const auto& p = *static_cast<const Prepared*>(c.prepared);
  const ConvLstmStep d = conv_lstm_step(a, c.in[0].shape);
  const int64_t n = d.batch * d.state_size, f = d.filters, pos = d.state_size / f;
  const float* xs = static_cast<const float*>(c.in[0].data);
  const float* mask = a.has_mask ? static_cast<const float*>(c.in.back().data) : nullptr;
  const RecurrentWalk walk{d.batch, d.steps, d.state_size, 2, a.return_sequences, a.return_state, a.reverse_output, a.zero_output_for_mask, mask};

  float* x_t = reinterpret_cast<float*>(c.ctx.scratch.data());
  float* prev = x_t + d.batch * d.step_in;  // h, c
  float* next = prev + 2 * n;
  float* y_prev = next + 2 * n;
  float* y_t = y_prev + n;
  float* zx = y_t + n;
  float* zh = zx + 4 * n;
  float* gate = zh + 4 * n;
  float* act_scratch = gate + 4 * n;
  const ExecContext conv_ctx{c.ctx.pool, c.ctx.scratch.subspan(static_cast<size_t>(own_floats(d)) * sizeof(float))};

  walk.start(prev, y_prev, c.in, a.initial_states);

  for (int64_t t = 0; t < d.steps; ++t) {
    const int64_t src = a.go_backwards ? d.steps - 1 - t : t;
    for (int64_t b = 0; b < d.batch; ++b)
      std::copy(xs + (b * d.steps + src) * d.step_in, xs + (b * d.steps + src + 1) * d.step_in, x_t + b * d.step_in);
    const ConstTensorView x_in{x_t, d.x_shape(), DType::kFloat32}, h_in{prev, d.state_shape(), DType::kFloat32};
    const TensorView zx_out{zx, d.z_shape(), DType::kFloat32}, zh_out{zh, d.z_shape(), DType::kFloat32};
    kConvGemm.run({p.input, std::span(&x_in, 1), std::span(&zx_out, 1), conv_ctx, p.input_packed.get()});
    kConvGemm.run({p.recurrent, std::span(&h_in, 1), std::span(&zh_out, 1), conv_ctx, p.recurrent_packed.get()});
    for (int k = 0; k < 4; ++k) {
      float* g = gate + k * n;
      if (a.input.channels_first) {
        for (int64_t b = 0; b < d.batch; ++b) {
          const int64_t zo = (b * 4 + k) * f * pos;
          for (int64_t i = 0; i < f * pos; ++i) g[b * f * pos + i] = zx[zo + i] + zh[zo + i];
        }
      } else {
        for (int64_t r = 0; r < d.batch * pos; ++r)
          for (int64_t j = 0; j < f; ++j) g[r * f + j] = zx[r * 4 * f + k * f + j] + zh[r * 4 * f + k * f + j];
      }
      apply_unary(k == 2 ? a.activation : a.recurrent_activation, g, g, n, d.last, act_scratch, c.ctx);
    }
    float* h = next;
    lstm_update(gate, prev + n, next + n, h, n, [&](const float* cs, float* out) {
      apply_unary(a.activation, cs, out, n, d.last, act_scratch, c.ctx);
    });
    walk.finish_step(t, src, h, prev, next, y_prev, y_t, c.out);
  }
  walk.finish(y_prev, prev, c.out);
}

}  // namespace

const Kernel kConvLstmGemm{"gemm", ir::OpKind::kConvLstm, nullptr, conv_lstm_scratch, conv_lstm_prepare, run_conv_lstm};

}  // namespace kerasrt::kernels::x86
