#include "plan/executor.hpp"

namespace kerasrt::plan {
namespace {
constexpr int64_t kMaxTensorElements = int64_t{1} << 32;  // 16 GiB of float32
}  // namespace

Executor::Executor(const model::Graph& graph) : graph_(graph) {}

std::shared_ptr<const Plan> Executor::plan_for(const std::vector<Shape>& input_shapes) const {
  {
    std::lock_guard lock(mutex_);
    if (auto it = plans_.find(input_shapes); it != plans_.end()) return it->second;
  }
  auto plan = std::make_shared<Plan>();
  plan->shapes.resize(graph_.tensors.size());
  plan->last_use.assign(graph_.tensors.size(), -1);
  for (size_t i = 0; i < graph_.input_tensors.size(); ++i) plan->shapes[graph_.input_tensors[i]] = input_shapes[i];
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    const model::Node& node = graph_.nodes[n];
    std::vector<Shape> in;
    for (int t : node.inputs) {
      in.push_back(plan->shapes[t]);
      plan->last_use[t] = static_cast<int>(n);
    }
    std::vector<Shape> out;
    try {
      out = node.op->output_shapes(in);
    } catch (const Error& e) {
      throw Error("layer '" + node.layer + "': " + e.what());
    }
    if (out.size() != node.outputs.size())
      throw Error("layer '" + node.layer + "': yields " + std::to_string(out.size()) + " outputs for these shapes, expected " +
                  std::to_string(node.outputs.size()));
    for (size_t i = 0; i < out.size(); ++i) {
      // Shapes come from the model file: refuse unknown, overflowing or absurd sizes before allocating.
      int64_t count = 1;
      for (int64_t d : out[i]) {
        if (d < 0) throw Error("layer '" + node.layer + "': output shape " + shape_to_string(out[i]) + " is not fully known");
        if (d > 0 && count > kMaxTensorElements / d)
          throw Error("layer '" + node.layer + "': output shape " + shape_to_string(out[i]) + " is too large to allocate");
        count *= d;
      }
      plan->shapes[node.outputs[i]] = std::move(out[i]);
    }
  }
  std::lock_guard lock(mutex_);
  if (plans_.size() > 64) plans_.clear();  // bound the cache for callers that vary shapes a lot
  return plans_.emplace(input_shapes, plan).first->second;
}

std::vector<Tensor> Executor::run(const std::vector<const Tensor*>& inputs, const std::vector<int>& wanted) const {
  std::vector<Shape> in_shapes;
  for (const Tensor* t : inputs) in_shapes.push_back(t->shape);
  std::shared_ptr<const Plan> plan = plan_for(in_shapes);

  // Only nodes that lead to a wanted tensor run.
  std::vector<char> needed_tensor(graph_.tensors.size(), 0), keep(graph_.tensors.size(), 0);
  for (int t : wanted) needed_tensor[t] = keep[t] = 1;
  std::vector<char> run_node(graph_.nodes.size(), 0);
  for (size_t n = graph_.nodes.size(); n-- > 0;) {
    const model::Node& node = graph_.nodes[n];
    bool need = false;
    for (int t : node.outputs) need |= needed_tensor[t] != 0;
    if (!need) continue;
    run_node[n] = 1;
    for (int t : node.inputs) needed_tensor[t] = 1;
  }
  std::vector<int> last_use(graph_.tensors.size(), -1);
  for (size_t n = 0; n < graph_.nodes.size(); ++n)
    if (run_node[n])
      for (int t : graph_.nodes[n].inputs) last_use[t] = static_cast<int>(n);

  std::vector<std::vector<float>> buffers(graph_.tensors.size());
  std::vector<const float*> external(graph_.tensors.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) external[graph_.input_tensors[i]] = inputs[i]->data.data();
  auto data_of = [&](int t) -> const float* { return external[t] ? external[t] : buffers[t].data(); };

  std::vector<ConstView> in_views;
  std::vector<MutView> out_views;
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    if (!run_node[n]) continue;
    const model::Node& node = graph_.nodes[n];
    in_views.clear();
    out_views.clear();
    for (int t : node.inputs) in_views.push_back({data_of(t), plan->shapes[t]});
    for (int t : node.outputs) {
      buffers[t].assign(static_cast<size_t>(element_count(plan->shapes[t])), 0.f);
      out_views.push_back({buffers[t].data(), plan->shapes[t]});
    }
    try {
      node.op->run(in_views, out_views);
    } catch (const Error& e) {
      throw Error("layer '" + node.layer + "': " + e.what());
    }
    for (int t : node.inputs)
      if (last_use[t] == static_cast<int>(n) && !keep[t]) std::vector<float>().swap(buffers[t]);
    for (int t : node.outputs)
      if (last_use[t] < 0 && !keep[t]) std::vector<float>().swap(buffers[t]);
  }

  std::vector<Tensor> out;
  for (int t : wanted) {
    const float* p = data_of(t);
    int64_t n = element_count(plan->shapes[t]);
    out.emplace_back(plan->shapes[t], std::vector<float>(p, p + n));
  }
  return out;
}

}  // namespace kerasrt::plan
