// The user layer registry (kerasrt::register_layer in include/kerasrt/op.hpp) and how a layer entry
// of a model file is looked up: user registrations win over the typed parsers (typed_layer.hpp).
#pragma once

#include <kerasrt/op.hpp>

#include "format/keras/keras_version.hpp"

namespace kerasrt::format {

// Key under which raw `keras.ops` nodes of a functional config are looked up ("ops:Add"),
// kept apart from layer classes of the same name (the Add merge layer).
inline std::string op_node_key(const std::string& class_name) { return "ops:" + class_name; }

// Builds the Op a user registered for one layer entry ({"class_name", "config", "registered_name",
// "module"}). Refuses Lambda layers and unregistered classes with an Error that says why.
std::shared_ptr<Op> make_layer(const Json& layer_json, Weights& weights, const std::string& file,
                               const SavedBy& saved_by = {});

// What a layer entry is looked up under: its registered name when it has one of its own, and the
// class name (op_node_key for keras.ops nodes).
struct LayerKey {
  std::string key;
  std::string registered;  // "package>Class" for custom classes, else empty
};
LayerKey layer_key(const Json& layer_json);
// Whether register_layer() supplied the implementation for this entry (it then wins over typed parsers).
bool user_registered(const LayerKey& key);
// The LayerSpec make_layer builds for an entry; `layer_json` must outlive it.
LayerSpec layer_spec(const Json& layer_json, Weights& weights, const std::string& file, const SavedBy& saved_by = {});

}  // namespace kerasrt::format
