// Shape and indexing keras.ops nodes (op_nodes_shape.cpp) against hand-computed values.
#include <cmath>

#include "op_nodes_harness.hpp"

namespace kerasrt::testing {
namespace {

// ---- shape ops --------------------------------------------------------------------------------

TEST(OpNodes, ReshapeInfersMinusOneWithUnknownBatch) {
  auto op = make_unary("Reshape", {{"newshape", {-1, 6, 2}}});
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 3, 4}})[0], (Shape{-1, 6, 2}));
  Tensor x = iota_tensor({2, 3, 4});
  auto out = run_op(*op, {x})[0];
  EXPECT_EQ(out.shape, (Shape{2, 6, 2}));
  EXPECT_EQ(out.to_floats(), x.to_floats());
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{2, 5}}), Error);
}

// keras.ops.reshape reshapes the batch axis too (the Reshape layer keeps it).
TEST(OpNodes, ReshapeMayMoveTheBatchAxis) {
  Tensor x = iota_tensor({2, 3, 2});
  auto flat = run_op(*make_unary("Reshape", {{"newshape", -1}}), {x})[0];
  expect_values(flat, {12}, x.to_floats());
  auto regroup = run_op(*make_unary("Reshape", {{"newshape", {3, -1}}}), {x})[0];
  expect_values(regroup, {3, 4}, x.to_floats());
  EXPECT_EQ(make_unary("Reshape", {{"newshape", {-1, 4}}})->output_shapes(std::vector<Shape>{{-1, 2, 2}})[0],
            (Shape{-1, 4}));
  EXPECT_THROW(make_unary("Reshape", {{"newshape", {-1, -1}}})->output_shapes(std::vector<Shape>{{2, 2}}), Error);
  EXPECT_THROW(make_unary("Reshape", {{"newshape", {-2, 2}}})->output_shapes(std::vector<Shape>{{2, 2}}), Error);
}

// A squeezed axis of unknown size is checked once the size is known.
TEST(OpNodes, SqueezeOfAnUnknownAxis) {
  auto sq = make_unary("Squeeze", {{"axis", 0}});
  EXPECT_EQ(sq->output_shapes(std::vector<Shape>{{-1, 5}})[0], (Shape{5}));
  expect_values(run_op(*sq, {Tensor({1, 2}, {7, 8})})[0], {2}, {7, 8});
  EXPECT_THROW(run_op(*sq, {Tensor({2, 2}, {7, 8, 9, 10})}), Error);
}

TEST(OpNodes, ExpandDimsAndSqueeze) {
  EXPECT_EQ(make_unary("ExpandDims", {{"axis", -1}})->output_shapes(std::vector<Shape>{{-1, 3}})[0], (Shape{-1, 3, 1}));
  EXPECT_EQ(make_unary("ExpandDims", {{"axis", {0, 2}}})->output_shapes(std::vector<Shape>{{4, 3}})[0],
            (Shape{1, 4, 1, 3}));
  auto sq = make_unary("Squeeze", {{"axis", 1}});
  EXPECT_EQ(sq->output_shapes(std::vector<Shape>{{-1, 1, 5}})[0], (Shape{-1, 5}));
  EXPECT_THROW(sq->output_shapes(std::vector<Shape>{{2, 3, 5}}), Error);
  auto all = make_unary("Squeeze", {{"axis", nullptr}});
  EXPECT_EQ(all->output_shapes(std::vector<Shape>{{1, 3, 1}})[0], (Shape{3}));
  auto out = run_op(*sq, {Tensor({2, 1, 2}, {1, 2, 3, 4})})[0];
  expect_values(out, {2, 2}, {1, 2, 3, 4});
}

TEST(OpNodes, TransposeSwapaxesMoveaxis) {
  Tensor x = iota_tensor({2, 3, 4});
  auto check = [&](const Tensor& out, std::array<int, 3> perm) {
    ASSERT_EQ(out.shape, (Shape{x.shape[perm[0]], x.shape[perm[1]], x.shape[perm[2]]}));
    std::array<int64_t, 3> i{};
    int64_t o = 0;
    for (i[0] = 0; i[0] < out.shape[0]; ++i[0])
      for (i[1] = 0; i[1] < out.shape[1]; ++i[1])
        for (i[2] = 0; i[2] < out.shape[2]; ++i[2]) {
          std::array<int64_t, 3> src{};
          for (int a = 0; a < 3; ++a) src[perm[a]] = i[a];
          EXPECT_EQ(out.floats()[o++], x.floats()[(src[0] * 3 + src[1]) * 4 + src[2]]);
        }
  };
  check(run_op(*make_unary("Transpose", {{"axes", {0, 2, 1}}}), {x})[0], {0, 2, 1});
  check(run_op(*make_unary("Transpose", {{"axes", nullptr}}), {x})[0], {2, 1, 0});
  check(run_op(*make_unary("Swapaxes", {{"axis1", 0}, {"axis2", -1}}), {x})[0], {2, 1, 0});
  check(run_op(*make_unary("Moveaxis", {{"source", 0}, {"destination", -1}}), {x})[0], {1, 2, 0});
  EXPECT_THROW(make_unary("Transpose", {{"axes", {0, 0, 1}}})->output_shapes(std::vector<Shape>{{2, 3, 4}}), Error);
}

