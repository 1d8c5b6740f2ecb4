#include "format/load.hpp"

#include "format/graph_builder.hpp"
#include "io/hdf5.hpp"
#include "io/npy.hpp"
#include "io/zip.hpp"

namespace kerasrt::format {
namespace {

constexpr uint64_t kMaxConfigBytes = uint64_t{256} << 20;
constexpr uint64_t kMaxModelBytes = uint64_t{16} << 30;

Json parse_json(const std::string& text, const std::string& what) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(what + ": not valid JSON (" + std::string(e.what()) + ")");
  }
}

// Some writers wrap the model object ({"model_config": {...}}); unwrap to {"class_name", "config"}.
const Json& model_object(const Json& j, const std::string& what) {
  if (j.is_object() && j.contains("class_name") && j.contains("config")) return j;
  if (j.is_object() && j.contains("model_config")) return model_object(j["model_config"], what);
  throw Error(what + ": the JSON is not a Keras model (no class_name/config)");
}

std::unique_ptr<WeightSource> weights_from_h5(const io::H5File& f) {
  io::H5Group root = f.root();
  if (root.has_group("model_weights")) return legacy_weights(root.group("model_weights"));
  if (root.has_attr("layer_names") || root.has_attr("layer_names0")) return legacy_weights(root);
  if (root.has_group("layers") || root.has_group("vars") || root.has_group("_layer_checkpoint_dependencies"))
    return keras3_weights(root);
  throw Error(f.name() + ": no Keras weights found (neither Keras 3 'layers/...' groups nor a 'layer_names' attribute)");
}

model::Graph build_with_config(const Json& j, const WeightSource& ws, const std::string& name) {
  try {
    return build_graph(model_object(j, name), ws, name);
  } catch (const Json::exception& e) {
    throw Error(name + ": malformed model config (" + std::string(e.what()) + ")");
  }
}

}  // namespace

model::Graph load_keras_archive(std::span<const uint8_t> bytes, const std::string& name) {
  io::ZipReader zip = io::ZipReader::from_memory(bytes, name);
  if (!zip.has("config.json")) throw Error(name + ": not a Keras 3 archive (no config.json inside)");
  auto cfg = zip.read("config.json", kMaxConfigBytes);
  Json j = parse_json(std::string(cfg.begin(), cfg.end()), name + ":config.json");
  std::unique_ptr<WeightSource> ws;
  if (zip.has("model.weights.h5")) {
    auto w = zip.read("model.weights.h5", kMaxModelBytes);
    io::H5File h5 = io::H5File::open_memory(w, name + ":model.weights.h5");
    ws = keras3_weights(h5.root());
    return build_with_config(j, *ws, name);
  }
  if (zip.has("model.weights.json") || zip.has("model.weights.npz"))
    throw Error(name + ": sharded or npz weights inside the archive are not supported yet");
  ws = no_weights();
  return build_with_config(j, *ws, name);
}

model::Graph load_legacy_h5(std::span<const uint8_t> bytes, const std::string& name) {
  io::H5File h5 = io::H5File::open_memory(bytes, name);
  io::H5Group root = h5.root();
  auto cfg = root.attr_string("model_config");
  if (!cfg) {
    if (root.has_group("layers") || root.has_attr("layer_names") || root.has_attr("layer_names0"))
      throw Error(name + ": this file holds weights only; pass the model's JSON and this file as --weights");
    throw Error(name + ": not a Keras model file (no 'model_config' attribute)");
  }
  Json j = parse_json(*cfg, name + " (model_config)");
  std::unique_ptr<WeightSource> ws =
      root.has_group("model_weights") ? legacy_weights(root.group("model_weights")) : no_weights();
  return build_with_config(j, *ws, name);
}

model::Graph load_config_json(const std::string& json, std::span<const uint8_t> weights, const std::string& name,
                              const std::string& weights_name) {
  Json j = parse_json(json, name);
  if (weights.empty()) {
    auto ws = no_weights();
    return build_with_config(j, *ws, name);
  }
  io::H5File h5 = io::H5File::open_memory(weights, weights_name);
  auto ws = weights_from_h5(h5);
  return build_with_config(j, *ws, name);
}

model::Graph load_path(const std::string& path, const std::string& weights_path) {
  auto bytes = io::read_file(path, kMaxModelBytes);
  auto ends_with = [&](const char* ext) {
    std::string p = path;
    for (char& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return p.ends_with(ext);
  };
  bool zip = bytes.size() >= 4 && bytes[0] == 'P' && bytes[1] == 'K';
  bool h5 = io::H5File::looks_like_hdf5(bytes);
  if (ends_with(".json") || (!zip && !h5 && !bytes.empty() && (bytes[0] == '{' || bytes[0] == ' ' || bytes[0] == '\n'))) {
    if (weights_path.empty())
      throw Error(path + ": an architecture JSON needs its weights file (--weights)");
    auto w = io::read_file(weights_path, kMaxModelBytes);
    return load_config_json(std::string(bytes.begin(), bytes.end()), w, path, weights_path);
  }
  if (zip) {
    if (!weights_path.empty()) throw Error(path + ": a .keras archive carries its own weights; drop --weights");
    return load_keras_archive(bytes, path);
  }
  if (h5) {
    if (!weights_path.empty()) throw Error(path + ": a full-model .h5 carries its own weights; drop --weights");
    return load_legacy_h5(bytes, path);
  }
  throw Error(path + ": not a Keras model file (expected a .keras zip, an HDF5 .h5 or a .json config)");
}

}  // namespace kerasrt::format
