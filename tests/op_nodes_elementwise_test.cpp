// Element-wise keras.ops nodes (op_nodes_elementwise.cpp) against hand-computed values.
#include <cmath>

#include "op_nodes_harness.hpp"

namespace kerasrt::testing {
namespace {

// ---- element-wise -----------------------------------------------------------------------------

TEST(OpNodes, AddTensorAndScalarEitherSide) {
  auto right = make_node("Add", json::object(), json::array({tensor_arg(0), 2.5}));
  expect_values(run_op(*right, {Tensor({1, 3}, {1, -2, 0})})[0], {1, 3}, {3.5f, 0.5f, 2.5f});
  auto left = make_node("Subtract", json::object(), json::array({3.0, tensor_arg(0)}));
  expect_values(run_op(*left, {Tensor({1, 3}, {1, -2, 0})})[0], {1, 3}, {2, 5, 3});
}

TEST(OpNodes, BinaryOpsBroadcastLikeNumPy) {
  auto op = make_node("TrueDivide", json::object(), json::array({tensor_arg(0), tensor_arg(1)}), 2);
  Tensor a = iota_tensor({2, 3, 1}, 1.f), b = iota_tensor({1, 4}, 1.f);
  auto out = run_op(*op, {a, b})[0];
  ASSERT_EQ(out.shape, (Shape{2, 3, 4}));
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_FLOAT_EQ(out.floats()[i * 4 + j], a.floats()[i] / b.floats()[j]);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 3, 1}, {1, 4}})[0], (Shape{-1, 3, 4}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{2, 3}, {4}}), Error);
}

TEST(OpNodes, ConstantListOperandBroadcasts) {
  auto op = make_node("Multiply", json::object(), json::array({tensor_arg(0), json::array({1, 10, 100})}));
  expect_values(run_op(*op, {Tensor({2, 3}, {1, 2, 3, 4, 5, 6})})[0], {2, 3}, {1, 20, 300, 4, 50, 600});
}

TEST(OpNodes, PowerMaximumAndFloorOps) {
  auto pw = make_node("Power", json::object(), json::array({tensor_arg(0), 2}));
  expect_values(run_op(*pw, {Tensor({3}, {-3, 0.5f, 2})})[0], {3}, {9, 0.25f, 4});
  auto mx = make_node("Maximum", json::object(), json::array({tensor_arg(0), 0.2}));
  expect_values(run_op(*mx, {Tensor({3}, {-1, 0.7f, NAN})})[0], {3}, {0.2f, 0.7f, NAN});
  // Python semantics: the result takes the divisor's sign.
  auto fd = make_node("FloorDivide", json::object(), json::array({tensor_arg(0), -2.0}));
  expect_values(run_op(*fd, {Tensor({3}, {7, -7, 4})})[0], {3}, {-4, 3, -2});
  auto md = make_node("Mod", json::object(), json::array({tensor_arg(0), 3.0}));
  expect_values(run_op(*md, {Tensor({3}, {7, -7, -6})})[0], {3}, {1, 2, 0});
}

TEST(OpNodes, ComparisonsGiveZeroOrOne) {
  auto ne = make_node("NotEqual", json::object(), json::array({tensor_arg(0), 0}));
  expect_values(run_op(*ne, {Tensor({4}, {0, 3, -0.f, NAN})})[0], {4}, {0, 1, 0, 1});
  auto le = make_node("LessEqual", json::object(), json::array({tensor_arg(0), tensor_arg(1)}), 2);
  expect_values(run_op(*le, {Tensor({3}, {1, 2, 3}), Tensor({3}, {2, 2, 2})})[0], {3}, {1, 1, 0});
  auto gt = make_node("Greater", json::object(), json::array({tensor_arg(0), 0.0}));
  expect_values(run_op(*gt, {Tensor({3}, {-1, 0, 2})})[0], {3}, {0, 0, 1});
  auto land = make_node("LogicalAnd", json::object(), json::array({tensor_arg(0), tensor_arg(1)}), 2);
  expect_values(run_op(*land, {Tensor({3}, {0, 2, 1}), Tensor({3}, {1, 0, -1})})[0], {3}, {0, 0, 1});
}

