#include "plan/plan.hpp"

#include <algorithm>
#include <optional>

#include "ir/infer.hpp"

namespace kerasrt::plan {
namespace {

constexpr size_t kAlign = 64;  // cache line, and the widest vector load

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// First-fit allocator over one growing arena; freed blocks coalesce with their neighbours.
class ArenaAllocator {
 public:
  size_t allocate(size_t bytes) {
    bytes = align_up(std::max<size_t>(bytes, 1));
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second < bytes) continue;
      size_t at = it->first;
      if (it->second == bytes) free_.erase(it);
      else {
        free_.emplace(at + bytes, it->second - bytes);
        free_.erase(it);
      }
      return at;
    }
    // Grow: extend a free block at the end if there is one.
    if (!free_.empty()) {
      auto last = std::prev(free_.end());
      if (last->first + last->second == size_) {
        size_t at = last->first;
        free_.erase(last);
        size_ = at + bytes;
        return at;
      }
    }
    size_t at = size_;
    size_ += bytes;
    return at;
  }

  void release(size_t at, size_t bytes) {
    bytes = align_up(std::max<size_t>(bytes, 1));
    auto it = free_.emplace(at, bytes).first;
    if (auto next = std::next(it); next != free_.end() && at + bytes == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_.erase(it);
      }
    }
  }

  size_t size() const { return size_; }

 private:
  std::map<size_t, size_t> free_;  // offset -> size
  size_t size_ = 0;
};

size_t byte_size(const ir::TensorType& t) {
  return static_cast<size_t>(element_count(t.shape)) * dtype_size(t.dtype);
}

// Removes the steps another step took over.
void drop_absorbed(Plan& plan, const std::vector<char>& absorbed) {
  size_t kept = 0;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    if (absorbed[s]) continue;
    if (kept != s) plan.steps[kept] = std::move(plan.steps[s]);  // (a self-move would empty the vectors)
    ++kept;
  }
  plan.steps.resize(kept);
}

// The element-wise step node `n` amounts to when fused into the producer of its input (batch-norm
// over the last axis, or an element-wise activation, on float32), or nothing if it cannot be.
std::optional<kernels::PostOp> as_post_op(const ir::Node& node, const std::vector<ir::TensorType>& types) {
  if (node.inputs.size() != 1 || node.outputs.size() != 1) return std::nullopt;
  const ir::TensorType& in = types[node.inputs[0]];
  const ir::TensorType& out = types[node.outputs[0]];
  if (in.dtype != DType::kFloat32 || out.dtype != DType::kFloat32 || in.shape != out.shape || in.shape.empty())
    return std::nullopt;
  if (node.kind == ir::OpKind::kUnary) {
    const auto& u = node.as<ir::UnaryAttrs>();
    if (!ir::is_elementwise(u.fn)) return std::nullopt;
    return kernels::PostOp{nullptr, nullptr, u};
  }
  if (node.kind == ir::OpKind::kBatchNorm) {
    const auto& a = node.as<ir::BatchNormAttrs>();
    if (a.batch_statistics || a.axes.size() != 1 || a.axes[0] != static_cast<int>(in.shape.size()) - 1)
      return std::nullopt;
    return kernels::PostOp{node.weight(0).values<float>().data(), node.weight(1).values<float>().data(), {}};
  }
  return std::nullopt;
}

// Producers whose kernel takes post ops absorb the chain of batch-norm / activation nodes that
// follows them, as long as each value in between is read by that next node only and is not wanted:
// one pass over the output instead of one per node. Per-layer outputs stay exact: a wanted value is
// never fused away.
void fuse_post_ops(const ir::Graph& graph, Plan& plan) {
  std::vector<int> readers(plan.types.size(), 0);
  std::vector<int> reader_step(plan.types.size(), -1);
  for (size_t s = 0; s < plan.steps.size(); ++s)
    for (int v : step_node(graph, plan.steps[s]).inputs) {
      ++readers[v];
      reader_step[v] = static_cast<int>(s);
    }
  std::vector<char> wanted(plan.types.size(), 0);
  for (int v : plan.wanted) wanted[v] = 1;
  std::vector<char> absorbed(plan.steps.size(), 0);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    Step& step = plan.steps[s];
    if (absorbed[s] || !step.kernel->post_ops || step.outputs.size() != 1) continue;
    if (plan.types[step.outputs[0]].dtype != DType::kFloat32) continue;
    for (;;) {
      const int v = step.outputs[0];
      if (wanted[v] || readers[v] != 1) break;
      const int next = reader_step[v];
      const ir::Node& node = step_node(graph, plan.steps[next]);
      auto op = as_post_op(node, plan.types);
      if (!op) break;
      step.post.push_back(*op);
      step.fused.push_back(plan.steps[next].node);
      step.outputs[0] = node.outputs[0];
      absorbed[next] = 1;
    }
  }
  drop_absorbed(plan, absorbed);
}

