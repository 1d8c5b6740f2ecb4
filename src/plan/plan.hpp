// A plan: everything about running an ir graph that depends on the input shapes, worked out once.
// Execution order (only the nodes the wanted values need), every value's concrete type, where each
// value lives (an offset in one arena, a caller's input or a caller's output buffer), each node's
// kernel and scratch. Running a plan allocates nothing.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "ir/graph.hpp"
#include "kernels/kernel.hpp"

namespace kerasrt::plan {

struct Location {
  enum Kind : uint8_t { kNone, kArena, kInput, kOutput };
  Kind kind = kNone;
  size_t index = 0;  // arena byte offset, or the caller's input / output index
};

struct Step {
  int node = 0;
  const kernels::Kernel* kernel = nullptr;
  size_t scratch_offset = 0, scratch_bytes = 0;
  std::shared_ptr<const void> prepared;
  // The values the step writes: the node's outputs, except that a step which absorbed the nodes
  // after it (`fused`, each as one of `post`) writes the last of them instead of its own output 0.
  std::vector<int> outputs;
  std::vector<kernels::PostOp> post;
  std::vector<int> fused;  // node indices
  // The node as this step runs it when the plan changed it (a ZeroPadding folded into the
  // convolution after it: explicit padding, reading the padding's input); null: graph.nodes[node].
  std::shared_ptr<const ir::Node> rewritten;
};

// The node a step runs.
inline const ir::Node& step_node(const ir::Graph& graph, const Step& step) {
  return step.rewritten ? *step.rewritten : graph.nodes[step.node];
}

struct Plan {
  std::vector<ir::TensorType> types;  // per value; concrete for every value a step touches
  std::vector<Location> where;        // per value
  std::vector<Step> steps;
  std::vector<int> wanted;            // values returned, in order
  // Outputs that are copies: wanted[i] also lives elsewhere (a model input, or wanted twice).
  std::vector<std::pair<size_t, int>> copied_outputs;  // (output index, value)
  size_t arena_bytes = 0;
  size_t view_count = 0;  // sum of inputs and outputs over the steps
};

// Per node and kernel, what the kernel's prepare() made; shared by every plan of a model.
class PreparedCache {
 public:
  std::shared_ptr<const void> get(const ir::Node& node, int node_index, const kernels::Kernel& kernel);

 private:
  std::mutex mutex_;
  std::map<std::pair<int, const kernels::Kernel*>, std::shared_ptr<const void>> made_;
};

// Limits checked before anything is allocated.
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 32;

// Throws Error naming the layer for shapes the graph cannot take or that are too large.
Plan make_plan(const ir::Graph& graph, const std::vector<Shape>& input_shapes, const std::vector<int>& wanted,
               kernels::KernelChoice choice, PreparedCache& prepared);

}  // namespace kerasrt::plan
