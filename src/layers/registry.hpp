// The explicit map from Keras class names to layer implementations. Each layer family file
// (dense.cpp, conv.cpp, ...) has one register_* function, and registry.cpp lists them all.
#pragma once

#include <kerasrt/op.hpp>

namespace kerasrt::layers {

using AddLayer = std::function<void(const std::string& key, LayerFactory factory)>;

// Key under which raw `keras.ops` nodes of a functional config are registered ("ops:Add"),
// kept apart from layer classes of the same name (the Add merge layer).
inline std::string op_node_key(const std::string& class_name) { return "ops:" + class_name; }

// Builds the Op for one layer entry ({"class_name", "config", "registered_name", "module"}).
// Refuses Lambda layers and unknown classes with an Error that says why.
std::shared_ptr<Op> make_layer(const Json& layer_json, Weights& weights, const std::string& file);

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
LayerSpec layer_spec(const Json& layer_json, Weights& weights, const std::string& file);

// The families (one per file in src/layers/; the op nodes span op_nodes_*.cpp).

}  // namespace kerasrt::layers
