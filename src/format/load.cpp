#include "format/load.hpp"

#include "api/tensor_arena.hpp"
#include "format/graph_builder.hpp"
#include "io/hdf5.hpp"
#include "io/npy.hpp"
#include "io/text.hpp"
#include "io/zip.hpp"

namespace kerasrt::format {
namespace {

constexpr uint64_t kMaxConfigBytes = uint64_t{256} << 20;
constexpr uint64_t kMaxModelBytes = uint64_t{16} << 30;
constexpr int kMaxJsonDepth = 256;

bool looks_like_zip(std::span<const uint8_t> b) { return b.size() >= 4 && b[0] == 'P' && b[1] == 'K'; }

// Deeper nesting than any Keras config has would only make the recursive walks below deep.
void check_depth(const Json& j, const std::string& what) {
  std::vector<std::pair<const Json*, int>> stack{{&j, 1}};
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    if (d > kMaxJsonDepth) throw Error(what + ": the JSON is nested implausibly deep");
    if (v->is_structured())
      for (const Json& c : *v) stack.emplace_back(&c, d + 1);
  }
}

Json parse_json(std::string_view text, const std::string& what) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(what + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  check_depth(j, what);
  return j;
}

// Some writers wrap the model object ({"model_config": {...}}); unwrap to {"class_name", "config"}.
Json& model_object(Json& j, const std::string& what) {
  if (j.is_object() && j.contains("class_name") && j.contains("config")) return j;
  if (j.is_object() && j.contains("model_config")) return model_object(j["model_config"], what);
  throw Error(what + ": the JSON is not a Keras model (no class_name/config)");
}

std::unique_ptr<WeightSource> weights_from_h5(const io::H5File& f) {
  io::H5Group root = f.root();
  if (root.has_group("model_weights")) return legacy_weights(root.group("model_weights"), f.name());
  if (root.has_attr("layer_names") || root.has_attr("layer_names0")) return legacy_weights(root, f.name());
  if (root.has_group("layers") || root.has_group("vars") || root.has_group("_layer_checkpoint_dependencies"))
    return keras3_weights(root, f.name());
  for (const auto& c : root.children())
    if (c.rfind("_layer_checkpoint_dependencies\\", 0) == 0) return keras3_weights(root, f.name());
  throw Error(f.name() + ": no Keras weights found (neither Keras 3 'layers/...' groups nor a 'layer_names' attribute)");
}

// The keras_version and backend attributes of an HDF5 file's root ("" where absent).
SavedBy saved_by_h5(const io::H5Group& root) {
  SavedBy s;
  if (auto v = root.attr_string("keras_version")) s.keras_version = *v;
  if (auto b = root.attr_string("backend")) s.backend = *b;
  return s;
}

ir::Graph build_with_config(Json j, const WeightSource& ws, const std::string& name, const SavedBy& saved_by,
                            const LoadLimits& limits) {
  try {
    return build_graph(std::move(model_object(j, name)), ws, name, saved_by, limits);
  } catch (const Json::exception& e) {
    throw Error(name + ": malformed model config (" + std::string(e.what()) + ")");
  }
}

// Every failure leaves as one printable line, whatever threw it. The tensors made meanwhile (the
// weights) go into one arena of the model's own.
template <typename F>
ir::Graph guarded(const std::string& name, F&& load) {
  try {
    detail::ScopedTensorArena arena;
    return load();
  } catch (const Error& e) {
    throw Error(io::printable(e.what()));
  } catch (const std::bad_alloc&) {
    throw Error(io::printable(name) + ": out of memory while loading");
  } catch (const std::exception& e) {
    throw Error(io::printable(name + ": cannot load (" + e.what() + ")"));
  }
}

ir::Graph keras_archive(std::span<const uint8_t> bytes, const std::string& name, const LoadLimits& limits);

// `bytes.owner`, when set, keeps the bytes for reading weights in place.
ir::Graph legacy_h5(io::SharedBytes bytes, const std::string& name, const LoadLimits& limits) {
  if (looks_like_zip(bytes.bytes) && !io::H5File::looks_like_hdf5(bytes.bytes)) return keras_archive(bytes.bytes, name, limits);
  io::H5File h5 = io::H5File::open_shared(std::move(bytes), name);
  io::H5Group root = h5.root();
  std::vector<std::string> cfg = chunked_attr_strings(root, "model_config");
  if (cfg.empty()) {
    if (root.has_group("layers") || root.has_attr("layer_names") || root.has_attr("layer_names0"))
      throw Error(name + ": this file holds weights only; pass the model's JSON and this file as --weights");
    throw Error(name + ": not a Keras model file (no 'model_config' attribute)");
  }
  std::string text;
  for (const auto& part : cfg) text += part;
  Json j = parse_json(text, name + " (model_config)");
  std::unique_ptr<WeightSource> ws =
      root.has_group("model_weights") ? legacy_weights(root.group("model_weights"), name)
                                      : no_weights(name, "the file has no model_weights group");
  return build_with_config(std::move(j), *ws, name, saved_by_h5(root), limits);
}

ir::Graph keras_zip(const io::ZipReader& zip, const std::string& name, const LoadLimits& limits);

io::ZipLimits zip_limits(const LoadLimits& limits) {
  return {limits.max_archive_bytes, limits.max_compression_ratio, uint64_t{1} << 20};
}

ir::Graph keras_archive(std::span<const uint8_t> bytes, const std::string& name, const LoadLimits& limits) {
  // Some files named .keras are legacy HDF5 models.
  if (io::H5File::looks_like_hdf5(bytes)) return legacy_h5({nullptr, bytes}, name, limits);
  return keras_zip(io::ZipReader::from_memory(bytes, name, zip_limits(limits)), name, limits);
}

ir::Graph keras_zip(const io::ZipReader& zip, const std::string& name, const LoadLimits& limits) {
  if (!zip.has("config.json")) throw Error(name + ": not a Keras 3 archive (no config.json inside)");
  auto cfg = zip.read("config.json", std::min(kMaxConfigBytes, limits.max_entry_bytes));
  Json j = parse_json(std::string_view(reinterpret_cast<const char*>(cfg.data()), cfg.size()), name + ":config.json");
  SavedBy saved_by;
  if (zip.has("metadata.json")) {
    auto meta = zip.read("metadata.json", kMaxConfigBytes);
    Json m = parse_json(std::string_view(reinterpret_cast<const char*>(meta.data()), meta.size()), name + ":metadata.json");
    if (m.is_object() && m.contains("keras_version") && m["keras_version"].is_string())
      saved_by.keras_version = m["keras_version"].get<std::string>();
  }
  if (zip.has("model.weights.h5")) {
    auto w = zip.read_shared("model.weights.h5", std::min(kMaxModelBytes, limits.max_entry_bytes));
    io::H5File h5 = io::H5File::open_shared(std::move(w), name + ":model.weights.h5");
    auto ws = keras3_weights(h5.root(), h5.name());
    return build_with_config(std::move(j), *ws, name, saved_by, limits);
  }
  if (zip.has("model.weights.json") || zip.has("model.weights.npz"))
    throw Error(name + ": sharded or npz weights inside the archive are not supported");
  auto ws = no_weights(name, "the archive holds no model.weights.h5");
  return build_with_config(std::move(j), *ws, name, saved_by, limits);
}

ir::Graph config_json(const std::string& json, io::SharedBytes weights, const std::string& name,
                         const std::string& weights_name, const LoadLimits& limits) {
  Json j = parse_json(json, name);
  // Keras 2's to_json() records the release; Keras 3's does not, nor do its weights files.
  SavedBy saved_by;
  auto text = [&](const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  saved_by.keras_version = text("keras_version");
  saved_by.backend = text("backend");
  if (weights.bytes.empty()) {
    auto ws = no_weights(name, "no weights file was given", true);
    return build_with_config(std::move(j), *ws, name, saved_by, limits);
  }
  io::H5File h5 = io::H5File::open_shared(std::move(weights), weights_name);
  if (saved_by.keras_version.empty()) saved_by = saved_by_h5(h5.root());
  auto ws = weights_from_h5(h5);
  return build_with_config(std::move(j), *ws, name, saved_by, limits);
}

}  // namespace

ir::Graph load_keras_archive(std::span<const uint8_t> bytes, const std::string& name, const LoadLimits& limits) {
  return guarded(name, [&] { return keras_archive(bytes, name, limits); });
}

ir::Graph load_legacy_h5(std::span<const uint8_t> bytes, const std::string& name, const LoadLimits& limits) {
  return guarded(name, [&] { return legacy_h5({nullptr, bytes}, name, limits); });
}

ir::Graph load_config_json(const std::string& json, std::span<const uint8_t> weights, const std::string& name,
                           const std::string& weights_name, const LoadLimits& limits) {
  return guarded(name, [&] { return config_json(json, {nullptr, weights}, name, weights_name, limits); });
}

ir::Graph load_path(const std::string& path, const std::string& weights_path, const LoadLimits& limits) {
  return guarded(path, [&] {
    std::shared_ptr<const io::ByteBuffer> file = io::read_file_buffer(path, kMaxModelBytes);
    std::span<const uint8_t> bytes = file->bytes();
    auto ends_with = [&](const char* ext) {
      std::string p = path;
      for (char& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return p.ends_with(ext);
    };
    bool zip = looks_like_zip(bytes);
    bool h5 = io::H5File::looks_like_hdf5(bytes);
    if (bytes.empty()) throw Error(path + ": the file is empty");
    if (!zip && !h5 && (ends_with(".json") || bytes[0] == '{' || std::isspace(bytes[0]))) {
      if (weights_path.empty()) {
        // A config alone is enough for a model without weights; one with weights says so per layer.
        return config_json(std::string(bytes.begin(), bytes.end()), {}, path, "", limits);
      }
      std::shared_ptr<const io::ByteBuffer> w = io::read_file_buffer(weights_path, kMaxModelBytes);
      if (w->size() == 0) throw Error(weights_path + ": the weights file is empty");
      std::span<const uint8_t> wb = w->bytes();
      return config_json(std::string(bytes.begin(), bytes.end()), {std::move(w), wb}, path, weights_path, limits);
    }
    if (!weights_path.empty())
      throw Error(path + ": a " + std::string(zip ? ".keras archive" : "full-model .h5") +
                  " carries its own weights; drop --weights");
    if (zip && !h5) return keras_zip(io::ZipReader::from_shared(std::move(file), path, zip_limits(limits)), path, limits);
    if (h5) return legacy_h5({std::move(file), bytes}, path, limits);
    throw Error(path + ": not a Keras model file (expected a .keras zip, an HDF5 .h5 or a .json config)");
  });
}

}  // namespace kerasrt::format
