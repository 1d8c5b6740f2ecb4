// Merge layers against hand-computed values and naive loops.
#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

std::shared_ptr<const Op> merge_op(const char* cls, json config, int inputs) {
  return make_op({{"class_name", cls}, {"config", std::move(config)}}, {}, positional_call(inputs));
}

TEST(Merge, AddThreeInputs) {
  auto op = merge_op("Add", json::object(), 3);
  auto out = run_op(*op, {Tensor({1, 3}, {1, 2, 3}), Tensor({1, 3}, {10, 20, 30}), Tensor({1, 3}, {100, 200, 300})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{111, 222, 333}));
}

TEST(Merge, SubtractMultiplyAverageMaximumMinimum) {
  Tensor a({2, 2}, {1, -2, 3, 4}), b({2, 2}, {2, 2, -1, 4});
  EXPECT_EQ(run_op(*merge_op("Subtract", {}, 2), {a, b})[0].to_floats(), (std::vector<float>{-1, -4, 4, 0}));
  EXPECT_EQ(run_op(*merge_op("Multiply", {}, 2), {a, b})[0].to_floats(), (std::vector<float>{2, -4, -3, 16}));
  EXPECT_EQ(run_op(*merge_op("Average", {}, 2), {a, b})[0].to_floats(), (std::vector<float>{1.5f, 0, 1, 4}));
  EXPECT_EQ(run_op(*merge_op("Maximum", {}, 2), {a, b})[0].to_floats(), (std::vector<float>{2, 2, 3, 4}));
  EXPECT_EQ(run_op(*merge_op("Minimum", {}, 2), {a, b})[0].to_floats(), (std::vector<float>{1, -2, -1, 4}));
}

TEST(Merge, AverageOfThreeDividesByCount) {
  auto out = run_op(*merge_op("Average", {}, 3), {Tensor({1, 1}, {1}), Tensor({1, 1}, {2}), Tensor({1, 1}, {6})});
  EXPECT_FLOAT_EQ(out[0].floats()[0], 3.f);
}

TEST(Merge, LowerRankInputGetsAxesAfterBatch) {
  // (B=2, 3) against (B=2, 2, 3): the first becomes (2, 1, 3) and repeats along axis 1.
  Tensor a({2, 3}, {1, 2, 3, 4, 5, 6});
  std::mt19937 rng(5);
  Tensor b = random_tensor({2, 2, 3}, rng);
  auto op = merge_op("Add", {}, 2);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 3}, {-1, 2, 3}})[0], (Shape{-1, 2, 3}));
  auto out = run_op(*op, {a, b});
  ASSERT_EQ(out[0].shape, (Shape{2, 2, 3}));
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        EXPECT_FLOAT_EQ(out[0].floats()[(n * 2 + i) * 3 + j], a.floats()[n * 3 + j] + b.floats()[(n * 2 + i) * 3 + j]);
}

TEST(Merge, SameRankBroadcastsSizeOneAxes) {
  // (1, 2, 1) * (3, 1, 2) -> (3, 2, 2), batch axis included.
  Tensor a({1, 2, 1}, {2, 3}), b({3, 1, 2}, {1, 2, 3, 4, 5, 6});
  auto out = run_op(*merge_op("Multiply", {}, 2), {a, b});
  ASSERT_EQ(out[0].shape, (Shape{3, 2, 2}));
  for (int n = 0; n < 3; ++n)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) EXPECT_FLOAT_EQ(out[0].floats()[(n * 2 + i) * 2 + j], a.floats()[i] * b.floats()[n * 2 + j]);
}

