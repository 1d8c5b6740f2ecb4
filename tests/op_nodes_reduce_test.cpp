// Reduction keras.ops nodes (op_nodes_reduce.cpp) against hand-computed values.
#include <cmath>

#include "op_nodes_harness.hpp"

namespace kerasrt::testing {
namespace {

// ---- reductions -------------------------------------------------------------------------------

TEST(OpNodes, MeanAndMaxOverSeveralAxes) {
  Tensor x = iota_tensor({2, 2, 3, 2}, -5.f, 0.5f);
  auto mean = make_unary("Mean", {{"axis", {1, 2}}, {"keepdims", false}});
  auto mx = make_unary("Max", {{"axis", {1, 2}}, {"keepdims", true}, {"initial", nullptr}});
  auto m = run_op(*mean, {x})[0];
  auto M = run_op(*mx, {x})[0];
  ASSERT_EQ(m.shape, (Shape{2, 2}));
  ASSERT_EQ(M.shape, (Shape{2, 1, 1, 2}));
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 2; ++c) {
      double s = 0;
      float best = -INFINITY;
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) {
          float v = x.floats()[((b * 2 + i) * 3 + j) * 2 + c];
          s += v;
          best = std::max(best, v);
        }
      EXPECT_FLOAT_EQ(m.floats()[b * 2 + c], static_cast<float>(s / 6));
      EXPECT_FLOAT_EQ(M.floats()[b * 2 + c], best);
    }
  EXPECT_EQ(mean->output_shapes(std::vector<Shape>{{-1, 4, 5, 4}})[0], (Shape{-1, 4}));
}

TEST(OpNodes, ReductionsByHand) {
  Tensor x({2, 4}, {1, 2, 3, 4, -1, 0, 0, 5});
  auto run1 = [&](const char* cls, json cfg) { return run_op(*make_unary(cls, cfg), {x})[0]; };
  expect_values(run1("Sum", {{"axis", -1}, {"keepdims", true}}), {2, 1}, {10, 4});
  expect_values(run1("Min", {{"axis", 1}, {"keepdims", false}, {"initial", nullptr}}), {2}, {1, -1});
  expect_values(run1("Max", {{"axis", 1}, {"initial", 3.0}}), {2}, {4, 5});
  expect_values(run1("Prod", {{"axis", 1}}), {2}, {24, 0});
  // Population statistics: row 0 has mean 2.5, variance (2.25+0.25+0.25+2.25)/4 = 1.25; row 1 mean 1,
  // variance (4+1+1+16)/4 = 5.5.
  expect_values(run1("Var", {{"axis", -1}}), {2}, {1.25f, 5.5f});
  expect_values(run1("Std", {{"axis", -1}, {"keepdims", true}}), {2, 1}, {std::sqrt(1.25f), std::sqrt(5.5f)});
  expect_values(run1("Any", {{"axis", 0}}), {4}, {1, 1, 1, 1});
  expect_values(run1("All", {{"axis", -1}}), {2}, {1, 0});
  expect_values(run1("Mean", json::object()), {}, {1.75f});
  expect_values(run1("Mean", {{"axis", nullptr}, {"keepdims", true}}), {1, 1}, {1.75f});
  expect_values(run1("Argmax", {{"axis", 1}}), {2}, {3, 3});
  expect_values(run1("Argmin", {{"axis", nullptr}}), {}, {4});
  expect_values(run1("Sum", {{"axis", json::array()}}), {2, 4}, x.to_floats());
}

TEST(OpNodes, ArgmaxTakesFirstOfTiesAndNaN) {
  auto op = make_unary("Argmax", {{"axis", -1}});
  expect_values(run_op(*op, {Tensor({2, 3}, {2, 5, 5, 1, NAN, 7})})[0], {2}, {1, 1});
}

TEST(OpNodes, AnyOverLastAxisIsTheMaskOfMasking) {
  auto op = make_unary("Any", {{"axis", -1}, {"keepdims", false}});
  expect_values(run_op(*op, {Tensor({1, 3, 2}, {0, 0, 0, 1, 1, 0})})[0], {1, 3}, {0, 1, 1});
}

TEST(OpNodes, ReductionErrors) {
  EXPECT_THROW(make_unary("Sum", {{"axis", 2}})->output_shapes(std::vector<Shape>{{2, 2}}), Error);
  EXPECT_THROW(make_unary("Sum", {{"axis", {1, 1}}})->output_shapes(std::vector<Shape>{{2, 2}}), Error);
  EXPECT_THROW(make_unary("Max", {{"axis", 1}})->output_shapes(std::vector<Shape>{{2, 0}}), Error);
  EXPECT_THROW(make_unary("Argmax", {{"axis", {0, 1}}}), Error);
}

}  // namespace
}  // namespace kerasrt::testing
