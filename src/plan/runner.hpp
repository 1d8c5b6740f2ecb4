// Runs a plan: fills each step's views from the arena and the caller's buffers and calls its kernel.
// Everything it needs is sized when it is made, so run() allocates nothing.
#pragma once

#include "plan/plan.hpp"

namespace kerasrt::plan {

class Runner {
 public:
  Runner(const ir::Graph& graph, std::shared_ptr<const Plan> plan);

  // `arena` holds plan().arena_bytes, 64-byte aligned; inputs in graph input order, outputs in the
  // order of plan().wanted, each with the type the plan gives it.
  // With `step_ns` (one entry per plan step), adds each step's wall time in nanoseconds to it.
  void run(std::byte* arena, std::span<const void* const> inputs, std::span<void* const> outputs,
           kernels::ThreadPool* pool, std::span<int64_t> step_ns = {});
  const Plan& plan() const { return *plan_; }

 private:
  const ir::Graph& graph_;
  std::shared_ptr<const Plan> plan_;
  std::vector<ConstTensorView> in_views_;
  std::vector<TensorView> out_views_;
};

}  // namespace kerasrt::plan
