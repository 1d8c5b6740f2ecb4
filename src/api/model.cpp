// The public Model and Session: loading entry points, input checks, plans per input shapes, predict.
#include <kerasrt/kerasrt.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

#include "api/model_impl.hpp"
#include "format/load.hpp"
#include "io/text.hpp"

namespace kerasrt {
namespace detail {

ModelImpl::ModelImpl(ir::Graph g, const LoadOptions& options)
    : graph(std::move(g)),
      choice(kernels::kernel_choice_from_env(options.reference_kernels ? kernels::KernelChoice::kReference
                                                                      : kernels::KernelChoice::kFastest)),
      threads(options.threads > 0 ? options.threads : kernels::ThreadPool::physical_cores()),
      limits(options.limits) {
  if (options.reference_kernels) choice = kernels::KernelChoice::kReference;
}

std::shared_ptr<const plan::Plan> ModelImpl::plan_for(const std::vector<Shape>& input_shapes,
                                                      const std::vector<int>& wanted) const {
  auto key = std::make_pair(input_shapes, wanted);
  {
    std::lock_guard lock(mutex);
    if (auto it = plans.find(key); it != plans.end()) return it->second;
  }
  auto made = std::make_shared<const plan::Plan>(plan::make_plan(graph, input_shapes, wanted, choice, prepared));
  // Sizes come from the model file (and the caller's shapes): checked before any arena is allocated.
  auto mb = [](uint64_t b) { return std::to_string((b + (1 << 20) - 1) >> 20) + " MiB"; };
  for (size_t v = 0; v < made->types.size(); ++v) {
    const ir::TensorType& t = made->types[v];
    if (t.shape.empty() && graph.values[v].producer < 0) continue;
    uint64_t bytes = dtype_size(t.dtype);
    for (int64_t d : t.shape) bytes *= static_cast<uint64_t>(std::max<int64_t>(d, 0));  // make_plan bounded each shape
    if (bytes > limits.max_tensor_bytes) {
      const int producer = graph.values[v].producer;
      throw Error((producer >= 0 ? "layer '" + graph.nodes[static_cast<size_t>(producer)].layer + "'" : std::string("an input")) +
                  ": a tensor of shape " + shape_to_string(t.shape) + " needs " + mb(bytes) +
                  ", more than the limit of " + mb(limits.max_tensor_bytes) + " per tensor (LoadLimits::max_tensor_bytes, --max-tensor-mb)");
    }
  }
  if (made->arena_bytes > limits.max_plan_bytes)
    throw Error("model '" + graph.name + "' needs " + mb(made->arena_bytes) + " of intermediate memory at these shapes, more than the limit of " +
                mb(limits.max_plan_bytes) + " (LoadLimits::max_plan_bytes, --max-plan-mb)");
  std::lock_guard lock(mutex);
  if (plans.size() > 64) plans.clear();  // bound the cache for callers that vary shapes a lot
  return plans.emplace(std::move(key), std::move(made)).first->second;
}

kernels::ThreadPool* ModelImpl::shared_pool() const {
  std::lock_guard lock(mutex);
  if (!pool) pool = std::make_unique<kernels::ThreadPool>(threads);
  return pool.get();
}

Arena::Arena(size_t bytes) : size_(bytes) {
  size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  data_ = static_cast<std::byte*>(std::aligned_alloc(64, rounded));
  if (!data_) throw std::bad_alloc();
}
Arena::~Arena() { std::free(data_); }

struct SessionImpl {
  SessionImpl(std::shared_ptr<const ModelImpl> m, std::shared_ptr<const plan::Plan> p)
      : model(std::move(m)), runner(model->graph, std::move(p)), arena(runner.plan().arena_bytes),
        pool(model->threads), in_ptrs(model->graph.inputs.size()), out_ptrs(runner.plan().wanted.size()) {}
  std::shared_ptr<const ModelImpl> model;
  plan::Runner runner;
  Arena arena;
  kernels::ThreadPool pool;
  std::vector<TensorInfo> inputs, outputs;
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  std::vector<int64_t> step_ns;  // per plan step while profiling, else empty
};

}  // namespace detail

namespace {

using detail::ModelImpl;

std::shared_ptr<const ModelImpl> make_impl(ir::Graph g, const LoadOptions& options) {
  return std::make_shared<const ModelImpl>(std::move(g), options);
}

void check_shape(const TensorInfo& info, std::span<const int64_t> shape) {
  bool ok = shape.size() == info.shape.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = info.shape[i] < 0 || info.shape[i] == shape[i];
  if (!ok)
    throw Error("input '" + info.name + "' has shape " + shape_to_string(shape) + ", the model expects " +
                shape_to_string(info.shape));
  for (int64_t d : shape)
    if (d < 0) throw Error("input '" + info.name + "' has a negative dimension");
}

int find_named(const ir::Graph& g, const std::string& name) {
  for (const auto& [n, v] : g.named_values)
    if (n == name) return v;
  throw Error("the model has no layer output named '" + name + "'");
}

// Runs `wanted` for inputs already in model order with the declared dtypes.
std::vector<Tensor> run_graph(const ModelImpl& m, const std::vector<const Tensor*>& inputs, const std::vector<int>& wanted) {
  std::vector<Shape> shapes;
  for (const Tensor* t : inputs) shapes.push_back(t->shape);
  auto plan = m.plan_for(shapes, wanted);
  std::vector<Tensor> out;
  for (int v : wanted) out.emplace_back(plan->types[v].shape, plan->types[v].dtype);
  std::vector<const void*> in_ptrs;
  for (const Tensor* t : inputs) in_ptrs.push_back(t->view().data);
  std::vector<void*> out_ptrs;
  for (Tensor& t : out) out_ptrs.push_back(t.raw());
  plan::Runner runner(m.graph, plan);
  detail::Arena arena(plan->arena_bytes);
  runner.run(arena.data(), in_ptrs, out_ptrs, m.shared_pool());
  return out;
}

// A model loaded from its architecture alone has a summary but nothing to compute with.
void check_has_weights(const ir::Graph& g) {
  if (!g.missing_weights.empty())
    throw Error("model '" + g.name + "' was loaded without its weights (" + g.missing_weights +
                "); it can be summarised but not run");
}

// Keras converts each input to the dtype its Input declares.
const Tensor* as_declared(const TensorInfo& info, const Tensor& t, std::vector<Tensor>& converted) {
  check_shape(info, t.shape);
  try {
    t.view();  // checks the values match the shape
  } catch (const Error& e) {
    throw Error("input '" + info.name + "': " + e.what());
  }
  if (t.dtype == info.dtype) return &t;
  converted.push_back(t.cast(info.dtype));
  return &converted.back();
}

}  // namespace

Model Model::load(const std::string& path, const std::string& weights_path, const LoadOptions& options) {
  return Model(make_impl(format::load_path(path, weights_path, options.limits), options));
}
Model Model::load_keras(std::span<const uint8_t> archive, const std::string& name, const LoadOptions& options) {
  return Model(make_impl(format::load_keras_archive(archive, name, options.limits), options));
}
Model Model::load_h5(std::span<const uint8_t> file, const std::string& name, const LoadOptions& options) {
  return Model(make_impl(format::load_legacy_h5(file, name, options.limits), options));
}
Model Model::load_json(const std::string& json, std::span<const uint8_t> weights_h5, const std::string& name,
                       const LoadOptions& options) {
  return Model(make_impl(format::load_config_json(json, weights_h5, name, name + " (weights)", options.limits), options));
}

const std::string& Model::name() const { return impl_->graph.name; }
const std::vector<TensorInfo>& Model::inputs() const { return impl_->graph.inputs; }
const std::vector<TensorInfo>& Model::outputs() const { return impl_->graph.outputs; }
int Model::threads() const { return impl_->threads; }

std::vector<std::string> Model::layer_names() const {
  std::vector<std::string> names;
  for (const auto& [n, v] : impl_->graph.named_values) names.push_back(n);
  return names;
}

std::map<std::string, Tensor> Model::predict(const std::map<std::string, Tensor>& inputs,
                                             const std::vector<std::string>& layers) const {
  const ir::Graph& g = impl_->graph;
  check_has_weights(g);
  std::vector<const Tensor*> ordered;
  std::vector<Tensor> converted;
  converted.reserve(g.inputs.size());
  for (const TensorInfo& info : g.inputs) {
    auto it = inputs.find(info.name);
    if (it == inputs.end()) {
      std::string names;
      for (const auto& i : g.inputs) names += (names.empty() ? "'" : ", '") + i.name + "'";
      throw Error("missing input '" + info.name + "' (the model's inputs are " + names + ")");
    }
    ordered.push_back(as_declared(info, it->second, converted));
  }
  for (const auto& given : inputs)  // (a structured binding cannot be captured before C++20 in clang 14)
    if (std::none_of(g.inputs.begin(), g.inputs.end(), [&](const TensorInfo& i) { return i.name == given.first; }))
      throw Error("the model has no input named '" + given.first + "'");
  std::vector<int> wanted = g.output_values;
  for (const std::string& name : layers) wanted.push_back(find_named(g, name));
  std::vector<Tensor> got = run_graph(*impl_, ordered, wanted);
  std::map<std::string, Tensor> result;
  for (size_t i = 0; i < g.outputs.size(); ++i) result[g.outputs[i].name] = std::move(got[i]);
  for (size_t i = 0; i < layers.size(); ++i) result[layers[i]] = std::move(got[g.outputs.size() + i]);
  return result;
}

std::vector<Tensor> Model::predict(const std::vector<Tensor>& inputs) const {
  const ir::Graph& g = impl_->graph;
  check_has_weights(g);
  if (inputs.size() != g.inputs.size())
    throw Error("the model takes " + std::to_string(g.inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  std::vector<const Tensor*> ordered;
  std::vector<Tensor> converted;
  converted.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) ordered.push_back(as_declared(g.inputs[i], inputs[i], converted));
  return run_graph(*impl_, ordered, g.output_values);
}

Session Model::session(const std::vector<Shape>& input_shapes, const std::vector<std::string>& layers) const {
  const ir::Graph& g = impl_->graph;
  check_has_weights(g);
  if (input_shapes.size() != g.inputs.size())
    throw Error("the model takes " + std::to_string(g.inputs.size()) + " inputs, got " +
                std::to_string(input_shapes.size()) + " shapes");
  for (size_t i = 0; i < input_shapes.size(); ++i) check_shape(g.inputs[i], input_shapes[i]);
  std::vector<int> wanted = g.output_values;
  for (const std::string& name : layers) wanted.push_back(find_named(g, name));
  auto plan = impl_->plan_for(input_shapes, wanted);
  auto s = std::make_unique<detail::SessionImpl>(impl_, plan);
  for (size_t i = 0; i < g.inputs.size(); ++i) s->inputs.push_back({g.inputs[i].name, input_shapes[i], g.inputs[i].dtype});
  for (size_t i = 0; i < wanted.size(); ++i) {
    std::string name = i < g.outputs.size() ? g.outputs[i].name : layers[i - g.outputs.size()];
    s->outputs.push_back({name, plan->types[wanted[i]].shape, plan->types[wanted[i]].dtype});
  }
  return Session(std::move(s));
}

Session::Session(std::unique_ptr<detail::SessionImpl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

const std::vector<TensorInfo>& Session::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Session::outputs() const { return impl_->outputs; }
size_t Session::arena_bytes() const { return impl_->runner.plan().arena_bytes; }

void Session::run(std::span<const ConstTensorView> inputs, std::span<const TensorView> outputs) {
  detail::SessionImpl& s = *impl_;
  auto same = [](std::span<const int64_t> a, const Shape& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); };
  if (inputs.size() != s.inputs.size() || outputs.size() != s.outputs.size())
    throw Error("the session takes " + std::to_string(s.inputs.size()) + " inputs and " +
                std::to_string(s.outputs.size()) + " outputs");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorInfo& info = s.inputs[i];
    if (!same(inputs[i].shape, info.shape) || inputs[i].dtype != info.dtype || !inputs[i].data)
      throw Error("input '" + info.name + "' must be " + dtype_name(info.dtype) + " " + shape_to_string(info.shape) +
                  " for this session, got " + dtype_name(inputs[i].dtype) + " " + shape_to_string(inputs[i].shape));
    s.in_ptrs[i] = inputs[i].data;
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorInfo& info = s.outputs[i];
    if (!same(outputs[i].shape, info.shape) || outputs[i].dtype != info.dtype || !outputs[i].data)
      throw Error("output '" + info.name + "' must be " + dtype_name(info.dtype) + " " + shape_to_string(info.shape) +
                  " for this session, got " + dtype_name(outputs[i].dtype) + " " + shape_to_string(outputs[i].shape));
    s.out_ptrs[i] = outputs[i].data;
  }
  s.runner.run(s.arena.data(), s.in_ptrs, s.out_ptrs, &s.pool, s.step_ns);
}

void Session::set_profiling(bool on) {
  impl_->step_ns.assign(on ? impl_->runner.plan().steps.size() : 0, 0);
}

std::vector<StepTime> Session::profile() const {
  const detail::SessionImpl& s = *impl_;
  const plan::Plan& plan = s.runner.plan();
  std::vector<StepTime> out;
  for (size_t i = 0; i < s.step_ns.size(); ++i) {
    const plan::Step& step = plan.steps[i];
    const ir::Node& node = plan::step_node(s.model->graph, step);
    out.push_back({node.layer, ir::op_kind_name(node.kind), step.kernel->name, static_cast<double>(s.step_ns[i]) / 1e6});
  }
  return out;
}

std::vector<Tensor> Session::run(std::span<const Tensor> inputs) {
  std::vector<ConstTensorView> in;
  for (const Tensor& t : inputs) in.push_back(t.view());
  std::vector<Tensor> out;
  for (const TensorInfo& info : impl_->outputs) out.emplace_back(info.shape, info.dtype);
  std::vector<TensorView> out_views;
  for (Tensor& t : out) out_views.push_back(t.view());
  run(in, out_views);
  return out;
}

std::vector<LayerSummary> Model::layers() const {
  std::vector<LayerSummary> out;
  const ir::Graph& g = impl_->graph;
  for (const auto& info : g.inputs) out.push_back({info.name, "InputLayer", {info.shape}, 0});
  for (const auto& row : g.rows) {
    LayerSummary s{row.name, row.class_name, {}, row.params};
    for (int v : row.outputs) s.output_shapes.push_back(g.values[v].type.shape);
    out.push_back(std::move(s));
  }
  return out;
}

std::string Model::summary() const {
  std::ostringstream os;
  auto rows = layers();
  // Names come from the file: control characters (terminal escapes) are shown as '?'.
  for (auto& r : rows) {
    r.name = io::printable(r.name);
    r.class_name = io::printable(r.class_name);
  }
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
  os << "Model: \"" << io::printable(name()) << "\"\n" << rule << "\n"
     << pad("Layer (type)", w1) << pad("Output Shape", w2) << "Param #\n" << rule << "\n";
  int64_t total = 0;
  for (const auto& r : rows) {
    std::string shapes;
    for (const auto& s : r.output_shapes) shapes += (shapes.empty() ? "" : ", ") + shape_to_string(s);
    os << pad(r.name + " (" + r.class_name + ")", w1) << pad(shapes, w2) << r.params << "\n";
    total += r.params;
  }
  os << rule << "\nTotal params: " << total << "\n";
  if (!impl_->graph.missing_weights.empty())
    os << "Weights: not loaded (" << impl_->graph.missing_weights << "); the counts come from the config\n";
  return os.str();
}

}  // namespace kerasrt
