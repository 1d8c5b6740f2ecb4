// The legacy multi-head attention Op, kept for the calls the typed attention nodes do not cover yet
// (rank > 3 inputs attending over some of their axes, or masked); format/keras/attention.cpp builds
// it on demand.
#pragma once

#include <kerasrt/op.hpp>

namespace kerasrt::layers {

// MultiHeadAttention (grouped = false) or GroupedQueryAttention from its config and weights.
std::shared_ptr<Op> make_head_attention(const LayerSpec& spec, bool grouped);

}  // namespace kerasrt::layers
