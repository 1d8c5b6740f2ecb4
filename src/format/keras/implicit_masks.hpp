// Keras 2 and tf.keras (and Keras 3 Sequential models) carry masks implicitly: a config has no mask
// nodes. A mask made by Masking or Embedding(mask_zero=True) rides along with its tensor; each layer
// class passes it on, merges it, consumes it (RNNs, attention, GlobalAveragePooling1D) or drops it,
// as the class's compute_mask does in Keras. The graph builder keeps the mask of each value and
// asks these two functions per call, so the ir holds explicit mask tensors, as Keras 3 configs do.
#pragma once

#include <span>
#include <vector>

#include "format/keras/typed_layer.hpp"

namespace kerasrt::format {

// Adds to `call` (and `inputs`) the masks a layer of class `cls` consumes, as Keras passes them:
// `mask=` for RNNs, Bidirectional and GlobalAveragePooling1D, `mask=[query, value]` for
// Attention/AdditiveAttention, `query_mask`/`value_mask` for MultiHeadAttention. `input_masks` holds
// the mask value of each input (-1: none). A mask the call already passes explicitly wins.
void attach_implicit_masks(const std::string& cls, std::span<const int> input_masks, Call& call, std::vector<int>& inputs);

// The masks of a call's `outputs` (-1: none): made (Masking, Embedding with mask_zero), passed on
// (layers that support masking), merged (the merge layers, Concatenate) or dropped.
std::vector<int> implicit_output_masks(NodeSink& sink, const std::string& cls, const Json& config,
                                       std::span<const int> inputs, std::span<const int> input_masks,
                                       std::span<const int> outputs);

}  // namespace kerasrt::format
