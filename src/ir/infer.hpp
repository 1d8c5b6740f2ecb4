// Shape and dtype inference: the output types of a node for given input types. Dimensions may be
// unknown (-1) when the format reader asks; when a plan asks, all are known.
#pragma once

#include <span>

#include "ir/graph.hpp"

namespace kerasrt::ir {

// Throws Error (without the layer name; callers add it) for inputs the node cannot take.
std::vector<TensorType> infer_types(const Node& node, std::span<const TensorType> inputs);

}  // namespace kerasrt::ir
