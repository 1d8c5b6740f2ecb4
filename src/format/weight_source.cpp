#include "format/weight_source.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

namespace kerasrt::format {

std::vector<std::string> chunked_attr_strings(const io::H5Group& g, const std::string& name) {
  if (g.has_attr(name)) return g.attr_strings(name);
  std::vector<std::string> out;
  for (int i = 0; g.has_attr(name + std::to_string(i)); ++i) {
    auto part = g.attr_strings(name + std::to_string(i));
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

namespace {

// Keras walks an object's attributes in name order with private ("_x") ones last; where a
// layer's weights order (layer.weights, which legacy files store) differs from that walk, the
// order of its child objects is given here.
const std::map<std::string, std::vector<std::string>>& child_order() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"Bidirectional", {"forward_layer", "backward_layer"}},
      // MultiHeadAttention's sublayers are saved under its public properties ("query_dense"),
      // GroupedQueryAttention's under the private attributes; the gate has no property.
      {"MultiHeadAttention", {"query_dense", "key_dense", "_gate_dense", "value_dense", "output_dense"}},
      {"GroupedQueryAttention", {"_query_dense", "_key_dense", "_gate_dense", "_value_dense", "_output_dense"}},
      {"GroupQueryAttention", {"_query_dense", "_key_dense", "_gate_dense", "_value_dense", "_output_dense"}},
  };
  return m;
}

bool walk_before(const std::string& a, const std::string& b) {
  bool pa = !a.empty() && a[0] == '_', pb = !b.empty() && b[0] == '_';
  if (pa != pb) return pb;
  return a < b;
}

// "conv2d_transpose_2" -> ("conv2d_transpose", 2); "conv2d" -> ("conv2d", 0).
std::pair<std::string, int> split_ordinal(const std::string& leaf) {
  size_t us = leaf.rfind('_');
  if (us == std::string::npos || us + 1 == leaf.size() || leaf.size() - us > 9) return {leaf, 0};
  for (size_t i = us + 1; i < leaf.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(leaf[i]))) return {leaf, 0};
  return {leaf.substr(0, us), std::stoi(leaf.substr(us + 1))};
}

std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

// tf.keras 2.13+ wrote the v3 format with groups named "_layer_checkpoint_dependencies\<name>"
// beside the model's other trackables, numbered differently from Keras 3.
const std::string kTfLayerPrefix = "_layer_checkpoint_dependencies\\";

class Keras3Weights : public WeightSource {
 public:
  Keras3Weights(io::H5Group root, std::string file) : root_(std::move(root)), file_(std::move(file)) {}

  std::vector<Weights::Entry> weights_for(const LayerLocation& loc) const override {
    std::vector<Weights::Entry> out;
    std::string path = resolve(loc.archive_path);
    if (path.empty()) return out;
    consumed_.insert(path);
    collect(root_.group(path), path, loc.class_name, out);
    return out;
  }

  std::vector<std::string> unused() const override {
    std::vector<std::string> out;
    find_unused("", out);
    return out;
  }

  const std::string& file() const override { return file_; }