TEST(Merge, ShapeErrorsAndUnknownDims) {
  auto add = merge_op("Add", {}, 2);
  EXPECT_THROW(add->output_shapes(std::vector<Shape>{{-1, 3}, {-1, 4}}), Error);
  EXPECT_EQ(add->output_shapes(std::vector<Shape>{{-1, -1}, {-1, 4}})[0], (Shape{-1, 4}));
  EXPECT_EQ(add->output_shapes(std::vector<Shape>{{-1, -1}, {-1, 1}})[0], (Shape{-1, -1}));
  auto sub = merge_op("Subtract", {}, 3);
  EXPECT_THROW(sub->output_shapes(std::vector<Shape>{{-1, 3}, {-1, 3}, {-1, 3}}), Error);
}

TEST(Merge, MaximumPropagatesNaN) {
  auto out = run_op(*merge_op("Maximum", {}, 2), {Tensor({1, 2}, {NAN, 1}), Tensor({1, 2}, {0, NAN})});
  EXPECT_TRUE(std::isnan(out[0].floats()[0]));
  EXPECT_TRUE(std::isnan(out[0].floats()[1]));
}

// ---- Concatenate ------------------------------------------------------------------------------

TEST(Concatenate, LastAxis) {
  auto op = merge_op("Concatenate", {{"axis", -1}}, 2);
  auto out = run_op(*op, {Tensor({2, 1}, {1, 2}), Tensor({2, 2}, {3, 4, 5, 6})});
  EXPECT_EQ(out[0].shape, (Shape{2, 3}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 3, 4, 2, 5, 6}));
}

TEST(Concatenate, MiddleAxisOfThreeInputs) {
  auto op = merge_op("Concatenate", {{"axis", 1}}, 3);
  auto out = run_op(*op, {Tensor({2, 1, 2}, {1, 2, 3, 4}), Tensor({2, 2, 2}, {5, 6, 7, 8, 9, 10, 11, 12}),
                          Tensor({2, 1, 2}, {13, 14, 15, 16})});
  EXPECT_EQ(out[0].shape, (Shape{2, 4, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 2, 5, 6, 7, 8, 13, 14, 3, 4, 9, 10, 11, 12, 15, 16}));
}

TEST(Concatenate, ShapesWithUnknownDimsAndErrors) {
  auto op = merge_op("Concatenate", {{"axis", -2}}, 2);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 3, 4}, {-1, 5, 4}})[0], (Shape{-1, 8, 4}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1, 4}, {-1, 5, 4}})[0], (Shape{-1, -1, 4}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 3, -1}, {-1, 5, 4}})[0], (Shape{-1, 8, 4}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 3, 4}, {-1, 5, 2}}), Error);
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 3, 4}, {-1, 4}}), Error);
  auto far = merge_op("Concatenate", {{"axis", 3}}, 2);
  EXPECT_THROW(far->output_shapes(std::vector<Shape>{{-1, 3}, {-1, 3}}), Error);
}

// ---- Dot --------------------------------------------------------------------------------------

TEST(Dot, VectorsGiveOneColumn) {
  auto op = merge_op("Dot", {{"axes", 1}}, 2);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 3}, {-1, 3}})[0], (Shape{-1, 1}));
  auto out = run_op(*op, {Tensor({2, 3}, {1, 2, 3, 4, 5, 6}), Tensor({2, 3}, {1, 0, -1, 2, 2, 2})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{-2, 30}));
}

TEST(Dot, NormalizeGivesCosineSimilarity) {
  auto op = merge_op("Dot", {{"axes", -1}, {"normalize", true}}, 2);
  auto out = run_op(*op, {Tensor({2, 2}, {3, 4, 0, 0}), Tensor({2, 2}, {4, 3, 1, 1})});
  EXPECT_NEAR(out[0].floats()[0], 24.0 / 25.0, 1e-6);
  EXPECT_EQ(out[0].floats()[1], 0.f);  // a zero vector stays zero
}

