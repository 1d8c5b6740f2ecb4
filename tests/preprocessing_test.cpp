// Normalization, CategoryEncoding, Discretization, Pipeline and the inference pass-through of the
// augmentation layers, against hand-computed values.
#include <cmath>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

// ---- Normalization ------------------------------------------------------------------------------

TEST(PreprocNormalization, ConfigMeanVariancePerLastAxis) {
  auto op = make_op(layer("Normalization", {{"axis", {-1}}, {"mean", {0.5, -1.0}}, {"variance", {1.0, 4.0}}}));
  auto out = run_op(*op, {Tensor({2, 2}, {1.5f, 3.f, 0.5f, -5.f})});
  // (x - mean) / sqrt(var): [1/1, 4/2], [0/1, -4/2]
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1.f, 2.f, 0.f, -2.f}));
}

TEST(PreprocNormalization, InvertMultipliesThenAddsMean) {
  auto op = make_op(layer("Normalization", {{"axis", -1}, {"invert", true}, {"mean", {1.0, 2.0}},
                                            {"variance", {4.0, 9.0}}}));
  auto out = run_op(*op, {Tensor({1, 2}, {1.f, -1.f})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1.f + 2.f, 2.f - 3.f}));
}

TEST(PreprocNormalization, ZeroVarianceDividesByEpsilonAfterSqrt) {
  auto op = make_op(layer("Normalization", {{"axis", -1}, {"mean", {0.0}}, {"variance", {0.0}}}));
  auto out = run_op(*op, {Tensor({1, 1}, {2e-7f})});
  EXPECT_NEAR(out[0].floats()[0], 2.f, 1e-5f);  // max(sqrt(0), 1e-7) = 1e-7
}

TEST(PreprocNormalization, StoredWeightsMeanVarianceCountOverTwoAxes) {
  // axis (1, 2) of a (batch, 2, 2) input: one mean/variance per (i, j).
  auto op = make_op(layer("Normalization", {{"axis", {1, 2}}, {"mean", nullptr}, {"variance", nullptr}}),
                    {{"mean", {2, 2}, {0, 1, 2, 3}}, {"variance", {2, 2}, {1, 4, 16, 64}}, {"count", {}, {10}}});
  auto out = run_op(*op, {Tensor({1, 2, 2}, {1, 3, 6, 11})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1.f, 1.f, 1.f, 1.f}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 2, 2}})[0], (Shape{-1, 2, 2}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 2, 3}}), Error);
}

TEST(PreprocNormalization, NullAxisUsesOneScalarForEverything) {
  auto op = make_op(layer("Normalization", {{"axis", nullptr}, {"mean", 1.0}, {"variance", 0.25}}));
  auto out = run_op(*op, {Tensor({2, 2}, {1, 2, 3, 0})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 2, 4, -2}));
}

TEST(PreprocNormalization, ScalarConfigMeanBroadcastsOverKeptAxis) {
  auto op = make_op(layer("Normalization", {{"axis", -1}, {"mean", 2.0}, {"variance", 4.0}}));
  auto out = run_op(*op, {Tensor({1, 3}, {2, 4, 0})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 1, -1}));
}

TEST(PreprocNormalization, MeanOnMiddleAxisOfRank3) {
  auto op = make_op(layer("Normalization", {{"axis", 1}, {"mean", {10.0, 20.0}}, {"variance", {1.0, 1.0}}}));
  auto out = run_op(*op, {Tensor({1, 2, 3}, {10, 11, 12, 20, 21, 22})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 1, 2, 0, 1, 2}));
}

TEST(PreprocNormalization, RejectsBadConfigsAndShapes) {
  EXPECT_THROW(make_op(layer("Normalization", {{"axis", -1}, {"mean", {1.0}}})), Error);
  EXPECT_THROW(make_op(layer("Normalization", {{"axis", -1}, {"mean", {1.0, 2.0}}, {"variance", {1.0}}})), Error);
  EXPECT_THROW(make_op(layer("Normalization", {{"axis", -1}, {"mean", {{1.0}}}, {"variance", {{1.0}}}})), Error);
  EXPECT_THROW(make_op(layer("Normalization", {{"axis", -1}})), Error);  // neither config nor weights
  auto op = make_op(layer("Normalization", {{"axis", -1}, {"mean", {1.0, 2.0}}, {"variance", {1.0, 1.0}}}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 3}}), Error);
  auto bad_axis = make_op(layer("Normalization", {{"axis", 3}, {"mean", 0.0}, {"variance", 1.0}}));
  EXPECT_THROW(bad_axis->output_shapes(std::vector<Shape>{{-1, 3}}), Error);
}

// ---- CategoryEncoding ---------------------------------------------------------------------------

TEST(PreprocCategoryEncoding, OneHotReplacesTrailingUnitAxis) {
  auto op = make_op(layer("CategoryEncoding", {{"num_tokens", 4}, {"output_mode", "one_hot"}}));
  auto out = run_op(*op, {Tensor({3, 1}, {2, 0, 3})});
  EXPECT_EQ(out[0].shape, (Shape{3, 4}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1}));
}

