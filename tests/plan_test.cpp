// The plan's rewrites, checked on hand-built ir graphs against the same graph run literally with the
// reference kernels: a ZeroPadding folded into the convolution that reads it.
#include <gtest/gtest.h>

#include <random>

#include "harness.hpp"
#include "ir/conv.hpp"
#include "ir/graph.hpp"
#include "ir/infer.hpp"
#include "ir/spatial.hpp"
#include "kernels/context.hpp"
#include "plan/runner.hpp"

namespace kerasrt {
namespace {

using testing::compare;

Tensor random_tensor(const Shape& shape, std::mt19937& rng) {
  Tensor t(shape);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (float& v : t.floats()) v = u(rng);
  return t;
}

// x -> ZeroPadding (spatial `before`/`after`) -> conv (valid, `groups`, stride 2) -> relu, as
// "pad" and "conv" layers.
ir::Graph pad_then_conv(const Shape& x_shape, std::vector<int64_t> before, std::vector<int64_t> after, int64_t groups,
                        std::mt19937& rng) {
  ir::Graph g;
  g.name = "pad_then_conv";
  const int rank = static_cast<int>(x_shape.size()) - 2;
  const int64_t channels = x_shape.back();
  const int x = g.add_value({x_shape, DType::kFloat32}, -1);
  g.inputs.push_back({"x", x_shape, DType::kFloat32});
  g.input_values.push_back(x);

  ir::Node pad;
  pad.kind = ir::OpKind::kPad;
  pad.attrs = ir::PadAttrs{std::move(before), std::move(after)};
  pad.layer = "pad";
  pad.inputs = {x};
  const auto padded_type = ir::infer_types(pad, std::vector<ir::TensorType>{{x_shape, DType::kFloat32}})[0];
  const int padded = g.add_value(padded_type, 0);
  pad.outputs = {padded};
  g.nodes.push_back(pad);

  ir::ConvAttrs a;
  a.rank = rank;
  for (int d = 0; d < rank; ++d) {
    a.kernel[d] = 3;
    a.strides[d] = 2;
  }
  a.in_channels = channels;
  a.groups = groups;
  a.filters = groups == 1 ? 5 : channels;
  a.activation.fn = ir::UnaryFn::kRelu;
  Shape ks;
  for (int d = 0; d < rank; ++d) ks.push_back(3);
  ks.push_back(channels / groups);
  ks.push_back(a.filters);
  ir::Node conv;
  conv.kind = ir::OpKind::kConv;
  conv.attrs = a;
  conv.weights = {{"kernel", std::make_shared<Tensor>(random_tensor(ks, rng))},
                  {"bias", std::make_shared<Tensor>(random_tensor({a.filters}, rng))}};
  conv.layer = "conv";
  conv.inputs = {padded};
  const auto out_type = ir::infer_types(conv, std::vector<ir::TensorType>{padded_type})[0];
  const int y = g.add_value(out_type, 1);
  conv.outputs = {y};
  g.nodes.push_back(conv);
  g.outputs.push_back({"conv", out_type.shape, DType::kFloat32});
  g.output_values.push_back(y);
  g.named_values = {{"pad", padded}, {"conv", y}};
  return g;
}

std::vector<Tensor> run(const ir::Graph& g, const Tensor& x, const std::vector<int>& wanted,
                        kernels::KernelChoice choice, size_t* steps = nullptr) {
  plan::PreparedCache prepared;
  auto p = std::make_shared<const plan::Plan>(plan::make_plan(g, {x.shape}, wanted, choice, prepared));
  if (steps) *steps = p->steps.size();
  std::vector<Tensor> out;
  for (int v : wanted) out.emplace_back(p->types[v].shape, p->types[v].dtype);
  std::vector<const void*> in{x.view().data};
  std::vector<void*> outs;
  for (Tensor& t : out) outs.push_back(t.raw());
  plan::Runner runner(g, p);
  std::vector<std::byte> arena(p->arena_bytes + 64);
  auto* base = reinterpret_cast<std::byte*>((reinterpret_cast<uintptr_t>(arena.data()) + 63) / 64 * 64);
  kernels::ThreadPool pool(1);
  runner.run(base, in, outs, &pool);
  return out;
}

TEST(Plan, ZeroPaddingFoldsIntoTheConvolutionThatReadsIt) {
  std::mt19937 rng(20261201);
  struct Case {
    Shape x;
    std::vector<int64_t> before, after;
    int64_t groups;
  };
  const Case cases[] = {
      {{2, 9, 10, 4}, {0, 0, 1, 0}, {0, 1, 2, 0}, 1},      // 2-D, GEMM kernel
      {{1, 12, 11, 6}, {0, 1, 1, 0}, {0, 0, 1, 0}, 6},     // 2-D depthwise (MobileNet's stride-2 blocks)
      {{2, 17, 3}, {0, 2, 0}, {0, 1, 0}, 1},               // 1-D
      {{1, 5, 6, 7, 2}, {0, 1, 0, 2, 0}, {0, 0, 1, 1, 0}, 2},  // 3-D depthwise
  };
  for (const Case& c : cases) {
    const ir::Graph g = pad_then_conv(c.x, c.before, c.after, c.groups, rng);
    const Tensor x = random_tensor(c.x, rng);
    const int y = g.output_values[0], padded = g.named_values[0].second;
    size_t fast_steps = 0, ref_steps = 0;
    const auto fast = run(g, x, {y}, kernels::KernelChoice::kFastest, &fast_steps);
    const auto ref = run(g, x, {y}, kernels::KernelChoice::kReference, &ref_steps);
    EXPECT_EQ(ref_steps, 2u);
    EXPECT_EQ(fast_steps, 1u) << "the padding should run inside the convolution";
    EXPECT_EQ(compare(ref[0], fast[0], 1e-6, 1e-5), "") << shape_to_string(c.x);
    // Wanted, the padded value is made as it is: no fold.
    const auto both = run(g, x, {padded, y}, kernels::KernelChoice::kFastest, &fast_steps);
    const auto both_ref = run(g, x, {padded, y}, kernels::KernelChoice::kReference);
    EXPECT_EQ(fast_steps, 2u);
    EXPECT_EQ(compare(both_ref[0], both[0], 0, 0), "");
    EXPECT_EQ(compare(both_ref[1], both[1], 1e-6, 1e-5), "");
  }
}

TEST(Plan, ExplicitConvPaddingIsForwardOnly) {
  ir::ConvAttrs a;
  a.rank = 1;
  a.kernel = {3, 1, 1};
  a.in_channels = 1;
  a.filters = 1;
  a.padding = ir::ConvPadding::kExplicit;
  a.pad_before = {2, 0, 0};
  a.pad_after = {1, 0, 0};
  EXPECT_EQ(ir::conv_axis(a, 0, 5).out, 6);  // 5 + 3 padded, kernel 3
  EXPECT_EQ(ir::conv_axis(a, 0, 5).source(0, 0), -1);
  EXPECT_EQ(ir::conv_axis(a, 0, 5).source(0, 2), 0);
  a.transpose = true;
  ir::Node n;
  n.kind = ir::OpKind::kConv;
  n.attrs = a;
  EXPECT_THROW(ir::infer_types(n, std::vector<ir::TensorType>{{{1, 5, 1}, DType::kFloat32}}), Error);
}

}  // namespace
}  // namespace kerasrt