 private:
  // The group holding a layer's state. Keras 3 names it after the layer's class and its rank among
  // same-class siblings ("layers/dense_1"); when that exact group is missing (other writers number
  // differently) the same-class group of the same rank is taken.
  std::string resolve(const std::string& archive_path) const {
    if (archive_path.empty()) return "";
    if (root_.has_group(archive_path)) return archive_path;
    std::vector<std::string> segs;
    for (size_t pos = 0;;) {
      size_t slash = archive_path.find('/', pos);
      segs.push_back(archive_path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
      if (slash == std::string::npos) break;
      pos = slash + 1;
    }
    std::string cur;
    for (size_t i = 0; i < segs.size();) {
      if (segs[i] == "layers" && i + 1 < segs.size()) {
        cur = child_layer(cur, segs[i + 1]);
        if (cur.empty()) return "";
        i += 2;
      } else {
        cur = join(cur, segs[i]);
        if (!root_.has_group(cur)) return "";
        ++i;
      }
    }
    return cur;
  }

  std::string child_layer(const std::string& container, const std::string& leaf) const {
    std::string exact = join(container, "layers/" + leaf);
    if (root_.has_group(exact)) return exact;
    const auto split = split_ordinal(leaf);  // not a structured binding: the lambda below reads it
    const auto& base = split.first;
    const auto& ordinal = split.second;
    std::vector<std::pair<int, std::string>> candidates;
    auto consider = [&](const std::string& name, const std::string& path) {
      auto [b, n] = split_ordinal(name);
      if (b == base) candidates.emplace_back(n, path);
    };
    std::string layers = join(container, "layers");
    if (root_.has_group(layers))
      for (const auto& c : root_.group(layers).children()) consider(c, join(layers, c));
    io::H5Group here = container.empty() ? root_ : root_.group(container);
    for (const auto& c : here.children())
      if (c.rfind(kTfLayerPrefix, 0) == 0) consider(c.substr(kTfLayerPrefix.size()), join(container, c));
    std::sort(candidates.begin(), candidates.end());
    if (ordinal < 0 || ordinal >= static_cast<int>(candidates.size())) return "";
    const std::string& path = candidates[static_cast<size_t>(ordinal)].second;
    return root_.has_group(path) ? path : "";
  }

  static void collect(const io::H5Group& g, const std::string& path, const std::string& class_name,
                      std::vector<Weights::Entry>& out) {
    if (g.has_group("vars")) {
      io::H5Group vars = g.group("vars");
      auto names = vars.children();
      // vars are numbered 0..n-1; the HDF5 listing is in string order ("10" before "2").
      for (size_t i = 0; i < names.size(); ++i) {
        std::string key = std::to_string(i);
        std::shared_ptr<const Tensor> t = vars.read_tensor(key);
        out.push_back({path + "/vars/" + key, t->shape, {}, std::move(t)});
      }
    }
    std::vector<std::string> children;
    for (const auto& c : g.children())
      if (c != "vars" && g.has_group(c)) children.push_back(c);
    auto it = child_order().find(class_name);
    std::vector<std::string> ordered;
    if (it != child_order().end()) {
      for (const auto& c : it->second)
        if (std::find(children.begin(), children.end(), c) != children.end()) ordered.push_back(c);
    }
    std::vector<std::string> rest;
    for (const auto& c : children)
      if (std::find(ordered.begin(), ordered.end(), c) == ordered.end()) rest.push_back(c);
    std::sort(rest.begin(), rest.end(), walk_before);
    ordered.insert(ordered.end(), rest.begin(), rest.end());
    for (const auto& c : ordered) collect(g.group(c), path + "/" + c, "", out);
  }

  bool holds_arrays(const io::H5Group& g) const {
    if (g.has_group("vars") && !g.group("vars").children().empty()) return true;
    for (const auto& c : g.children())
      if (c != "vars" && g.has_group(c) && holds_arrays(g.group(c))) return true;
    return false;
  }

  // Layer groups (under "layers/" at each level) with arrays that no layer of the model asked for.
  void find_unused(const std::string& container, std::vector<std::string>& out) const {
    std::vector<std::string> layer_groups;
    std::string layers = join(container, "layers");
    if (root_.has_group(layers))
      for (const auto& c : root_.group(layers).children()) layer_groups.push_back(join(layers, c));
    io::H5Group here = container.empty() ? root_ : root_.group(container);
    for (const auto& c : here.children())
      if (c.rfind(kTfLayerPrefix, 0) == 0) layer_groups.push_back(join(container, c));
    for (const auto& p : layer_groups) {
      if (!root_.has_group(p)) continue;
      bool covered = false, inside = false;
      for (const auto& c : consumed_) {
        covered |= p == c || p.rfind(c + "/", 0) == 0;
        inside |= c.rfind(p + "/", 0) == 0;
      }
      if (covered) continue;
      if (inside) find_unused(p, out);
      else if (holds_arrays(root_.group(p))) out.push_back(p);
    }
  }

  io::H5Group root_;
  std::string file_;
  mutable std::set<std::string> consumed_;
};

class LegacyWeights : public WeightSource {
 public:
  LegacyWeights(io::H5Group group, std::string file) : group_(std::move(group)), file_(std::move(file)) {
    auto version = group_.attr_string("keras_version");
    // Keras itself takes a group without a version for Keras 1.
    writer_.legacy = true;
    writer_.major_version = version && !version->empty() && std::isdigit(static_cast<unsigned char>((*version)[0]))
                                ? (*version)[0] - '0'
                                : 1;
    if (group_.has_attr("backend")) {
      auto b = group_.attr_strings("backend");
      if (b.size() == 1) writer_.backend = b[0];
    }
  }

