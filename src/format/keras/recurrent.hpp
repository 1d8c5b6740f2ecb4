// Recurrent layers as typed layers: SimpleRNN, LSTM, GRU, the CuDNN variants, ConvLSTM1D/2D/3D and
// RNN over cells (StackedRNNCells as a chain of rnn / conv_lstm nodes). Bidirectional needs more than TypedLayer offers: the
// walk of each half and the backward half's sequence back in input order.
#pragma once

#include "format/keras/typed_layer.hpp"
#include "ir/attrs.hpp"
#include "format/keras/call_args.hpp"  // RecurrentCallTensors

namespace kerasrt::format {

class RnnLayer : public TypedLayer {
 public:
  struct Cell {
    ir::OpKind kind = ir::OpKind::kRnn;  // or kConvLstm
    ir::Attrs attrs;                     // RnnAttrs or ConvLstmAttrs; the walk settings come from the layer
    std::vector<ir::Weight> weights;
    size_t state_count() const;
  };
  struct Walk {
    bool return_sequences = false, return_state = false, go_backwards = false, zero_output_for_mask = false;
    bool reverse_output = false;  // the sequence in reverse walking order
  };
  RnnLayer(std::string class_name, std::vector<Cell> cells, Walk walk)
      : class_name_(std::move(class_name)), cells_(std::move(cells)), walk_(walk) {}

  int64_t param_count() const override;
  void check_call(const Call& call) const override { tensors(call); }
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    return call_with(sink, call, inputs, walk_);
  }
  // A call with other walk settings (Bidirectional's halves).
  std::vector<int> call_with(NodeSink& sink, const Call& call, std::span<const int> inputs, const Walk& walk) const;

  const Walk& walk() const { return walk_; }
  size_t state_count() const;  // over all cells

 private:
  RecurrentCallTensors tensors(const Call& call) const;

  std::string class_name_;
  std::vector<Cell> cells_;
  Walk walk_;
};

}  // namespace kerasrt::format
