// The public Model: loading entry points, input checks, predict and the summary.
#include <kerasrt/kerasrt.hpp>

#include <sstream>

#include "format/load.hpp"
#include "plan/executor.hpp"

namespace kerasrt {
namespace detail {

struct ModelImpl {
  explicit ModelImpl(model::Graph g) : graph(std::move(g)), executor(graph) {}
  model::Graph graph;
  plan::Executor executor;
};

}  // namespace detail

namespace {

std::shared_ptr<const detail::ModelImpl> make_impl(model::Graph g) {
  return std::make_shared<const detail::ModelImpl>(std::move(g));
}

void check_input(const TensorInfo& info, const Tensor& t) {
  bool ok = t.shape.size() == info.shape.size();
  for (size_t i = 0; ok && i < t.shape.size(); ++i) ok = info.shape[i] < 0 || info.shape[i] == t.shape[i];
  if (!ok)
    throw Error("input '" + info.name + "' has shape " + shape_to_string(t.shape) + ", the model expects " +
                shape_to_string(info.shape));
  for (int64_t d : t.shape)
    if (d < 0) throw Error("input '" + info.name + "' has a negative dimension");
  if (element_count(t.shape) != t.size())
    throw Error("input '" + info.name + "' holds " + std::to_string(t.size()) + " values for shape " +
                shape_to_string(t.shape));
}

}  // namespace

Model Model::load(const std::string& path, const std::string& weights_path) {
  return Model(make_impl(format::load_path(path, weights_path)));
}
Model Model::load_keras(std::span<const uint8_t> archive, const std::string& name) {
  return Model(make_impl(format::load_keras_archive(archive, name)));
}
Model Model::load_h5(std::span<const uint8_t> file, const std::string& name) {
  return Model(make_impl(format::load_legacy_h5(file, name)));
}
Model Model::load_json(const std::string& json, std::span<const uint8_t> weights_h5, const std::string& name) {
  return Model(make_impl(format::load_config_json(json, weights_h5, name, name + " (weights)")));
}

const std::string& Model::name() const { return impl_->graph.name; }
const std::vector<TensorInfo>& Model::inputs() const { return impl_->graph.inputs; }
const std::vector<TensorInfo>& Model::outputs() const { return impl_->graph.outputs; }

std::vector<std::string> Model::layer_names() const {
  std::vector<std::string> names;
  for (const auto& [n, t] : impl_->graph.named_tensors) names.push_back(n);
  return names;
}

std::map<std::string, Tensor> Model::predict(const std::map<std::string, Tensor>& inputs,
                                             const std::vector<std::string>& layers) const {
  const model::Graph& g = impl_->graph;
  std::vector<const Tensor*> ordered;
  for (const TensorInfo& info : g.inputs) {
    auto it = inputs.find(info.name);
    if (it == inputs.end()) {
      std::string names;
      for (const auto& i : g.inputs) names += (names.empty() ? "'" : ", '") + i.name + "'";
      throw Error("missing input '" + info.name + "' (the model's inputs are " + names + ")");
    }
    check_input(info, it->second);
    ordered.push_back(&it->second);
  }
  for (const auto& [name, t] : inputs) {
    bool known = false;
    for (const auto& info : g.inputs) known |= info.name == name;
    if (!known) throw Error("the model has no input named '" + name + "'");
  }
  std::vector<int> wanted = g.output_tensors;
  for (const std::string& name : layers) {
    int found = -1;
    for (const auto& [n, t] : g.named_tensors)
      if (n == name) {
        found = t;
        break;
      }
    if (found < 0) throw Error("the model has no layer output named '" + name + "'");
    wanted.push_back(found);
  }
  std::vector<Tensor> got = impl_->executor.run(ordered, wanted);
  std::map<std::string, Tensor> result;
  for (size_t i = 0; i < g.outputs.size(); ++i) result[g.outputs[i].name] = std::move(got[i]);
  for (size_t i = 0; i < layers.size(); ++i) result[layers[i]] = std::move(got[g.outputs.size() + i]);
  return result;
}

std::vector<Tensor> Model::predict(const std::vector<Tensor>& inputs) const {
  const model::Graph& g = impl_->graph;
  if (inputs.size() != g.inputs.size())
    throw Error("the model takes " + std::to_string(g.inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  std::vector<const Tensor*> ordered;
  for (size_t i = 0; i < inputs.size(); ++i) {
    check_input(g.inputs[i], inputs[i]);
    ordered.push_back(&inputs[i]);
  }
  return impl_->executor.run(ordered, g.output_tensors);
}

std::vector<LayerSummary> Model::layers() const {
  std::vector<LayerSummary> out;
  const model::Graph& g = impl_->graph;
  for (const auto& info : g.inputs) out.push_back({info.name, "InputLayer", {info.shape}, 0});
  for (const auto& row : g.rows) {
    LayerSummary s{row.name, row.class_name, {}, row.params};
    for (int t : row.outputs) s.output_shapes.push_back(g.tensors[t].shape);
    out.push_back(std::move(s));
  }
  return out;
}

std::string Model::summary() const {
  std::ostringstream os;
  auto rows = layers();
  size_t w1 = 24, w2 = 26;
  for (const auto& r : rows) {
    w1 = std::max(w1, r.name.size() + r.class_name.size() + 4);
    std::string shapes;
    for (const auto& s : r.output_shapes) shapes += (shapes.empty() ? "" : ", ") + shape_to_string(s);
    w2 = std::max(w2, shapes.size() + 2);
  }
  auto pad = [](std::string s, size_t w) {
    s.resize(std::max(s.size(), w), ' ');
    return s;
  };
  std::string rule(w1 + w2 + 12, '-');
  os << "Model: \"" << name() << "\"\n" << rule << "\n"
     << pad("Layer (type)", w1) << pad("Output Shape", w2) << "Param #\n" << rule << "\n";
  int64_t total = 0;
  for (const auto& r : rows) {
    std::string shapes;
    for (const auto& s : r.output_shapes) shapes += (shapes.empty() ? "" : ", ") + shape_to_string(s);
    os << pad(r.name + " (" + r.class_name + ")", w1) << pad(shapes, w2) << r.params << "\n";
    total += r.params;
  }
  os << rule << "\nTotal params: " << total << "\n";
  return os.str();
}

}  // namespace kerasrt
