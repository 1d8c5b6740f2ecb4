// What a loaded Model holds: its ir, the plans made for it (one per input shapes and wanted values),
// the kernels' prepared data, and the options it was loaded with.
#pragma once

#include <kerasrt/kerasrt.hpp>

#include <map>
#include <mutex>

#include "ir/graph.hpp"
#include "plan/runner.hpp"

namespace kerasrt::detail {

struct ModelImpl {
  ModelImpl(ir::Graph g, const LoadOptions& options);

  // The plan for these input shapes and wanted values, made once and cached.
  std::shared_ptr<const plan::Plan> plan_for(const std::vector<Shape>& input_shapes, const std::vector<int>& wanted) const;
  // The pool predict() calls share (sessions have their own).
  kernels::ThreadPool* shared_pool() const;

  ir::Graph graph;
  kernels::KernelChoice choice;
  int threads;
  LoadLimits limits;
  mutable plan::PreparedCache prepared;
  mutable std::mutex mutex;
  mutable std::map<std::pair<std::vector<Shape>, std::vector<int>>, std::shared_ptr<const plan::Plan>> plans;
  mutable std::unique_ptr<kernels::ThreadPool> pool;
};

// 64-byte aligned memory for a plan's arena.
class Arena {
 public:
  explicit Arena(size_t bytes);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  std::byte* data() { return data_; }
  size_t size() const { return size_; }

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kerasrt::detail
