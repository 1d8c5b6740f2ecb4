// Normalization layers against naive formulas written out here.
#include <cmath>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

void expect_close(const Tensor& got, const std::vector<double>& want) {
  ASSERT_EQ(got.floats().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got.floats()[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << "element " << i;
}

// ---- BatchNormalization -----------------------------------------------------------------------

TEST(BatchNormalization, LastAxisUsesMovingStatistics) {
  const std::vector<float> gamma{2, 0.5f}, beta{1, -1}, mean{0.5f, -2}, var{4, 0.25f};
  const double eps = 0.01;
  auto op = make_op(layer("BatchNormalization", {{"axis", -1}, {"epsilon", eps}}),
                    {{"gamma", {2}, gamma}, {"beta", {2}, beta}, {"moving_mean", {2}, mean}, {"moving_variance", {2}, var}});
  Tensor x({3, 2}, {1, 2, -3, 0, 0.5f, -2});
  auto out = run_op(*op, {x});
  std::vector<double> want;
  for (int i = 0; i < 6; ++i) {
    int c = i % 2;
    want.push_back((x.floats()[i] - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c]);
  }
  expect_close(out[0], want);
}

TEST(BatchNormalization, ChannelsFirstAxis1) {
  const std::vector<float> gamma{1.5f, -1}, beta{0.2f, 0.3f}, mean{1, 2}, var{0.5f, 2};
  auto op = make_op(layer("BatchNormalization", {{"axis", 1}}),
                    {{"gamma", {2}, gamma}, {"beta", {2}, beta}, {"moving_mean", {2}, mean}, {"moving_variance", {2}, var}});
  std::mt19937 rng(1);
  Tensor x = random_tensor({2, 2, 3}, rng, -3, 3);
  auto out = run_op(*op, {x});
  std::vector<double> want;
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 2; ++c)
      for (int p = 0; p < 3; ++p)
        want.push_back((x.floats()[(b * 2 + c) * 3 + p] - mean[c]) / std::sqrt(var[c] + 1e-3) * gamma[c] + beta[c]);
  expect_close(out[0], want);
}

TEST(BatchNormalization, NoCenterNoScaleStoresOnlyStatistics) {
  auto op = make_op(layer("BatchNormalization", {{"center", false}, {"scale", false}, {"epsilon", 0.0}}),
                    {{"moving_mean", {2}, {1, -1}}, {"moving_variance", {2}, {4, 16}}});
  auto out = run_op(*op, {Tensor({1, 2}, {5, 7})});
  expect_close(out[0], {2.0, 2.0});  // (5-1)/2, (7+1)/4
  EXPECT_EQ(op->param_count(), 4);
}

TEST(BatchNormalization, ScaleOnlyTakesGammaThenStatistics) {
  auto op = make_op(layer("BatchNormalization", {{"center", false}, {"epsilon", 0.0}}),
                    {{"gamma", {1}, {3}}, {"moving_mean", {1}, {1}}, {"moving_variance", {1}, {9}}});
  auto out = run_op(*op, {Tensor({2, 1}, {4, -2})});
  expect_close(out[0], {3.0, -3.0});
}

TEST(BatchNormalization, TrainingCallUsesBatchStatistics) {
  Call call = positional_call(1);
  call.kwargs = {{"training", true}};
  auto op = make_op(layer("BatchNormalization", {{"epsilon", 0.0}}),
                    {{"gamma", {1}, {1}}, {"beta", {1}, {0}}, {"moving_mean", {1}, {100}}, {"moving_variance", {1}, {100}}},
                    call);
  auto out = run_op(*op, {Tensor({4, 1}, {1, 3, 5, 7})});  // mean 4, var 5
  const double s = std::sqrt(5.0);
  expect_close(out[0], {-3 / s, -1 / s, 1 / s, 3 / s});
}

TEST(BatchNormalization, MaskArgumentIsAcceptedAndIgnoredAtInference) {
  Call call;
  call.roles = {"", "mask"};
  auto op = make_op(layer("BatchNormalization", {{"epsilon", 0.0}}),
                    {{"gamma", {1}, {1}}, {"beta", {1}, {0}}, {"moving_mean", {1}, {1}}, {"moving_variance", {1}, {4}}},
                    call);
  auto out = run_op(*op, {Tensor({2, 1}, {3, 5}), Tensor({2}, {1, 0})});
  expect_close(out[0], {1.0, 2.0});
}

TEST(BatchNormalization, RejectsFeatureCountMismatchAndBadWeights) {
  auto op = make_op(layer("BatchNormalization", {}),
                    {{"gamma", {3}, {1, 1, 1}}, {"beta", {3}, {0, 0, 0}}, {"moving_mean", {3}, {0, 0, 0}}, {"moving_variance", {3}, {1, 1, 1}}});
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 4}}), Error);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 3}})[0], (Shape{-1, 3}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1}})[0], (Shape{-1, -1}));
  EXPECT_THROW(make_op(layer("BatchNormalization", {}), {{"gamma", {2}, {1, 1}}, {"beta", {3}, {0, 0, 0}},
                                                          {"moving_mean", {2}, {0, 0}}, {"moving_variance", {2}, {1, 1}}}),
               Error);
  EXPECT_THROW(make_op(layer("BatchNormalization", {{"center", false}, {"scale", false}}), {{"moving_mean", {2}, {0, 0}}}),
               Error);
}