TEST(Dot, ThreeDimensionalPairOfAxes) {
  // x (B, 3, 5), y (B, 4, 5), axes (2, 2): out[b, i, j] = sum_k x[b,i,k] y[b,j,k].
  std::mt19937 rng(6);
  Tensor x = random_tensor({2, 3, 5}, rng), y = random_tensor({2, 4, 5}, rng);
  auto op = merge_op("Dot", {{"axes", {2, 2}}}, 2);
  auto out = run_op(*op, {x, y});
  ASSERT_EQ(out[0].shape, (Shape{2, 3, 4}));
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) {
        double s = 0;
        for (int k = 0; k < 5; ++k) s += x.floats()[(b * 3 + i) * 5 + k] * y.floats()[(b * 4 + j) * 5 + k];
        EXPECT_NEAR(out[0].floats()[(b * 3 + i) * 4 + j], s, 1e-5);
      }
}

TEST(Dot, MixedAxesAndRanks) {
  // x (B, 4, 3) contracted on axis 1 with y (B, 4): out (B, 3), out[b, i] = sum_k x[b,k,i] y[b,k].
  std::mt19937 rng(7);
  Tensor x = random_tensor({2, 4, 3}, rng), y = random_tensor({2, 4}, rng);
  auto op = merge_op("Dot", {{"axes", {1, 1}}}, 2);
  auto out = run_op(*op, {x, y});
  ASSERT_EQ(out[0].shape, (Shape{2, 3}));
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i) {
      double s = 0;
      for (int k = 0; k < 4; ++k) s += x.floats()[(b * 4 + k) * 3 + i] * y.floats()[b * 4 + k];
      EXPECT_NEAR(out[0].floats()[b * 3 + i], s, 1e-5);
    }
}

TEST(Dot, MiddleAxisOfARank4Input) {
  // x (B, 2, 3, 4) contracted on axis 2 with y (B, 3, 5) on axis 1: out[b, i, l, j] = sum_k x[b,i,k,l] y[b,k,j].
  std::mt19937 rng(8);
  Tensor x = random_tensor({2, 2, 3, 4}, rng), y = random_tensor({2, 3, 5}, rng);
  auto op = merge_op("Dot", {{"axes", {2, 1}}}, 2);
  auto out = run_op(*op, {x, y});
  ASSERT_EQ(out[0].shape, (Shape{2, 2, 4, 5}));
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 2; ++i)
      for (int l = 0; l < 4; ++l)
        for (int j = 0; j < 5; ++j) {
          double s = 0;
          for (int k = 0; k < 3; ++k) s += x.floats()[((b * 2 + i) * 3 + k) * 4 + l] * y.floats()[(b * 3 + k) * 5 + j];
          EXPECT_NEAR(out[0].floats()[((b * 2 + i) * 4 + l) * 5 + j], s, 1e-5);
        }
}

TEST(Dot, NormalizeAlongNonTrailingAxis) {
  // x (1, 2, 2) normalized along axis 1 (columns), y (1, 2) along axis 1; contraction on axis 1.
  auto op = merge_op("Dot", {{"axes", {1, 1}}, {"normalize", true}}, 2);
  auto out = run_op(*op, {Tensor({1, 2, 2}, {3, 1, 4, 0}), Tensor({1, 2}, {0, 2})});
  // column 0 = (3,4)/5, column 1 = (1,0); y = (0,1)
  EXPECT_NEAR(out[0].floats()[0], 0.8, 1e-6);
  EXPECT_NEAR(out[0].floats()[1], 0.0, 1e-6);
}

TEST(Dot, Errors) {
  EXPECT_THROW(merge_op("Dot", {{"axes", {1, 2, 3}}}, 2), Error);
  auto op = merge_op("Dot", {{"axes", 1}}, 2);
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 3}, {-1, 4}}), Error);
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 3}}), Error);
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{2, 3}, {3, 3}}), Error);
  auto batch = merge_op("Dot", {{"axes", 0}}, 2);
  EXPECT_THROW(batch->output_shapes(std::vector<Shape>{{-1, 3}, {-1, 3}}), Error);
}

}  // namespace
}  // namespace kerasrt::testing
