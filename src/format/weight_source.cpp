#include "format/weight_source.hpp"

#include <algorithm>
#include <map>

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
  };
  return m;
}

bool walk_before(const std::string& a, const std::string& b) {
  bool pa = !a.empty() && a[0] == '_', pb = !b.empty() && b[0] == '_';
  if (pa != pb) return pb;
  return a < b;
}

class Keras3Weights : public WeightSource {
 public:
  explicit Keras3Weights(io::H5Group root) : root_(std::move(root)) {}

  std::vector<Weights::Entry> weights_for(const LayerLocation& loc) const override {
    std::vector<Weights::Entry> out;
    if (!root_.has_group(loc.archive_path)) return out;
    collect(root_.group(loc.archive_path), loc.archive_path, loc.class_name, out);
    return out;
  }

 private:
  static void collect(const io::H5Group& g, const std::string& path, const std::string& class_name,
                      std::vector<Weights::Entry>& out) {
    if (g.has_group("vars")) {
      io::H5Group vars = g.group("vars");
      auto names = vars.children();
      // vars are numbered 0..n-1; the HDF5 listing is in string order ("10" before "2").
      for (size_t i = 0; i < names.size(); ++i) {
        std::string key = std::to_string(i);
        io::H5Array a = vars.read(key);
        out.push_back({path + "/vars/" + key, std::move(a.shape), std::move(a.data)});
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

  io::H5Group root_;
};

class LegacyWeights : public WeightSource {
 public:
  explicit LegacyWeights(io::H5Group group) : group_(std::move(group)) {}

  std::vector<Weights::Entry> weights_for(const LayerLocation& loc) const override {
    std::vector<Weights::Entry> out;
    if (loc.names.empty() || !group_.has_group(loc.names[0])) return out;
    io::H5Group g = group_.group(loc.names[0]);
    for (const std::string& wname : chunked_attr_strings(g, "weight_names")) {
      if (loc.names.size() > 1 && !belongs_to(wname, loc.names.back())) continue;
      io::H5Array a = g.read(wname);
      out.push_back({wname, std::move(a.shape), std::move(a.data)});
    }
    return out;
  }

 private:
  // Inside a nested model's group, weight names carry the inner layer's name as a path segment
  // ("inner_seq/dense/kernel" from Keras 3, "dense_1/kernel:0" from Keras 2).
  static bool belongs_to(const std::string& weight_name, const std::string& layer) {
    size_t start = 0;
    while (true) {
      size_t slash = weight_name.find('/', start);
      if (slash == std::string::npos) return false;  // the last segment is the variable itself
      if (weight_name.compare(start, slash - start, layer) == 0 && slash - start == layer.size()) return true;
      start = slash + 1;
    }
  }

  io::H5Group group_;
};

class NoWeights : public WeightSource {
 public:
  std::vector<Weights::Entry> weights_for(const LayerLocation&) const override { return {}; }
};

}  // namespace

std::unique_ptr<WeightSource> keras3_weights(io::H5Group root) { return std::make_unique<Keras3Weights>(std::move(root)); }
std::unique_ptr<WeightSource> legacy_weights(io::H5Group g) { return std::make_unique<LegacyWeights>(std::move(g)); }
std::unique_ptr<WeightSource> no_weights() { return std::make_unique<NoWeights>(); }

}  // namespace kerasrt::format