// ---- LayerNormalization -----------------------------------------------------------------------

// Naive layer norm of `x` viewed as (groups, n) with the normalized values contiguous.
std::vector<double> naive_layernorm(const std::vector<float>& x, size_t n, double eps, const std::vector<float>& gamma,
                                    const std::vector<float>& beta, bool rms_scaling = false) {
  std::vector<double> out;
  for (size_t g = 0; g < x.size() / n; ++g) {
    double mean = 0, var = 0;
    for (size_t j = 0; j < n; ++j) mean += x[g * n + j];
    mean /= n;
    for (size_t j = 0; j < n; ++j) var += (x[g * n + j] - mean) * (x[g * n + j] - mean);
    var /= n;
    for (size_t j = 0; j < n; ++j) {
      double v = (x[g * n + j] - (rms_scaling ? 0.0 : mean)) / std::sqrt(var + eps);
      if (!gamma.empty()) v *= gamma[j];
      if (!beta.empty()) v += beta[j];
      out.push_back(v);
    }
  }
  return out;
}

TEST(LayerNormalization, LastAxisWithGammaBeta) {
  std::mt19937 rng(2);
  Tensor x = random_tensor({2, 3, 4}, rng, -2, 2);
  std::vector<float> gamma{1, 2, -1, 0.5f}, beta{0, 1, 0.5f, -0.5f};
  auto op = make_op(layer("LayerNormalization", {{"axis", -1}, {"epsilon", 0.01}}),
                    {{"gamma", {4}, gamma}, {"beta", {4}, beta}});
  expect_close(run_op(*op, {x})[0], naive_layernorm(x.to_floats(), 4, 0.01, gamma, beta));
}

TEST(LayerNormalization, TwoTrailingAxesUseParamsOverBoth) {
  std::mt19937 rng(3);
  Tensor x = random_tensor({2, 2, 3}, rng, -2, 2);
  std::vector<float> gamma{1, 2, 3, 4, 5, 6}, beta{6, 5, 4, 3, 2, 1};
  auto op = make_op(layer("LayerNormalization", {{"axis", {1, 2}}}), {{"gamma", {2, 3}, gamma}, {"beta", {2, 3}, beta}});
  expect_close(run_op(*op, {x})[0], naive_layernorm(x.to_floats(), 6, 1e-3, gamma, beta));
}

TEST(LayerNormalization, NonTrailingAxesMatchTransposedReference) {
  // Normalize over axes [1, 2] of (B=2, 2, 3, C=2): each (b, c) pair is a group of 6 values.
  std::mt19937 rng(4);
  Tensor x = random_tensor({2, 2, 3, 2}, rng, -2, 2);
  std::vector<float> gamma{1, -1, 2, 0.5f, 3, 1.5f}, beta{0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  auto op = make_op(layer("LayerNormalization", {{"axis", {2, 1}}}), {{"gamma", {2, 3}, gamma}, {"beta", {2, 3}, beta}});
  auto out = run_op(*op, {x});
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 2; ++c) {
      std::vector<float> group;
      for (int j = 0; j < 6; ++j) group.push_back(x.floats()[(b * 6 + j) * 2 + c]);
      auto want = naive_layernorm(group, 6, 1e-3, gamma, beta);
      for (int j = 0; j < 6; ++j) EXPECT_NEAR(out[0].floats()[(b * 6 + j) * 2 + c], want[j], 1e-5) << b << "," << c << "," << j;
    }
}

