#include "format/keras/layer_registry.hpp"

#include "format/keras/typed_op.hpp"

#include <mutex>
#include <unordered_map>

namespace kerasrt {
namespace format {
namespace {

std::mutex g_mutex;

// The layers register_layer() supplied, by class or registered name.
std::unordered_map<std::string, LayerFactory>& table() {
  static std::unordered_map<std::string, LayerFactory> t;
  return t;
}

LayerFactory find(const std::string& key) {
  std::lock_guard lock(g_mutex);
  auto it = table().find(key);
  return it == table().end() ? LayerFactory{} : it->second;
}

std::string str_or_empty(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::shared_ptr<Op> make_layer(const Json& layer_json, Weights& weights, const std::string& file,
                               const SavedBy& saved_by) {
  LayerSpec spec = layer_spec(layer_json, weights, file, saved_by);
  const std::string& class_name = spec.class_name;
  if (class_name == "Lambda")
    throw Error(spec.where + ": a Lambda layer holds Python code (marshalled bytecode), which kerasrt never "
                "runs; rewrite it as built-in layers or register a C++ layer under a custom class");

  LayerKey key = layer_key(layer_json);
  LayerFactory factory;
  if (!key.registered.empty()) factory = find(key.registered);
  if (!factory) factory = find(key.key);
  if (!factory) {
    const std::string& registered = spec.registered_name;
    std::string reg = registered.empty() ? "none" : "'" + registered + "'";
    throw Error(spec.where + ": unknown layer class '" + class_name + "' (registered name " + reg +
                "); implement it as a kerasrt::Op and call kerasrt::register_layer(\"" +
                (registered.empty() ? class_name : registered) + "\", factory) before loading");
  }
  std::shared_ptr<Op> op = factory(spec);
  if (!op) throw Error(spec.where + ": the layer factory returned nothing");
  return op;
}

LayerKey layer_key(const Json& layer_json) {
  std::string class_name = str_or_empty(layer_json, "class_name");
  std::string registered = str_or_empty(layer_json, "registered_name");
  std::string module = str_or_empty(layer_json, "module");
  static const Json kEmpty = Json::object();
  const Json& config = layer_json.contains("config") && layer_json["config"].is_object() ? layer_json["config"] : kEmpty;
  bool op_node = module.rfind("keras.src.ops", 0) == 0 || module.rfind("keras.ops", 0) == 0;
  // Legacy .h5 files drop "module"; an op node still shows by its config: a name but not the
  // "trainable" key every saved layer config carries.
  if (module.empty() && config.contains("name") && !config.contains("trainable") &&
      (find(op_node_key(class_name)) || typed_parser(op_node_key(class_name))))
    op_node = true;
  return {op_node ? op_node_key(class_name) : class_name, registered != class_name ? registered : ""};
}

bool user_registered(const LayerKey& key) {
  std::lock_guard lock(g_mutex);
  return table().count(key.key) > 0 || (!key.registered.empty() && table().count(key.registered) > 0);
}

LayerSpec layer_spec(const Json& layer_json, Weights& weights, const std::string& file, const SavedBy& saved_by) {
  std::string class_name = str_or_empty(layer_json, "class_name");
  static const Json kEmpty = Json::object();
  const Json& config = layer_json.contains("config") && layer_json["config"].is_object() ? layer_json["config"] : kEmpty;
  std::string name = str_or_empty(config, "name");
  if (name.empty()) name = str_or_empty(layer_json, "name");
  return LayerSpec{class_name, str_or_empty(layer_json, "registered_name"), name, config, weights,
                   file + ", layer '" + name + "' (" + class_name + ")", saved_by.keras_version, saved_by.backend};
}

}  // namespace format

std::shared_ptr<Op> LayerSpec::make_sublayer(const Json& layer_json) const {
  // A wrapped layer of a typed class runs through the typed path; user registrations win.
  format::LayerKey key = format::layer_key(layer_json);
  format::TypedParser parser = format::user_registered(key) ? nullptr : format::typed_parser(key.key);
  if (parser)
    if (auto typed = parser(format::layer_spec(layer_json, weights, where, format::saved_by(*this))))
      return std::make_shared<format::TypedLayerOp>(std::move(typed), Call{});
  return format::make_layer(layer_json, weights, where, format::saved_by(*this));
}

void register_layer(const std::string& class_or_registered_name, LayerFactory factory) {
  std::lock_guard lock(format::g_mutex);
  format::table()[class_or_registered_name] = std::move(factory);
}

void unregister_layer(const std::string& class_or_registered_name) {
  std::lock_guard lock(format::g_mutex);
  format::table().erase(class_or_registered_name);
}

}  // namespace kerasrt
