// Runs a neutral graph: a plan per set of input shapes (order, shapes, last uses) computed once
// and cached, then nodes executed in order with each buffer freed after its last reader.
#pragma once

#include <mutex>
#include <unordered_map>

#include "model/graph.hpp"

namespace kerasrt::plan {

struct Plan {
  std::vector<Shape> shapes;   // every tensor's concrete shape
  std::vector<int> last_use;   // per tensor: index of the last node reading it (-1 if none)
};

class Executor {
 public:
  explicit Executor(const model::Graph& graph);

  // `inputs` in graph input order; `wanted` tensor ids to return (in that order).
  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs, const std::vector<int>& wanted) const;

  // Static-shape summary helpers.
  const model::Graph& graph() const { return graph_; }

 private:
  std::shared_ptr<const Plan> plan_for(const std::vector<Shape>& input_shapes) const;

  const model::Graph& graph_;
  mutable std::mutex mutex_;
  mutable std::map<std::vector<Shape>, std::shared_ptr<const Plan>> plans_;
};

}  // namespace kerasrt::plan