// A ZeroPadding of the spatial axes whose only reader is a forward, channels_last, 'valid'
// convolution becomes that convolution's explicit padding: the convolution reads the unpadded input
// and treats the border as zeros, as it does for 'same' (exact: the padded values are zeros either
// way), and the padded copy is never made. Not for wanted values, and not with reference kernels.
void fold_pads_into_convs(const ir::Graph& graph, Plan& plan, kernels::KernelChoice choice, PreparedCache& prepared) {
  std::vector<int> readers(plan.types.size(), 0), producer_step(plan.types.size(), -1);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    for (int v : step_node(graph, plan.steps[s]).inputs) ++readers[v];
    for (int v : plan.steps[s].outputs) producer_step[v] = static_cast<int>(s);
  }
  std::vector<char> wanted(plan.types.size(), 0);
  for (int v : plan.wanted) wanted[v] = 1;
  std::vector<char> absorbed(plan.steps.size(), 0);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    Step& step = plan.steps[s];
    const ir::Node& conv = step_node(graph, step);
    if (conv.kind != ir::OpKind::kConv || conv.inputs.size() != 1) continue;
    const auto& a = conv.as<ir::ConvAttrs>();
    if (a.transpose || a.channels_first || a.padding != ir::ConvPadding::kValid) continue;
    const int padded = conv.inputs[0];
    const int p = producer_step[padded];
    if (p < 0 || wanted[padded] || readers[padded] != 1) continue;
    const ir::Node& pad = step_node(graph, plan.steps[p]);
    if (pad.kind != ir::OpKind::kPad || pad.inputs.size() != 1 || !plan.steps[p].post.empty()) continue;
    const auto& pa = pad.as<ir::PadAttrs>();
    const size_t rank = plan.types[pad.inputs[0]].shape.size();
    if (rank != static_cast<size_t>(a.rank) + 2 || pa.before.size() != rank || pa.after.size() != rank) continue;
    if (pa.before[0] || pa.after[0] || pa.before[rank - 1] || pa.after[rank - 1]) continue;  // batch, channels
    bool non_negative = true;
    for (size_t i = 0; i < rank; ++i) non_negative = non_negative && pa.before[i] >= 0 && pa.after[i] >= 0;
    if (!non_negative) continue;  // a negative pad crops
    auto folded = std::make_shared<ir::Node>(conv);
    auto& fa = std::get<ir::ConvAttrs>(folded->attrs);
    fa.padding = ir::ConvPadding::kExplicit;
    for (int d = 0; d < a.rank; ++d) {
      fa.pad_before[d] = pa.before[1 + d];
      fa.pad_after[d] = pa.after[1 + d];
    }
    folded->inputs[0] = pad.inputs[0];
    const std::vector<ir::TensorType> in_types{plan.types[pad.inputs[0]]};
    const std::vector<ir::TensorType> out_types{plan.types[conv.outputs[0]]};
    if (ir::infer_types(*folded, in_types) != out_types) continue;  // cannot happen; stay literal if it does
    const kernels::Kernel& kernel = kernels::choose_kernel(*folded, in_types, out_types, choice);
    step.kernel = &kernel;
    step.scratch_bytes = kernel.scratch_bytes ? kernel.scratch_bytes(*folded, in_types, out_types) : 0;
    step.prepared = prepared.get(*folded, step.node, kernel);  // prepare() reads the weights only
    step.fused.push_back(plan.steps[p].node);
    step.rewritten = std::move(folded);
    absorbed[p] = 1;
  }
  drop_absorbed(plan, absorbed);
}

}  // namespace

std::shared_ptr<const void> PreparedCache::get(const ir::Node& node, int node_index, const kernels::Kernel& kernel) {
  if (!kernel.prepare) return nullptr;
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(node_index, &kernel);
  if (auto it = made_.find(key); it != made_.end()) return it->second;
  return made_.emplace(key, kernel.prepare(node)).first->second;
}

