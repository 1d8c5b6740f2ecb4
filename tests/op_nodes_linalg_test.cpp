// Matmul and einsum keras.ops nodes (format/keras/linalg.cpp) against naive sums written out here.
#include <cmath>

#include "op_nodes_harness.hpp"

namespace kerasrt::testing {
namespace {

// ---- matmul and einsum ------------------------------------------------------------------------

TEST(OpNodes, MatmulBatchesAndBroadcasts) {
  auto op = make_node("Matmul", json::object(), json::array({tensor_arg(0), tensor_arg(1)}), 2);
  Tensor a = iota_tensor({2, 2, 3}, -2.f), b = iota_tensor({3, 4}, 1.f, 0.5f);
  auto out = run_op(*op, {a, b})[0];
  ASSERT_EQ(out.shape, (Shape{2, 2, 4}));
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 4; ++j) {
        float s = 0;
        for (int k = 0; k < 3; ++k) s += a.floats()[(n * 2 + i) * 3 + k] * b.floats()[k * 4 + j];
        EXPECT_FLOAT_EQ(out.floats()[(n * 2 + i) * 4 + j], s);
      }
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{3}, {-1, 3, 5}})[0], (Shape{-1, 5}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 2, 3}, {3}})[0], (Shape{-1, 2}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{2, 3}, {4, 2}}), Error);
  auto dot = run_op(*op, {Tensor({3}, {1, 2, 3}), Tensor({3}, {4, 5, 6})})[0];
  expect_values(dot, {}, {32});
}

TEST(OpNodes, EinsumMatchesNaiveSums) {
  Tensor a = iota_tensor({2, 3, 4}, -1.f, 0.25f), b = iota_tensor({2, 4, 5}, 2.f, -0.5f);
  auto bmm = make_node("Einsum", {{"subscripts", "bij,bjk->bik"}}, json::array({tensor_arg(0), tensor_arg(1)}), 2);
  auto out = run_op(*bmm, {a, b})[0];
  ASSERT_EQ(out.shape, (Shape{2, 3, 5}));
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) {
        float s = 0;
        for (int j = 0; j < 4; ++j) s += a.floats()[(n * 3 + i) * 4 + j] * b.floats()[(n * 4 + j) * 5 + k];
        EXPECT_NEAR(out.floats()[(n * 3 + i) * 5 + k], s, 1e-5);
      }
  auto colsum = make_node("Einsum", {{"subscripts", "bij->bj"}}, json::array({tensor_arg(0)}));
  auto cs = run_op(*colsum, {a})[0];
  ASSERT_EQ(cs.shape, (Shape{2, 4}));
  EXPECT_FLOAT_EQ(cs.floats()[1], a.floats()[1] + a.floats()[5] + a.floats()[9]);
  auto rowdot = make_node("Einsum", {{"subscripts", "bij,bij->bi"}}, json::array({tensor_arg(0), tensor_arg(1)}), 2);
  auto rd = run_op(*rowdot, {a, a})[0];
  ASSERT_EQ(rd.shape, (Shape{2, 3}));
  float s = 0;
  for (int j = 0; j < 4; ++j) s += a.floats()[4 + j] * a.floats()[4 + j];
  EXPECT_FLOAT_EQ(rd.floats()[1], s);
}

TEST(OpNodes, EinsumImplicitTraceAndEllipsis) {
  Tensor m({2, 2}, {1, 2, 3, 4});
  auto trace = make_node("Einsum", {{"subscripts", "ii"}}, json::array({tensor_arg(0)}));
  expect_values(run_op(*trace, {m})[0], {}, {5});
  auto diag = make_node("Einsum", {{"subscripts", "ii->i"}}, json::array({tensor_arg(0)}));
  expect_values(run_op(*diag, {m})[0], {2}, {1, 4});
  // Implicit output "ji" sorts to "ij": a transpose written as "ji".
  auto tr = make_node("Einsum", {{"subscripts", "ji"}}, json::array({tensor_arg(0)}));
  expect_values(run_op(*tr, {m})[0], {2, 2}, {1, 3, 2, 4});
  auto ell = make_node("Einsum", {{"subscripts", "...ij->...ji"}}, json::array({tensor_arg(0)}));
  Tensor x = iota_tensor({2, 2, 3});
  expect_values(run_op(*ell, {x})[0], {2, 3, 2}, {0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11});
  auto outer = make_node("Einsum", {{"subscripts", "i,j"}}, json::array({tensor_arg(0), tensor_arg(1)}), 2);
  expect_values(run_op(*outer, {Tensor({2}, {1, 2}), Tensor({2}, {3, 4})})[0], {2, 2}, {3, 4, 6, 8});
  EXPECT_EQ(ell->output_shapes(std::vector<Shape>{{-1, 4, 5}})[0], (Shape{-1, 5, 4}));
}

TEST(OpNodes, EinsumErrors) {
  auto two = json::array({tensor_arg(0), tensor_arg(1)});
  EXPECT_THROW(make_node("Einsum", {{"subscripts", "ij->i"}}, two, 2), Error);  // one term, two operands
  EXPECT_THROW(make_node("Einsum", {{"subscripts", "i$->i"}}, json::array({tensor_arg(0)})), Error);
  auto mm = make_node("Einsum", {{"subscripts", "ij,jk->ik"}}, two, 2);
  EXPECT_THROW(mm->output_shapes(std::vector<Shape>{{2, 3}, {4, 5}}), Error);
  EXPECT_THROW(mm->output_shapes(std::vector<Shape>{{2, 3, 1}, {3, 5}}), Error);
  auto bad_out = make_node("Einsum", {{"subscripts", "ij->k"}}, json::array({tensor_arg(0)}));
  EXPECT_THROW(bad_out->output_shapes(std::vector<Shape>{{2, 3}}), Error);
}

}  // namespace
}  // namespace kerasrt::testing