TEST(PreprocCategoryEncoding, OneHotAppendsAxisOtherwise) {
  auto op = make_op(layer("CategoryEncoding", {{"num_tokens", 3}, {"output_mode", "one_hot"}}));
  auto out = run_op(*op, {Tensor({1, 2}, {1, 2})});
  EXPECT_EQ(out[0].shape, (Shape{1, 2, 3}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 1, 0, 0, 0, 1}));
}

TEST(PreprocCategoryEncoding, MultiHotAndCountPerRow) {
  auto multi = make_op(layer("CategoryEncoding", {{"num_tokens", 4}, {"output_mode", "multi_hot"}}));
  auto count = make_op(layer("CategoryEncoding", {{"num_tokens", 4}, {"output_mode", "count"}}));
  Tensor ids({2, 3}, {1, 1, 3, 0, 2, 2});
  EXPECT_EQ(run_op(*multi, {ids})[0].to_floats(), (std::vector<float>{0, 1, 0, 1, 1, 0, 1, 0}));
  EXPECT_EQ(run_op(*count, {ids})[0].to_floats(), (std::vector<float>{0, 2, 0, 1, 1, 0, 2, 0}));
  EXPECT_EQ(count->output_shapes(std::vector<Shape>{{-1, 3}})[0], (Shape{-1, 4}));
}

TEST(PreprocCategoryEncoding, CountWeightsKeyword) {
  Call call = positional_call(2);
  call.roles = {"", "count_weights"};
  auto op = make_op(layer("CategoryEncoding", {{"num_tokens", 3}, {"output_mode", "count"}}), {}, call);
  auto out = run_op(*op, {Tensor({1, 3}, {0, 2, 0}), Tensor({1, 3}, {0.5f, 2.f, 0.25f})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0.75f, 0.f, 2.f}));
  auto multi = make_op(layer("CategoryEncoding", {{"num_tokens", 3}, {"output_mode", "multi_hot"}}));
  EXPECT_THROW(multi->bind(call), Error);
}

TEST(PreprocCategoryEncoding, NegativeIdsEncodeAsZerosAndLargeIdsAreRefused) {
  auto op = make_op(layer("CategoryEncoding", {{"num_tokens", 2}, {"output_mode", "multi_hot"}}));
  EXPECT_EQ(run_op(*op, {Tensor({1, 2}, {-1, 1})})[0].to_floats(), (std::vector<float>{0, 1}));
  EXPECT_THROW(run_op(*op, {Tensor({1, 2}, {2, 1})}), Error);
  EXPECT_THROW(run_op(*op, {Tensor({1, 1}, {NAN})}), Error);
}

TEST(PreprocCategoryEncoding, RejectsBadConfigAndRank3MultiHot) {
  EXPECT_THROW(make_op(layer("CategoryEncoding", {{"num_tokens", 0}})), Error);
  EXPECT_THROW(make_op(layer("CategoryEncoding", {{"num_tokens", 3}, {"output_mode", "tf_idf"}})), Error);
  EXPECT_THROW(make_op(layer("CategoryEncoding", {{"num_tokens", 3}, {"sparse", true}})), Error);
  auto op = make_op(layer("CategoryEncoding", {{"num_tokens", 3}}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{2, 2, 2}}), Error);
}

// ---- Discretization -----------------------------------------------------------------------------

TEST(PreprocDiscretization, BucketIndexCountsBoundariesAtOrBelow) {
  auto op = make_op(layer("Discretization", {{"bin_boundaries", {0.0, 1.0, 2.5}}, {"output_mode", "int"}}));
  auto out = run_op(*op, {Tensor({1, 6}, {-3.f, 0.f, 0.5f, 1.f, 2.5f, 100.f})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 1, 1, 2, 3, 3}));
  EXPECT_EQ(run_op(*op, {Tensor({1, 1}, {NAN})})[0].to_floats(), (std::vector<float>{3}));
}

TEST(PreprocDiscretization, ComparesInDoubleLikeTorch) {
  // 0.1f is slightly above the double 0.1, so it falls into the upper bucket.
  auto op = make_op(layer("Discretization", {{"bin_boundaries", {0.1}}}));
  EXPECT_EQ(run_op(*op, {Tensor({1, 1}, {0.1f})})[0].to_floats(), (std::vector<float>{1}));
  EXPECT_EQ(run_op(*op, {Tensor({1, 1}, {std::nextafter(0.1f, 0.f)})})[0].to_floats(), (std::vector<float>{0}));
}

TEST(PreprocDiscretization, OneHotAndCountOutputs) {
  auto one_hot = make_op(layer("Discretization", {{"bin_boundaries", {0.0, 1.0}}, {"output_mode", "one_hot"}}));
  auto out = run_op(*one_hot, {Tensor({2, 1}, {0.5f, -1.f})});
  EXPECT_EQ(out[0].shape, (Shape{2, 3}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 1, 0, 1, 0, 0}));
  auto count = make_op(layer("Discretization", {{"bin_boundaries", {0.0}}, {"output_mode", "count"}}));
  auto c = run_op(*count, {Tensor({1, 3}, {-1.f, 1.f, 2.f})});
  EXPECT_EQ(c[0].shape, (Shape{1, 2}));
  EXPECT_EQ(c[0].to_floats(), (std::vector<float>{1, 2}));
}