Plan make_plan(const ir::Graph& graph, const std::vector<Shape>& input_shapes, const std::vector<int>& wanted,
               kernels::KernelChoice choice, PreparedCache& prepared) {
  Plan plan;
  const size_t value_count = graph.values.size();
  plan.types.resize(value_count);
  plan.where.resize(value_count);
  plan.wanted = wanted;
  for (size_t i = 0; i < graph.input_values.size(); ++i) {
    int v = graph.input_values[i];
    plan.types[v] = {input_shapes.at(i), graph.inputs[i].dtype};
    plan.where[v] = {Location::kInput, i};
  }

  // Only nodes that lead to a wanted value run.
  std::vector<char> needed(value_count, 0), run_node(graph.nodes.size(), 0);
  for (int v : wanted) needed[v] = 1;
  for (size_t n = graph.nodes.size(); n-- > 0;) {
    const ir::Node& node = graph.nodes[n];
    bool need = false;
    for (int v : node.outputs) need |= needed[v] != 0;
    if (!need) continue;
    run_node[n] = 1;
    for (int v : node.inputs) needed[v] = 1;
  }

  // Concrete types and kernels.
  std::vector<ir::TensorType> in_types, out_types;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!run_node[n]) continue;
    const ir::Node& node = graph.nodes[n];
    in_types.clear();
    for (int v : node.inputs) in_types.push_back(plan.types[v]);
    try {
      out_types = ir::infer_types(node, in_types);
      if (out_types.size() != node.outputs.size())
        throw Error("yields " + std::to_string(out_types.size()) + " outputs for these shapes, expected " +
                    std::to_string(node.outputs.size()));
      for (const ir::TensorType& t : out_types) {
        // Shapes come from the model file: refuse unknown, overflowing or absurd sizes before allocating.
        int64_t count = 1;
        for (int64_t d : t.shape) {
          if (d < 0) throw Error("output shape " + shape_to_string(t.shape) + " is not fully known");
          if (d > 0 && count > kMaxTensorElements / d)
            throw Error("output shape " + shape_to_string(t.shape) + " is too large to allocate");
          count *= d;
        }
      }
    } catch (const Error& e) {
      throw Error("layer '" + node.layer + "': " + e.what());
    }
    for (size_t i = 0; i < out_types.size(); ++i) plan.types[node.outputs[i]] = out_types[i];
    Step step;
    step.node = static_cast<int>(n);
    step.kernel = &kernels::choose_kernel(node, in_types, out_types, choice);
    if (step.kernel->scratch_bytes) step.scratch_bytes = step.kernel->scratch_bytes(node, in_types, out_types);
    step.prepared = prepared.get(node, static_cast<int>(n), *step.kernel);
    step.outputs = node.outputs;
    plan.steps.push_back(std::move(step));
  }
  if (choice != kernels::KernelChoice::kReference) {
    fold_pads_into_convs(graph, plan, choice, prepared);
    fuse_post_ops(graph, plan);
  }

  // The last step reading each value.
  std::vector<int> last_read(value_count, -1);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const Step& step = plan.steps[s];
    for (int v : step_node(graph, step).inputs) last_read[v] = static_cast<int>(s);
    plan.view_count += step_node(graph, step).inputs.size() + step.outputs.size();
  }

  // Wanted values go straight to the caller's output buffers; a value wanted twice, or a model input
  // wanted as an output, is copied after the run.
  for (size_t i = 0; i < wanted.size(); ++i) {
    Location& w = plan.where[wanted[i]];
    if (w.kind == Location::kNone) w = {Location::kOutput, i};
    else plan.copied_outputs.emplace_back(i, wanted[i]);
  }

  // Arena offsets: a value takes memory when its step runs and gives it back after its last reader.
  ArenaAllocator arena;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    Step& step = plan.steps[s];
    const ir::Node& node = step_node(graph, step);
    bool reused_input = false;
    for (size_t i = 0; i < step.outputs.size(); ++i) {
      int v = step.outputs[i];
      if (plan.where[v].kind != Location::kNone) continue;
      // In place: output 0 takes input 0's block when this step is its last reader.
      if (i == 0 && step.kernel->in_place && !node.inputs.empty()) {
        int src = node.inputs[0];
        if (plan.where[src].kind == Location::kArena && last_read[src] == static_cast<int>(s) &&
            byte_size(plan.types[src]) == byte_size(plan.types[v]) &&
            std::count(node.inputs.begin(), node.inputs.end(), src) == 1) {
          plan.where[v] = plan.where[src];
          reused_input = true;
          continue;
        }
      }
      plan.where[v] = {Location::kArena, arena.allocate(byte_size(plan.types[v]))};
    }
    if (step.scratch_bytes) {
      step.scratch_offset = arena.allocate(step.scratch_bytes);
      arena.release(step.scratch_offset, step.scratch_bytes);
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int v = node.inputs[i];
      if (i == 0 && reused_input) continue;
      if (plan.where[v].kind != Location::kArena || last_read[v] != static_cast<int>(s)) continue;
      if (std::find(node.inputs.begin(), node.inputs.begin() + static_cast<long>(i), v) !=
          node.inputs.begin() + static_cast<long>(i))
        continue;  // the same value twice: release once
      arena.release(plan.where[v].index, byte_size(plan.types[v]));
    }
    // Outputs nobody reads (a layer's extra outputs) are dead at once.
    for (size_t i = 0; i < step.outputs.size(); ++i) {
      int v = step.outputs[i];
      if (plan.where[v].kind == Location::kArena && last_read[v] < 0)
        arena.release(plan.where[v].index, byte_size(plan.types[v]));
    }
  }
  plan.arena_bytes = arena.size();
  return plan;
}

}  // namespace kerasrt::plan
