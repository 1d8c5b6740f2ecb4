// Turns a Keras model config (Keras 2 or Keras 3 dialect) and its weights into the neutral graph.
#pragma once

#include "format/keras/keras_version.hpp"
#include "format/weight_source.hpp"
#include "ir/graph.hpp"

namespace kerasrt::format {

// `model_json` is the whole model object ({"class_name": "Functional"|"Model"|"Sequential",
// "config": ...}); `file` names the source in errors; `saved_by` is what the file records of the
// Keras release that wrote it.
// `limits` bounds the graph's size (nodes) and its models' nesting.
ir::Graph build_graph(Json model_json, const WeightSource& weights, const std::string& file,
                      const SavedBy& saved_by = {}, const LoadLimits& limits = {});

}  // namespace kerasrt::format