TEST(OpNodes, WhereSelectsWithBroadcasting) {
  auto op = make_node("Where", json::object(), json::array({tensor_arg(0), tensor_arg(1), 0.0}), 2);
  auto out = run_op(*op, {Tensor({2, 1}, {1, 0}), Tensor({2, 3}, {1, 2, 3, 4, 5, 6})})[0];
  expect_values(out, {2, 3}, {1, 2, 3, 0, 0, 0});
  EXPECT_THROW(make_node("Where", json::object(), json::array({tensor_arg(0)})), Error);
}

TEST(OpNodes, ClipKeepsNaN) {
  auto op = make_unary("Clip", {{"x_min", -0.5}, {"x_max", 0.8}});
  expect_values(run_op(*op, {Tensor({4}, {-2, 0.1f, 3, NAN})})[0], {4}, {-0.5f, 0.1f, 0.8f, NAN});
}

TEST(OpNodes, RoundIsHalfToEven) {
  auto op = make_unary("Round", {{"decimals", 0}});
  expect_values(run_op(*op, {Tensor({6}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.6f})})[0], {6}, {0, 2, 2, -0.f, -2, 3});
  auto one = make_unary("Round", {{"decimals", 1}});
  expect_values(run_op(*one, {Tensor({2}, {1.25f, 1.75f})})[0], {2}, {1.2f, 1.8f});
  auto tens = make_unary("Round", {{"decimals", -1}});
  expect_values(run_op(*tens, {Tensor({3}, {25, 35, 14})})[0], {3}, {20, 40, 10});
}

TEST(OpNodes, CastTruncatesTowardZeroAndWraps) {
  auto i32 = make_unary("Cast", {{"dtype", "int32"}});
  expect_values(run_op(*i32, {Tensor({4}, {-1.7f, 1.7f, -0.2f, 3})})[0], {4}, {-1, 1, 0, 3});
  auto u8 = make_unary("Cast", {{"dtype", "uint8"}});
  expect_values(run_op(*u8, {Tensor({3}, {300.7f, -1.5f, 255})})[0], {3}, {44, 255, 255});
  auto b = make_unary("Cast", {{"dtype", "bool"}});
  expect_values(run_op(*b, {Tensor({4}, {0, -0.f, 0.3f, NAN})})[0], {4}, {0, 0, 1, 1});
  auto f32 = make_unary("Cast", {{"dtype", "float32"}});
  expect_values(run_op(*f32, {Tensor({2}, {0.1f, -7})})[0], {2}, {0.1f, -7});
  EXPECT_THROW(make_unary("Cast", {{"dtype", "complex64"}}), Error);
}

TEST(OpNodes, CastToHalfPrecisionRoundsToNearestEven) {
  auto f16 = make_unary("Cast", {{"dtype", "float16"}});
  float ulp = std::ldexp(1.f, -10);  // float16 spacing just above 1
  auto out = run_op(*f16, {Tensor({5}, {1 + ulp, 1 + ulp / 2, 1 + 1.5f * ulp, 70000.f, std::ldexp(1.f, -25) * 3})})[0];
  expect_values(out, {5}, {1 + ulp, 1, 1 + 2 * ulp, INFINITY, std::ldexp(1.f, -24)});
  auto bf16 = make_unary("Cast", {{"dtype", "bfloat16"}});
  float bulp = std::ldexp(1.f, -7);
  expect_values(run_op(*bf16, {Tensor({2}, {1 + bulp / 2, 1 + 1.5f * bulp})})[0], {2}, {1, 1 + 2 * bulp});
}

TEST(OpNodes, UnaryMathByHand) {
  struct Case {
    const char* cls;
    float in, want;
  };
  for (const Case& c :
       {Case{"Absolute", -2, 2}, Case{"Negative", 2, -2}, Case{"Square", -3, 9}, Case{"Sqrt", 6.25f, 2.5f},
        Case{"Exp", 0, 1}, Case{"Log", 1, 0}, Case{"Tanh", 0, 0}, Case{"Sign", -3, -1}, Case{"Sign", 0, 0},
        Case{"Floor", -1.5f, -2}, Case{"Ceil", -1.5f, -1}, Case{"Reciprocal", 4, 0.25f}, Case{"LogicalNot", 0, 1}}) {
    auto op = make_unary(c.cls);
    auto out = run_op(*op, {Tensor({1}, {c.in})})[0];
    EXPECT_FLOAT_EQ(out.floats()[0], c.want) << c.cls;
  }
}

}  // namespace
}  // namespace kerasrt::testing
