// Recurrent layers over a (batch, time, features) sequence: one op kind for the simple, LSTM and GRU
// cells, which share the time loop (walking order, masks, initial states, what is returned).
#pragma once

#include "ir/elementwise.hpp"

namespace kerasrt::ir {

enum class RnnCell : uint8_t { kSimple, kLstm, kGru };

// Inputs: the sequence (batch, time, in); then, when initial_states, one (batch, units) tensor per
// state; then, when has_mask, a float32 mask (batch, time[, 1...]) where 0 marks a skipped step (its
// states carry over and its output repeats the previous one, or zeros with zero_output_for_mask).
// Outputs: the sequence (batch, time, units) in walking order when return_sequences, else the last
// output (batch, units); then the final states when return_state. reverse_output writes the
// sequence in reverse walking order (after a backwards walk: input order; Bidirectional, stacked cells).
// Weights, gate blocks of `units` columns each (simple: 1; lstm: i, f, c, o; gru: z, r, h):
//   "kernel" (in, gates*units); "recurrent_kernel" (units, gates*units); when has_bias "bias"
//   (gates*units), for gru with reset_after (2, gates*units): input bias row, then recurrent bias row.
struct RnnAttrs {
  RnnCell cell = RnnCell::kSimple;
  int64_t in = 0, units = 0;
  Activation activation{UnaryFn::kTanh};
  Activation recurrent_activation{UnaryFn::kSigmoid};  // the gates' (lstm, gru)
  bool return_sequences = false, return_state = false, go_backwards = false, zero_output_for_mask = false;
  bool reset_after = true;  // gru: the reset gate scales h·recurrent_kernel (true) or h (false)
  bool has_bias = true;
  bool initial_states = false, has_mask = false;
  bool reverse_output = false;
};

int64_t rnn_gates(RnnCell c);
int64_t rnn_state_count(RnnCell c);
const char* rnn_cell_name(RnnCell c);

}  // namespace kerasrt::ir