TEST(LayerNormalization, NoCenterNoScaleHasNoWeights) {
  Tensor x({1, 4}, {1, 2, 3, 6});
  auto op = make_op(layer("LayerNormalization", {{"center", false}, {"scale", false}}));
  expect_close(run_op(*op, {x})[0], naive_layernorm(x.to_floats(), 4, 1e-3, {}, {}));
  EXPECT_EQ(op->param_count(), 0);
}

TEST(LayerNormalization, RmsScalingUsesVarianceWithoutCenteringOrBeta) {
  Tensor x({2, 3}, {1, 2, 6, -1, 0, 4});
  std::vector<float> gamma{1, 2, 3};
  auto op = make_op(layer("LayerNormalization", {{"rms_scaling", true}, {"axis", {1}}}), {{"gamma", {3}, gamma}});
  expect_close(run_op(*op, {x})[0], naive_layernorm(x.to_floats(), 3, 1e-3, gamma, {}, true));
}

TEST(LayerNormalization, RejectsMismatchedParamsAndBadAxes) {
  auto op = make_op(layer("LayerNormalization", {}), {{"gamma", {4}, {1, 1, 1, 1}}, {"beta", {4}, {0, 0, 0, 0}}});
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 5}}), Error);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1, 4}})[0], (Shape{-1, -1, 4}));
  auto bad_axis = make_op(layer("LayerNormalization", {{"axis", 3}, {"center", false}, {"scale", false}}));
  EXPECT_THROW(bad_axis->output_shapes(std::vector<Shape>{{-1, 4}}), Error);
  EXPECT_THROW(make_op(layer("LayerNormalization", {{"axis", {1, 2}}}), {{"gamma", {4}, {1, 1, 1, 1}}, {"beta", {4}, {0, 0, 0, 0}}}),
               Error);
}

// ---- RMSNormalization / UnitNormalization --------------------------------------------------------

TEST(RMSNormalization, ScalesByRootMeanSquare) {
  Tensor x({2, 3}, {1, 2, 2, -3, 0, 4});
  std::vector<float> scale{1, 0.5f, 2};
  auto op = make_op(layer("RMSNormalization", {{"axis", {-1}}, {"epsilon", 1e-6}}), {{"scale", {3}, scale}});
  std::vector<double> want;
  for (int r = 0; r < 2; ++r) {
    double ms = 0;
    for (int j = 0; j < 3; ++j) ms += x.floats()[r * 3 + j] * x.floats()[r * 3 + j] / 3.0;
    for (int j = 0; j < 3; ++j) want.push_back(x.floats()[r * 3 + j] / std::sqrt(ms + 1e-6) * scale[j]);
  }
  expect_close(run_op(*op, {x})[0], want);
}

TEST(RMSNormalization, NeedsScaleWeight) {
  EXPECT_THROW(make_op(layer("RMSNormalization", {})), Error);
}

TEST(UnitNormalization, LastAxisHasUnitNorm) {
  auto op = make_op(layer("UnitNormalization", {{"axis", -1}}));
  auto out = run_op(*op, {Tensor({2, 2}, {3, 4, 0, 0})});
  expect_close(out[0], {0.6, 0.8, 0.0, 0.0});  // a zero vector stays zero
}

TEST(UnitNormalization, SeveralAxesNormalizeJointly) {
  auto op = make_op(layer("UnitNormalization", {{"axis", {1, 2}}}));
  Tensor x({2, 2, 2}, {1, 1, 1, 1, 0, 2, 0, 0});
  expect_close(run_op(*op, {x})[0], {0.5, 0.5, 0.5, 0.5, 0, 1, 0, 0});
}

// ---- GroupNormalization -----------------------------------------------------------------------

