#include "format/keras/typed_op.hpp"

#include <cstdlib>

#include "plan/runner.hpp"

namespace kerasrt::format {

TypedLayerOp::TypedLayerOp(std::shared_ptr<const TypedLayer> layer, Call call)
    : layer_(std::move(layer)), call_(std::move(call)) {
  if (call_.roles.empty()) call_.roles.assign(1, "");
  layer_->check_call(call_);
}

std::shared_ptr<const Op> TypedLayerOp::bind(const Call& call) const {
  return std::make_shared<TypedLayerOp>(layer_, call);
}

ir::Graph TypedLayerOp::graph(std::span<const Shape> in) const {
  ir::Graph g;
  std::vector<int> args;
  for (size_t i = 0; i < in.size(); ++i) {
    args.push_back(g.add_value({in[i], DType::kFloat32}, -1));
    g.inputs.push_back({"in" + std::to_string(i), in[i], DType::kFloat32});
    g.input_values.push_back(args.back());
  }
  GraphSink sink(g, call_.where, "wrapped");
  // An Op's outputs are float32: other results (comparisons, casts) come back as their float values.
  for (int v : layer_->call(sink, call_, args)) g.output_values.push_back(sink.cast(v, DType::kFloat32));
  return g;
}

std::vector<Shape> TypedLayerOp::output_shapes(std::span<const Shape> in) const {
  ir::Graph g = graph(in);
  std::vector<Shape> out;
  for (int v : g.output_values) out.push_back(g.values[v].type.shape);
  return out;
}

void TypedLayerOp::run(std::span<const ConstView> in, std::span<const MutView> out) const {
  std::vector<Shape> shapes;
  for (const auto& v : in) shapes.emplace_back(v.shape.begin(), v.shape.end());
  ir::Graph g = graph(shapes);
  plan::PreparedCache prepared;
  auto p = std::make_shared<const plan::Plan>(plan::make_plan(
      g, shapes, g.output_values, kernels::kernel_choice_from_env(kernels::KernelChoice::kFastest), prepared));
  std::vector<const void*> ins;
  for (const auto& v : in) ins.push_back(v.data);
  std::vector<void*> outs;
  for (const auto& v : out) outs.push_back(v.data);
  plan::Runner runner(g, p);
  size_t bytes = (p->arena_bytes + 63) / 64 * 64;
  std::unique_ptr<std::byte, decltype(&std::free)> arena(static_cast<std::byte*>(std::aligned_alloc(64, bytes ? bytes : 64)),
                                                         &std::free);
  if (!arena) throw std::bad_alloc();
  runner.run(arena.get(), ins, outs, nullptr);
}

}  // namespace kerasrt::format
