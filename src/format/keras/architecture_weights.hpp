// An architecture published without its weights (model.to_json() alone) still has a structure and a
// parameter count, as Keras's model_from_json(...).summary() shows. For the common weighted layer
// classes this gives the arrays the layer would store, zero-filled, from its config and its input
// types, so the graph can be built and summarised; the graph is then marked as having no weights and
// refuses to run.
#pragma once

#include <span>

#include <kerasrt/op.hpp>

#include "ir/graph.hpp"

namespace kerasrt::format {

// The zero-filled arrays (Keras 3 layout and order) of a layer entry (Keras 3 class and key names)
// called on inputs of `in`; nullopt when the class is not one this knows (the parser then reports
// the missing weights as before). Errors name `where`.
std::optional<std::vector<Weights::Entry>> architecture_weights(const Json& entry, std::span<const ir::TensorType> in,
                                                                const std::string& where);

}  // namespace kerasrt::format
