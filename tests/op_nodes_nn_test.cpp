// keras.ops.nn nodes (op_nodes_nn.cpp) against hand-computed values.
#include <cmath>

#include "op_nodes_harness.hpp"

namespace kerasrt::testing {
namespace {

TEST(OpNodes, NnActivationsWithTheirParameters) {
  auto relu = make_unary("Relu");
  expect_values(run_op(*relu, {Tensor({2}, {-1, 2})})[0], {2}, {0, 2});
  auto sig = make_unary("Sigmoid");
  expect_values(run_op(*sig, {Tensor({1}, {0})})[0], {1}, {0.5f});
  // gelu(1) = 0.5 * (1 + erf(1/sqrt(2))) = 0.8413447; the tanh form gives 0.8411920.
  auto exact = make_unary("Gelu", {{"approximate", false}});
  EXPECT_NEAR(run_op(*exact, {Tensor({1}, {1})})[0].floats()[0], 0.8413447f, 1e-6);
  auto approx = make_unary("Gelu", {{"approximate", true}});
  EXPECT_NEAR(run_op(*approx, {Tensor({1}, {1})})[0].floats()[0], 0.8411920f, 1e-6);
  auto leaky = make_unary("LeakyRelu", {{"negative_slope", 0.1}});
  expect_values(run_op(*leaky, {Tensor({2}, {-2, 3})})[0], {2}, {-0.2f, 3});
}

TEST(OpNodes, SoftmaxOverAGivenAxis) {
  auto op = make_unary("Softmax", {{"axis", 1}});
  Tensor x = iota_tensor({1, 3, 2}, -1.f, 0.7f);
  auto out = run_op(*op, {x})[0];
  for (int c = 0; c < 2; ++c) {
    double denom = 0;
    for (int r = 0; r < 3; ++r) denom += std::exp(static_cast<double>(x.floats()[r * 2 + c]));
    for (int r = 0; r < 3; ++r)
      EXPECT_NEAR(out.floats()[r * 2 + c], std::exp(static_cast<double>(x.floats()[r * 2 + c])) / denom, 1e-6);
  }
  auto log_all = make_unary("LogSoftmax", {{"axis", nullptr}});
  auto lo = run_op(*log_all, {Tensor({2, 1}, {0, 0})})[0];
  expect_values(lo, {2, 1}, {std::log(0.5f), std::log(0.5f)});
  EXPECT_THROW(make_unary("Softmax", {{"axis", 3}})->output_shapes(std::vector<Shape>{{2, 2}}), Error);
}

}  // namespace
}  // namespace kerasrt::testing
