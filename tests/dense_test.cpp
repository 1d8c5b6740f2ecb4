// Dense and the core pass-through/reshape layers, against hand-computed values.
#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

TEST(Dense, MatchesHandComputedValues) {
  auto op = make_op({{"class_name", "Dense"}, {"config", {{"units", 2}, {"activation", "relu"}}}},
                    {{"kernel", {3, 2}, {1, -1, 2, 0, 0, 1}}, {"bias", {2}, {0.5f, -0.5f}}});
  auto out = run_op(*op, {Tensor({2, 3}, {1, 2, 3, -1, 0, 1})});
  // row 0: [1+4+0+.5, -1+0+3-.5] = [5.5, 1.5]; row 1: [-1+0+0+.5, 1+0+1-.5] -> relu
  EXPECT_EQ(out[0].shape, (Shape{2, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{5.5f, 1.5f, 0.f, 1.5f}));
}

TEST(Dense, AppliesToLastAxisOfRank3) {
  auto op = make_op({{"class_name", "Dense"}, {"config", {{"units", 1}, {"use_bias", false}}}},
                    {{"kernel", {2, 1}, {1, 10}}});
  auto out = run_op(*op, {Tensor({1, 2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(out[0].shape, (Shape{1, 2, 1}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{21, 43}));
}

TEST(Dense, RejectsWrongKernelShape) {
  EXPECT_THROW(make_op({{"class_name", "Dense"}, {"config", {{"units", 3}}}}, {{"kernel", {2, 2}, {1, 2, 3, 4}}}),
               Error);
}

TEST(Core, FlattenChannelsFirstUsesChannelsLastOrder) {
  auto op = make_op({{"class_name", "Flatten"}, {"config", {{"data_format", "channels_first"}}}});
  auto out = run_op(*op, {Tensor({1, 2, 2}, {1, 2, 3, 4})});  // (C=2, W=2)
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 3, 2, 4}));
}

TEST(Core, PermuteSwapsAxes) {
  auto op = make_op({{"class_name", "Permute"}, {"config", {{"dims", {2, 1}}}}});
  auto out = run_op(*op, {Tensor({1, 2, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_EQ(out[0].shape, (Shape{1, 3, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(Core, ReshapeInfersMinusOne) {
  auto op = make_op({{"class_name", "Reshape"}, {"config", {{"target_shape", {-1, 2}}}}});
  auto out = run_op(*op, {Tensor({2, 6}, std::vector<float>(12, 1.f))});
  EXPECT_EQ(out[0].shape, (Shape{2, 3, 2}));
}

TEST(Activations, ReLUWithAllParameters) {
  auto op = make_op({{"class_name", "ReLU"},
                     {"config", {{"max_value", 6.0}, {"negative_slope", 0.1}, {"threshold", 1.0}}}});
  auto out = run_op(*op, {Tensor({1, 4}, {-2, 0.5, 3, 9})});
  // x<=threshold: -slope*(threshold-x); else clip(x, 0, 6)
  EXPECT_FLOAT_EQ(out[0].floats()[0], -0.3f);
  EXPECT_FLOAT_EQ(out[0].floats()[1], -0.05f);
  EXPECT_FLOAT_EQ(out[0].floats()[2], 3.f);
  EXPECT_FLOAT_EQ(out[0].floats()[3], 6.f);
}

TEST(Activations, SoftmaxRowsSumToOne) {
  auto op = make_op({{"class_name", "Softmax"}, {"config", {{"axis", 1}}}});
  auto out = run_op(*op, {Tensor({1, 3, 2}, {1, 2, 3, 4, 5, 6})});
  for (int c = 0; c < 2; ++c) {
    float s = 0;
    for (int r = 0; r < 3; ++r) s += out[0].floats()[r * 2 + c];
    EXPECT_NEAR(s, 1.f, 1e-6);
  }
}

TEST(Activations, SoftmaxOverTwoAxesNormalizesEachSliceOfThem) {
  // axis (1, 3) of a (2, 2, 3, 2) input: one distribution over (i, k) for every (b, j).
  std::mt19937 rng(7);
  Tensor x = random_tensor({2, 2, 3, 2}, rng, -3.f, 3.f);
  auto out = run_op(*make_op(layer("Softmax", {{"axis", {1, -1}}})), {x});
  Tensor want(x.shape);
  auto at = [](int b, int i, int j, int k) { return ((b * 2 + i) * 3 + j) * 2 + k; };
  for (int b = 0; b < 2; ++b)
    for (int j = 0; j < 3; ++j) {
      double sum = 0;
      for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 2; ++k) sum += std::exp(static_cast<double>(x.floats()[at(b, i, j, k)]));
      for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 2; ++k)
          want.floats()[at(b, i, j, k)] = static_cast<float>(std::exp(static_cast<double>(x.floats()[at(b, i, j, k)])) / sum);
    }
  expect_close(out[0], want);
}

TEST(Activations, SoftmaxRefusesTheSameAxisTwice) {
  auto op = make_op(layer("Softmax", {{"axis", {1, -1}}}));
  EXPECT_THROW(run_op(*op, {Tensor({2, 3}, std::vector<float>(6, 0.f))}), Error);
}

TEST(Registry, LambdaIsRefusedWithReason) {
  try {
    make_op({{"class_name", "Lambda"}, {"config", {{"name", "lam"}}}});
    FAIL() << "Lambda loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Python"), std::string::npos) << e.what();
  }
}

TEST(Registry, UnknownClassNamesClassAndHowToRegister) {
  try {
    make_op({{"class_name", "Frobnicate"}, {"registered_name", "pkg>Frobnicate"}, {"config", {{"name", "f"}}}});
    FAIL() << "unknown class loaded";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("Frobnicate"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pkg>Frobnicate"), std::string::npos) << msg;
    EXPECT_NE(msg.find("register_layer"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace kerasrt::testing
