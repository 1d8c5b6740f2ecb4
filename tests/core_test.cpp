// The typed core shape layers: what the reshape/transpose/repeat nodes add beyond the hand-computed
// cases in dense_test.cpp (Core.*): in-place aliasing, dtypes kept, calls refused as before.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "plan/plan.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

ir::Node node(ir::OpKind kind, ir::Attrs attrs, std::vector<int> in, std::vector<int> out) {
  ir::Node n;
  n.kind = kind;
  n.attrs = std::move(attrs);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  n.layer = "test";
  return n;
}

// relu -> reshape -> relu: the reshape's output takes the first relu's block instead of a copy.
TEST(CoreTyped, ReshapeSharesItsInputsMemory) {
  ir::Graph g;
  g.inputs.push_back({"x", {-1, 4, 3}, DType::kFloat32});
  g.input_values.push_back(g.add_value({{-1, 4, 3}, DType::kFloat32}, -1));
  const int a = g.add_value({{-1, 4, 3}, DType::kFloat32}, 0);
  const int b = g.add_value({{-1, 12}, DType::kFloat32}, 1);
  const int c = g.add_value({{-1, 12}, DType::kFloat32}, 2);
  g.nodes.push_back(node(ir::OpKind::kUnary, ir::UnaryAttrs{ir::UnaryFn::kSigmoid}, {0}, {a}));
  g.nodes.push_back(node(ir::OpKind::kReshape, ir::ReshapeAttrs{{-1}, false}, {a}, {b}));
  g.nodes.push_back(node(ir::OpKind::kUnary, ir::UnaryAttrs{ir::UnaryFn::kTanh}, {b}, {c}));
  for (auto choice : {kernels::KernelChoice::kFastest, kernels::KernelChoice::kReference}) {
    plan::PreparedCache prepared;
    plan::Plan p = plan::make_plan(g, {{2, 4, 3}}, {c}, choice, prepared);
    ASSERT_EQ(p.where[a].kind, plan::Location::kArena);
    EXPECT_EQ(p.where[b].kind, plan::Location::kArena);
    EXPECT_EQ(p.where[b].index, p.where[a].index);
  }
}

TEST(CoreTyped, NoOpsPassValuesThroughAndRefuseTensorKeywords) {
  for (const char* cls : {"Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                          "ActivityRegularization", "Identity"}) {
    auto op = make_op(layer(cls, {{"rate", 0.5}}));
    auto out = run_op(*op, {Tensor({2, 1, 1, 2}, {1, -2, 3, 4})});
    EXPECT_EQ(out[0].shape, (Shape{2, 1, 1, 2})) << cls;
    EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, -2, 3, 4})) << cls;
    Call masked;
    masked.roles = {"", "mask"};
    EXPECT_THROW(make_op(layer(cls, json::object()), {}, masked), Error) << cls;
  }
}

TEST(CoreTyped, RepeatVectorCopiesEachRow) {
  auto op = make_op(layer("RepeatVector", {{"n", 3}}));
  auto out = run_op(*op, {Tensor({2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(out[0].shape, (Shape{2, 3, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
  Shape rank3{1, 2, 2};
  EXPECT_THROW(op->output_shapes(std::span<const Shape>(&rank3, 1)), Error);
}

TEST(CoreTyped, PermuteOfThreeAxesAndRankCheck) {
  auto op = make_op(layer("Permute", {{"dims", {3, 1, 2}}}));
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<float>(i);
  auto out = run_op(*op, {Tensor({1, 2, 3, 4}, v)});
  ASSERT_EQ(out[0].shape, (Shape{1, 4, 2, 3}));
  // out[0, k, i, j] = in[0, i, j, k] = 12i + 4j + k
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) EXPECT_EQ(out[0].floats()[(k * 2 + i) * 3 + j], 12 * i + 4 * j + k);
  Shape rank3{1, 2, 3};
  EXPECT_THROW(op->output_shapes(std::span<const Shape>(&rank3, 1)), Error);
  EXPECT_THROW(make_op(layer("Permute", {{"dims", {1, 1}}})), Error);
}

}  // namespace
}  // namespace kerasrt::testing