  std::vector<Weights::Entry> weights_for(const LayerLocation& loc) const override {
    std::vector<Weights::Entry> out;
    if (loc.names.empty()) return out;
    std::string stored = loc.names[0];
    if (!group_.has_group(stored)) {
      auto it = by_position_.find(stored);
      if (it == by_position_.end() || !group_.has_group(it->second)) return out;
      stored = it->second;
    }
    consumed_.insert(stored);
    io::H5Group g = group_.group(stored);
    for (const std::string& wname : chunked_attr_strings(g, "weight_names")) {
      if (loc.names.size() > 1 && !belongs_to(wname, loc.names.back())) continue;
      io::H5Array a = g.read(wname);
      out.push_back({wname, std::move(a.shape), std::move(a.data)});
    }
    return out;
  }

  std::vector<std::string> unused() const override {
    std::vector<std::string> out;
    for (const auto& name : chunked_attr_strings(group_, "layer_names")) {
      if (consumed_.count(name) || !group_.has_group(name)) continue;
      if (!chunked_attr_strings(group_.group(name), "weight_names").empty()) out.push_back(name);
    }
    return out;
  }

  WriterInfo writer() const override { return writer_; }
  const std::string& file() const override { return file_; }

  void set_model_layers(const std::vector<std::string>& names, const std::vector<bool>& is_input) const override {
    std::vector<std::string> stored = chunked_attr_strings(group_, "layer_names");
    std::vector<std::string> without_inputs;
    for (size_t i = 0; i < names.size(); ++i)
      if (!is_input[i]) without_inputs.push_back(names[i]);
    // Functional models list their InputLayers in the file, Sequential ones do not.
    for (const std::vector<std::string>* model : {&names, &std::as_const(without_inputs)}) {
      if (model->size() != stored.size()) continue;
      bool consistent = true;
      for (size_t i = 0; consistent && i < stored.size(); ++i)
        if ((*model)[i] != stored[i])
          consistent = std::find(stored.begin(), stored.end(), (*model)[i]) == stored.end() &&
                       std::find(model->begin(), model->end(), stored[i]) == model->end();
      if (!consistent) continue;
      for (size_t i = 0; i < stored.size(); ++i)
        if ((*model)[i] != stored[i]) by_position_[(*model)[i]] = stored[i];
      return;
    }
  }

 private:
  // Inside a nested model's group, weight names carry the inner layer's name as a path segment
  // ("inner_seq/dense/kernel" from Keras 3, "dense_1/kernel:0" from Keras 2) or, from Keras 1,
  // as a prefix ("dense_1_W").
  static bool belongs_to(const std::string& weight_name, const std::string& layer) {
    if (weight_name.find('/') == std::string::npos)
      return weight_name.size() > layer.size() && weight_name.compare(0, layer.size(), layer) == 0 &&
             weight_name[layer.size()] == '_';
    size_t start = 0;
    while (true) {
      size_t slash = weight_name.find('/', start);
      if (slash == std::string::npos) return false;  // the last segment is the variable itself
      if (weight_name.compare(start, slash - start, layer) == 0 && slash - start == layer.size()) return true;
      start = slash + 1;
    }
  }

  io::H5Group group_;
  std::string file_;
  WriterInfo writer_;
  mutable std::set<std::string> consumed_;
  mutable std::map<std::string, std::string> by_position_;  // model layer name -> stored name
};

class NoWeights : public WeightSource {
 public:
  NoWeights(std::string file, std::string why, bool architecture_only)
      : file_(std::move(file)), why_(std::move(why)), architecture_only_(architecture_only) {}
  std::vector<Weights::Entry> weights_for(const LayerLocation&) const override { return {}; }
  const std::string& file() const override { return file_; }
  std::string absence() const override { return why_; }
  bool architecture_only() const override { return architecture_only_; }

 private:
  std::string file_, why_;
  bool architecture_only_;
};

}  // namespace

std::unique_ptr<WeightSource> keras3_weights(io::H5Group root, std::string file) {
  return std::make_unique<Keras3Weights>(std::move(root), std::move(file));
}
std::unique_ptr<WeightSource> legacy_weights(io::H5Group g, std::string file) {
  return std::make_unique<LegacyWeights>(std::move(g), std::move(file));
}
std::unique_ptr<WeightSource> no_weights(std::string file, std::string why, bool architecture_only) {
  return std::make_unique<NoWeights>(std::move(file), std::move(why), architecture_only);
}

}  // namespace kerasrt::format
