// One ConvLSTM step's shapes, on the stack (a kernel's run() must not allocate): the step input
// (batch, spatial..., channels), the states (the input conv's output with `filters` channels) and
// the gate sums (4*filters channels), channels first or last as the attrs say.
#pragma once

#include <array>
#include <span>

#include "ir/conv_recurrent.hpp"

namespace kerasrt::kernels {

struct ConvLstmStep {
  static constexpr size_t kMaxRank = ir::kMaxConvRank + 2;
  std::array<int64_t, kMaxRank> x{}, state{}, z{};
  size_t rank = 0;
  int64_t batch = 0, steps = 0, step_in = 1, state_size = 1, filters = 0;
  int64_t last = 1;  // the state's last axis, over which last-axis activations run
  std::span<const int64_t> x_shape() const { return {x.data(), rank}; }
  std::span<const int64_t> state_shape() const { return {state.data(), rank}; }
  std::span<const int64_t> z_shape() const { return {z.data(), rank}; }
};

// For a sequence of shape `in` (batch, time, step...).
inline ConvLstmStep conv_lstm_step(const ir::ConvLstmAttrs& a, std::span<const int64_t> in) {
  ConvLstmStep s;
  s.rank = in.size() - 1;
  s.batch = in[0];
  s.steps = in[1];
  s.filters = a.input.filters / 4;
  s.x[0] = in[0];
  for (size_t i = 2; i < in.size(); ++i) s.x[i - 1] = in[i];
  s.state = s.x;
  const size_t ch = a.input.channels_first ? 1 : s.rank - 1, first = a.input.channels_first ? 2 : 1;
  s.state[ch] = s.filters;
  for (int d = 0; d < a.input.rank; ++d) s.state[first + d] = ir::conv_axis(a.input, d, s.x[first + d]).out;
  s.z = s.state;
  s.z[ch] = a.input.filters;
  for (size_t i = 1; i < s.rank; ++i) s.step_in *= s.x[i], s.state_size *= s.state[i];
  s.last = s.state[s.rank - 1];
  return s;
}

}  // namespace kerasrt::kernels