TEST(GroupNormalization, ChannelsLastTwoGroups) {
  // (B=1, P=2, C=4), groups of 2 channels; each group spans both positions.
  Tensor x({1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 9});
  std::vector<float> gamma{1, 2, 3, 4}, beta{0, 1, 0, -1};
  auto op = make_op(layer("GroupNormalization", {{"groups", 2}, {"epsilon", 0.0}}), {{"gamma", {4}, gamma}, {"beta", {4}, beta}});
  auto out = run_op(*op, {x});
  // group 0: {1,2,5,6} mean 3.5 var 4.25; group 1: {3,4,7,9} mean 5.75 var 5.6875
  const double s0 = std::sqrt(4.25), s1 = std::sqrt(5.6875);
  std::vector<double> want{(1 - 3.5) / s0 * 1 + 0, (2 - 3.5) / s0 * 2 + 1, (3 - 5.75) / s1 * 3, (4 - 5.75) / s1 * 4 - 1,
                           (5 - 3.5) / s0 * 1 + 0, (6 - 3.5) / s0 * 2 + 1, (7 - 5.75) / s1 * 3, (9 - 5.75) / s1 * 4 - 1};
  expect_close(out[0], want);
}

TEST(GroupNormalization, ChannelsFirstInstanceNorm) {
  // groups=-1: one group per channel; channels on axis 1 of (B=1, C=2, 3).
  Tensor x({1, 2, 3}, {1, 2, 3, 0, 0, 6});
  auto op = make_op(layer("GroupNormalization", {{"groups", -1}, {"axis", 1}, {"epsilon", 0.0}, {"center", false}, {"scale", false}}));
  auto out = run_op(*op, {x});
  const double s0 = std::sqrt(2.0 / 3.0), s1 = std::sqrt(8.0);
  expect_close(out[0], {-1 / s0, 0, 1 / s0, -2 / s1, -2 / s1, 4 / s1});
}

TEST(GroupNormalization, RejectsUnevenGroups) {
  EXPECT_THROW(make_op(layer("GroupNormalization", {{"groups", 3}}), {{"gamma", {4}, {1, 1, 1, 1}}, {"beta", {4}, {0, 0, 0, 0}}}),
               Error);
  auto op = make_op(layer("GroupNormalization", {{"groups", 4}, {"center", false}, {"scale", false}}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 3, 6}}), Error);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1, 8}})[0], (Shape{-1, -1, 8}));
  EXPECT_THROW(make_op(layer("GroupNormalization", {{"groups", 0}})), Error);
}

// ---- SpectralNormalization --------------------------------------------------------------------

json spectral_dense() {
  return layer("SpectralNormalization",
               {{"power_iterations", 1},
                {"layer", {{"class_name", "Dense"}, {"config", {{"name", "dense"}, {"units", 2}}}}}});
}

TEST(SpectralNormalization, Keras3OrderRunsWrappedLayerWithStoredKernel) {
  std::vector<float> kernel{1, 2, 3, 4, 5, 6};  // (3, 2)
  auto op = make_op(spectral_dense(), {{"layers/sn/vars/0", {3, 2}, kernel},
                                       {"layers/sn/vars/1", {1, 2}, {0.3f, 0.4f}},
                                       {"layers/sn/layer/vars/0", {3, 2}, kernel},
                                       {"layers/sn/layer/vars/1", {2}, {1, -1}}});
  auto out = run_op(*op, {Tensor({1, 3}, {1, 0, -1})});
  expect_close(out[0], {1 - 5 + 1, 2 - 6 - 1});
  EXPECT_EQ(op->param_count(), 6 + 2 + 2);  // wrapped layer plus vector_u
}

TEST(SpectralNormalization, LegacyOrderPutsVectorULast) {
  std::vector<float> kernel{1, 2, 3, 4, 5, 6};
  auto op = make_op(spectral_dense(), {{"sn/dense/kernel", {3, 2}, kernel},
                                       {"sn/dense/bias", {2}, {1, -1}},
                                       {"sn/vector_u", {1, 2}, {0.3f, 0.4f}}});
  auto out = run_op(*op, {Tensor({1, 3}, {1, 0, -1})});
  expect_close(out[0], {-3, -5});
}

TEST(SpectralNormalization, RejectsMissingVectorU) {
  EXPECT_THROW(make_op(spectral_dense(), {{"sn/dense/kernel", {3, 2}, {1, 2, 3, 4, 5, 6}}, {"sn/dense/bias", {2}, {1, -1}}}),
               Error);
  EXPECT_THROW(make_op(layer("SpectralNormalization", {{"power_iterations", 0}, {"layer", spectral_dense()["config"]["layer"]}})),
               Error);
}

}  // namespace
}  // namespace kerasrt::testing
