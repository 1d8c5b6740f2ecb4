// ConvLSTM over a (batch, time, spatial..., channels) sequence (channels_first: (batch, time,
// channels, spatial...)): the LSTM time loop of rnn (walking order, masks, initial states, what is
// returned) with gates from two convolutions instead of matrix products.
#pragma once

#include "ir/conv.hpp"

namespace kerasrt::ir {

// z = conv(x_t; input) + conv(h; recurrent), gate blocks i, f, c, o of `filters` channels each, where
// the recurrent conv has input's rank, kernel and data format, stride and dilation 1, "same" padding,
// filters -> 4*filters channels and no bias. States h, c have the input conv's output shape per step.
// Inputs: the sequence; then h and c when initial_states; then, when has_mask, a float32 mask
// (batch, time[, 1...]), 0 marking a skipped step. Outputs: the sequence (batch, time, state...)
// (in walking order, or reversed with reverse_output) when return_sequences, else the last output
// (batch, state...); then h and c when return_state.
// Weights: "kernel" (kernel..., in_channels, 4*filters); "recurrent_kernel" (kernel..., filters,
// 4*filters); "bias" (4*filters) when input.has_bias.
struct ConvLstmAttrs {
  ConvAttrs input;  // filters = 4 * the state's channels; its activation is unused
  Activation activation{UnaryFn::kTanh};
  Activation recurrent_activation{UnaryFn::kSigmoid};
  bool return_sequences = false, return_state = false, go_backwards = false, zero_output_for_mask = false;
  bool reverse_output = false;
  bool initial_states = false, has_mask = false;
};

// The recurrent convolution's attrs.
ConvAttrs conv_lstm_recurrent(const ConvLstmAttrs& a);
// The per-step state shape (no batch) for a per-step input shape; dimensions may be -1.
Shape conv_lstm_state_shape(const ConvLstmAttrs& a, std::span<const int64_t> step_in);

}  // namespace kerasrt::ir
