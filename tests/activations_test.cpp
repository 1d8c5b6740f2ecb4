// ReLU in its general forms and PReLU, against hand-computed values (the typed unary relu_general
// and binary prelu nodes).
#include <cmath>

#include "harness.hpp"
#include "kernels/simd_level.hpp"

namespace kerasrt::testing {
namespace {

std::vector<float> run_relu(nlohmann::json config, std::vector<float> x) {
  auto op = make_op({{"class_name", "ReLU"}, {"config", std::move(config)}});
  const auto n = static_cast<int64_t>(x.size());
  return run_op(*op, {Tensor({1, n}, std::move(x))})[0].to_floats();
}

TEST(Activations, ReLUThresholdOnly) {
  // x > 1.5 ? x : 0
  EXPECT_EQ(run_relu({{"threshold", 1.5}}, {-1, 1, 1.5f, 2, 7}), (std::vector<float>{0, 0, 0, 2, 7}));
}

TEST(Activations, ReLUSlopeWithCap) {
  // clip(x, 0, 2) - 0.5 * max(-x, 0)
  EXPECT_EQ(run_relu({{"negative_slope", 0.5}, {"max_value", 2.0}}, {-4, -1, 0, 1, 3}),
            (std::vector<float>{-2, -0.5f, 0, 1, 2}));
}

TEST(Activations, ReLUOddCaps) {
  EXPECT_EQ(run_relu({{"max_value", 1.0}}, {-1, 0.5f, 3}), (std::vector<float>{0, 0.5f, 1}));
  EXPECT_EQ(run_relu({{"max_value", 0.0}}, {-1, 0.5f, 3}), (std::vector<float>{0, 0, 0}));
  // A cap of 6 with a threshold is not relu6: x > 1 ? min(x, 6) : 0
  EXPECT_EQ(run_relu({{"max_value", 6.0}, {"threshold", 1.0}}, {0.5f, 2, 9}), (std::vector<float>{0, 2, 6}));
}

TEST(Activations, PReLUPerElementAlpha) {
  auto op = make_op({{"class_name", "PReLU"}, {"config", {{"name", "p"}}}}, {{"alpha", {2, 2}, {0.1f, 0.2f, 0.3f, 0.4f}}});
  auto out = run_op(*op, {Tensor({2, 2, 2}, {-1, -1, -1, -1, 1, -2, 0, -10})})[0];
  EXPECT_EQ(out.shape, (Shape{2, 2, 2}));
  const std::vector<float> want = {-0.1f, -0.2f, -0.3f, -0.4f, 1, -0.4f, 0, -4};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(out.floats()[i], want[i]) << i;
  EXPECT_EQ(op->param_count(), 4);
}

TEST(Activations, PReLUSharedAxesBroadcast) {
  // shared_axes=[1]: alpha (1, 2), one slope per channel across the steps.
  auto op = make_op({{"class_name", "PReLU"}, {"config", {{"name", "p"}, {"shared_axes", {1}}}}},
                    {{"alpha", {1, 2}, {0.5f, 2.f}}});
  auto out = run_op(*op, {Tensor({1, 3, 2}, {-2, -2, 4, -1, -6, 3})})[0];
  EXPECT_EQ(out.to_floats(), (std::vector<float>{-1, -4, 4, -2, -3, 3}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{1, 3, 3}}), Error);
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{1, 2, 3, 2}}), Error);
}

}  // namespace
}  // namespace kerasrt::testing

namespace kerasrt::testing {
namespace {

// NaN passes through every activation as Keras computes it (torch backend), at every SIMD level
// the CPU has: the clamps inside the fast exp/sigmoid/tanh must not turn it into a number. (torch's
// softshrink is the exception: NaN gives 0 there, and so here.)
TEST(Activations, NaNPassesThrough) {
  using namespace kernels;
  const char* names[] = {"relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "elu", "selu", "softplus", "softsign",
                         "silu", "hard_silu", "gelu", "exponential", "leaky_relu", "mish", "celu", "log_sigmoid",
                         "tanh_shrink", "hard_shrink", "hard_tanh", "sparse_plus", "sparse_sigmoid",
                         "squareplus"};
  const SimdLevel before = simd_level();
  for (SimdLevel level : {SimdLevel::portable, SimdLevel::avx2, SimdLevel::avx512}) {
    if (!simd_level_supported(level)) continue;
    set_simd_level(level);
    for (const char* name : names) {
      auto op = make_op({{"class_name", "Activation"}, {"config", {{"activation", name}}}});
      // 37 values: the vector loops and their tails both see a NaN.
      std::vector<float> x(37, 0.5f);
      x[3] = x[36] = NAN;
      const std::vector<float> y = run_op(*op, {Tensor({1, 37}, x)})[0].to_floats();
      EXPECT_TRUE(std::isnan(y[3]) && std::isnan(y[36])) << name << " at " << simd_level_name(level);
      EXPECT_FALSE(std::isnan(y[0])) << name;
    }
  }
  set_simd_level(before);
}

}  // namespace
}  // namespace kerasrt::testing
