#include "plan/runner.hpp"

#include <chrono>
#include <cstring>

namespace kerasrt::plan {

Runner::Runner(const ir::Graph& graph, std::shared_ptr<const Plan> plan) : graph_(graph), plan_(std::move(plan)) {
  for (const Step& step : plan_->steps) {
    const ir::Node& node = step_node(graph_, step);
    for (int v : node.inputs) in_views_.emplace_back(nullptr, plan_->types[v].shape, plan_->types[v].dtype);
    for (int v : step.outputs) out_views_.push_back({nullptr, plan_->types[v].shape, plan_->types[v].dtype});
  }
}

void Runner::run(std::byte* arena, std::span<const void* const> inputs, std::span<void* const> outputs,
                 kernels::ThreadPool* pool, std::span<int64_t> step_ns) {
  using Clock = std::chrono::steady_clock;
  const Plan& plan = *plan_;
  auto address = [&](int v) -> void* {
    const Location& w = plan.where[v];
    switch (w.kind) {
      case Location::kArena: return arena + w.index;
      case Location::kInput: return const_cast<void*>(inputs[w.index]);
      case Location::kOutput: return outputs[w.index];
      case Location::kNone: break;
    }
    return nullptr;
  };
  size_t in_at = 0, out_at = 0;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Step& step = plan.steps[s];
    const ir::Node& node = step_node(graph_, step);
    size_t in_begin = in_at, out_begin = out_at;
    for (int v : node.inputs) in_views_[in_at++].data = address(v);
    for (int v : step.outputs) out_views_[out_at++].data = address(v);
    kernels::ExecContext ctx{pool, {arena + step.scratch_offset, step.scratch_bytes}};
    kernels::KernelCall call{node,
                             {in_views_.data() + in_begin, node.inputs.size()},
                             {out_views_.data() + out_begin, step.outputs.size()},
                             ctx,
                             step.prepared.get(),
                             step.post};
    const auto t0 = step_ns.empty() ? Clock::time_point{} : Clock::now();
    try {
      step.kernel->run(call);
    } catch (const Error& e) {
      throw Error("layer '" + node.layer + "': " + e.what());
    }
    if (!step_ns.empty()) step_ns[s] += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  }
  for (const auto& [index, v] : plan.copied_outputs)
    std::memcpy(outputs[index], address(v), static_cast<size_t>(element_count(plan.types[v].shape)) *
                                                dtype_size(plan.types[v].dtype));
}

}  // namespace kerasrt::plan