TEST(OpNodes, ConcatenateAndStack) {
  Tensor a({2, 2}, {1, 2, 3, 4}), b({2, 1}, {9, 8});
  auto cat = make_node("Concatenate", {{"axis", -1}}, json::array({json::array({tensor_arg(0), tensor_arg(1)})}), 2);
  expect_values(run_op(*cat, {a, b})[0], {2, 3}, {1, 2, 9, 3, 4, 8});
  EXPECT_EQ(cat->output_shapes(std::vector<Shape>{{-1, 2}, {-1, 1}})[0], (Shape{-1, 3}));
  EXPECT_THROW(cat->output_shapes(std::vector<Shape>{{2, 2}, {3, 1}}), Error);
  auto stack = make_node("Stack", {{"axis", 1}}, json::array({json::array({tensor_arg(0), tensor_arg(1)})}), 2);
  Tensor c({2, 2}, {5, 6, 7, 8});
  expect_values(run_op(*stack, {a, c})[0], {2, 2, 2}, {1, 2, 5, 6, 3, 4, 7, 8});
}

// ---- indexing ---------------------------------------------------------------------------------

// x[key] on a (2, 5, 3) tensor, against an index formula per output element.
TEST(OpNodes, GetItemSlicesLikePython) {
  Tensor x = iota_tensor({2, 5, 3});
  auto at = [&](int64_t b, int64_t t, int64_t c) { return x.floats()[(b * 5 + t) * 3 + c]; };
  auto get = [&](json key) {
    return run_op(*make_node("GetItem", json::object(), json::array({tensor_arg(0), key})), {x})[0];
  };

  auto s1 = get(json::array({kAll, slice(1, 3, nullptr)}));  // x[:, 1:3]
  ASSERT_EQ(s1.shape, (Shape{2, 2, 3}));
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 2; ++t)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(s1.floats()[(b * 2 + t) * 3 + c], at(b, t + 1, c));

  auto s2 = get(json::array({kEllipsis, 0}));  // x[..., 0]
  ASSERT_EQ(s2.shape, (Shape{2, 5}));
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 5; ++t) EXPECT_EQ(s2.floats()[b * 5 + t], at(b, t, 0));

  auto s3 = get(json::array({kAll, slice(-3, nullptr, nullptr)}));  // x[:, -3:]
  ASSERT_EQ(s3.shape, (Shape{2, 3, 3}));
  EXPECT_EQ(s3.floats()[0], at(0, 2, 0));

  auto s4 = get(json::array({kAll, slice(nullptr, nullptr, 2), slice(1, -1, nullptr)}));  // x[:, ::2, 1:-1]
  ASSERT_EQ(s4.shape, (Shape{2, 3, 1}));
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t) EXPECT_EQ(s4.floats()[b * 3 + t], at(b, 2 * t, 1));

  auto s5 = get(json::array({kAll, slice(nullptr, nullptr, -2), -1}));  // x[:, ::-2, -1] -> t = 4, 2, 0
  ASSERT_EQ(s5.shape, (Shape{2, 3}));
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t) EXPECT_EQ(s5.floats()[b * 3 + t], at(b, 4 - 2 * t, 2));

  auto s6 = get(json::array({kAll, slice(3, 0, -1)}));  // x[:, 3:0:-1] -> t = 3, 2, 1
  ASSERT_EQ(s6.shape, (Shape{2, 3, 3}));
  EXPECT_EQ(s6.floats()[3], at(0, 2, 0));

  auto s7 = get(json::array({1, nullptr, slice(1, 7, 3)}));  // x[1, None, 1:7:3] -> t = 1, 4
  ASSERT_EQ(s7.shape, (Shape{1, 2, 3}));
  for (int t = 0; t < 2; ++t)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(s7.floats()[t * 3 + c], at(1, 1 + 3 * t, c));

  auto s8 = get(0);  // x[0]
  ASSERT_EQ(s8.shape, (Shape{5, 3}));
  EXPECT_EQ(s8.floats()[14], at(0, 4, 2));

  auto s9 = get(json::array({kAll, slice(7, 9, nullptr)}));  // empty
  EXPECT_EQ(s9.shape, (Shape{2, 0, 3}));

  auto s10 = get(json::array({kEllipsis, nullptr, slice(-1, -4, -1)}));  // x[..., None, -1:-4:-1] -> c = 2, 1, 0
  ASSERT_EQ(s10.shape, (Shape{2, 5, 1, 3}));
  for (int c = 0; c < 3; ++c) EXPECT_EQ(s10.floats()[(1 * 5 + 2) * 3 + c], at(1, 2, 2 - c));

  auto s11 = get(json::array({-1, slice(-100, 100, nullptr), nullptr}));  // x[-1, -100:100, None]: bounds clamp
  ASSERT_EQ(s11.shape, (Shape{5, 1, 3}));
  EXPECT_EQ(s11.floats()[14], at(1, 4, 2));
}

TEST(OpNodes, GetItemShapesAndErrors) {
  auto node = [](json key) { return make_node("GetItem", json::object(), json::array({tensor_arg(0), key})); };
  EXPECT_EQ(node(json::array({kAll, slice(1, 3, nullptr)}))->output_shapes(std::vector<Shape>{{-1, 6, 4}})[0],
            (Shape{-1, 2, 4}));
  EXPECT_EQ(node(json::array({slice(1, 3, nullptr)}))->output_shapes(std::vector<Shape>{{-1, 6}})[0], (Shape{-1, 6}));
  EXPECT_THROW(node(json::array({kAll, 6}))->output_shapes(std::vector<Shape>{{-1, 6}}), Error);
  EXPECT_THROW(node(json::array({0, 0, 0}))->output_shapes(std::vector<Shape>{{2, 6}}), Error);
  EXPECT_THROW(node(json::array({kEllipsis, kEllipsis})), Error);
  EXPECT_THROW(node(json::array({slice(0, 2, 0)})), Error);
  EXPECT_THROW(node(json::array({1.5})), Error);
  EXPECT_THROW(make_node("GetItem", json::object(), json::array({tensor_arg(0), tensor_arg(1)}), 2), Error);
}

}  // namespace
}  // namespace kerasrt::testing