TEST(PreprocDiscretization, MultiHotOfRank3ReducesAxisOne) {
  // (1, 2, 2) -> (1, 2, depth): for each position of the last axis, the buckets seen along axis 1.
  auto op = make_op(layer("Discretization", {{"bin_boundaries", {0.0}}, {"output_mode", "multi_hot"}}));
  auto out = run_op(*op, {Tensor({1, 2, 2}, {-1.f, -1.f, 1.f, -2.f})});
  EXPECT_EQ(out[0].shape, (Shape{1, 2, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 1, 1, 0}));
}

TEST(PreprocDiscretization, RejectsUnadaptedAndUnsorted) {
  EXPECT_THROW(make_op(layer("Discretization", {{"bin_boundaries", nullptr}, {"num_bins", 4}})), Error);
  EXPECT_THROW(make_op(layer("Discretization", {{"bin_boundaries", {1.0, 0.0}}})), Error);
  EXPECT_THROW(make_op(layer("Discretization", {{"bin_boundaries", {0.0}}, {"output_mode", "tf_idf"}})), Error);
}

// ---- Pipeline and augmentation pass-through -------------------------------------------------------

TEST(PreprocPipeline, AppliesLayersInOrderWithTheirWeights) {
  json cfg = {{"name", "pipe"},
              {"layers",
               {layer("Normalization", {{"axis", -1}, {"mean", nullptr}, {"variance", nullptr}}),
                layer("Rescaling", {{"scale", 10.0}, {"offset", 1.0}})}}};
  auto op = make_op(layer("Pipeline", cfg),
                    {{"mean", {2}, {1, 2}}, {"variance", {2}, {1, 4}}, {"count", {}, {0}}});
  auto out = run_op(*op, {Tensor({1, 2}, {2, 0})});
  // ((2-1)/1)*10+1 = 11, ((0-2)/2)*10+1 = -9
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{11, -9}));
}

TEST(PreprocPipeline, ChangesShapeThroughItsLayers) {
  json cfg = {{"layers", {layer("CategoryEncoding", {{"num_tokens", 3}, {"output_mode", "one_hot"}}),
                          layer("Rescaling", {{"scale", 2.0}})}}};
  auto op = make_op(layer("Pipeline", cfg));
  auto out = run_op(*op, {Tensor({2, 1}, {2, 0})});
  EXPECT_EQ(out[0].shape, (Shape{2, 3}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 0, 2, 2, 0, 0}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 1}})[0], (Shape{-1, 3}));
}

TEST(PreprocPipeline, EmptyPipelineIsIdentityAndTrainingReachesLayers) {
  auto empty = make_op(layer("Pipeline", {{"layers", json::array()}}));
  EXPECT_EQ(run_op(*empty, {Tensor({1, 2}, {3, 4})})[0].to_floats(), (std::vector<float>{3, 4}));
  json cfg = {{"layers", {layer("RandomFlip", {{"mode", "horizontal"}})}}};
  EXPECT_NO_THROW(make_op(layer("Pipeline", cfg), {}, training_call(false)));
  EXPECT_THROW(make_op(layer("Pipeline", cfg), {}, training_call(true)), Error);
  EXPECT_THROW(make_op(layer("Pipeline", {{"layers", 3}})), Error);
}

TEST(PreprocAugmentation, EveryRandomLayerPassesItsInputThroughAtInference) {
  std::mt19937 rng(7);
  Tensor x = random_tensor({2, 4, 5, 3}, rng, 0.f, 255.f);
  for (const char* cls : {"RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
                          "RandomBrightness", "RandomCrop", "RandomErasing", "RandomGaussianBlur",
                          "RandomPerspective", "RandomShear", "RandomElasticTransform", "RandomColorDegeneration",
                          "RandomColorJitter", "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPosterization",
                          "RandomSaturation", "RandomSharpness", "AugMix", "RandAugment", "CutMix", "MixUp",
                          "Solarization"}) {
    SCOPED_TRACE(cls);
    auto op = make_op(layer(cls, {{"seed", 1}}), {}, training_call(false));
    auto out = run_op(*op, {x});
    EXPECT_EQ(out[0].shape, x.shape);
    EXPECT_EQ(out[0].to_floats(), x.to_floats());
    EXPECT_THROW(make_op(layer(cls, {}), {}, training_call(true)), Error);
    EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 4}}), Error);
  }
}

TEST(PreprocAugmentation, RandomCropKeepsTheInputSizeAtInference) {
  auto op = make_op(layer("RandomCrop", {{"height", 2}, {"width", 2}}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 10, 12, 3}})[0], (Shape{-1, 10, 12, 3}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{10, 12, 3}})[0], (Shape{10, 12, 3}));
}

}  // namespace
}  // namespace kerasrt::testing
