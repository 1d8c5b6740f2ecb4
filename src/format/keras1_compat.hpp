// Older Keras dialects (Keras 1, Keras 2, tf.keras) brought to what the layer factories read:
// Keras 3 class and config key names, and Keras 3 weight layouts.
#pragma once

#include <kerasrt/op.hpp>

#include "format/weight_source.hpp"

namespace kerasrt::format {

// Returns the model object with every layer config (nested models and wrapped layers included)
// rewritten into Keras 3 class and key names. Keras 3 configs pass through unchanged. Throws for
// old constructs that have no Keras 3 equivalent (a Merge with a Python function, ...).
Json keras3_dialect(Json model_json, const std::string& file);

// Converts one layer's stored arrays from a legacy writer's layout to Keras 3's: Keras 1's split
// LSTM/GRU gates and channels-first kernels, and kernels saved by the theano backend, which Keras
// flips when loading them elsewhere. `layer_json` is the layer's (already translated) entry.
void adapt_legacy_weights(const Json& layer_json, std::vector<Weights::Entry>& weights, const WriterInfo& writer,
                          const std::string& where);

}  // namespace kerasrt::format
