// ZeroPadding, Cropping and UpSampling against hand-computed values and naive index formulas.
#include <cmath>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

Tensor run1(const json& l, const Tensor& x) { return run_op(*make_op(l), {x})[0]; }

Tensor iota(Shape s) {
  Tensor t(std::move(s));
  for (size_t i = 0; i < t.floats().size(); ++i) t.floats()[i] = static_cast<float>(i + 1);
  return t;
}

// Pads (or, with negative amounts, crops) a channels-last 2D tensor, from the definition.
Tensor naive_pad2d(const Tensor& x, int top, int bottom, int left, int right) {
  int64_t B = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3];
  int64_t OH = H + top + bottom, OW = W + left + right;
  Tensor y({B, OH, OW, C});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < OH; ++h)
      for (int64_t w = 0; w < OW; ++w)
        for (int64_t c = 0; c < C; ++c) {
          int64_t sh = h - top, sw = w - left;
          bool in = sh >= 0 && sh < H && sw >= 0 && sw < W;
          y.floats()[((b * OH + h) * OW + w) * C + c] = in ? x.floats()[((b * H + sh) * W + sw) * C + c] : 0.f;
        }
  return y;
}

// ---- ZeroPadding ---------------------------------------------------------------------------------

TEST(ZeroPadding, OneDFrontAndBack) {
  Tensor out = run1(layer("ZeroPadding1D", {{"padding", {1, 2}}}), Tensor({1, 2, 2}, {1, 2, 3, 4}));
  EXPECT_EQ(out.shape, (Shape{1, 5, 2}));
  EXPECT_EQ(out.to_floats(), (std::vector<float>{0, 0, 1, 2, 3, 4, 0, 0, 0, 0}));
  Tensor cf = run1(layer("ZeroPadding1D", {{"padding", 1}, {"data_format", "channels_first"}}), Tensor({1, 2, 2}, {1, 2, 3, 4}));
  EXPECT_EQ(cf.shape, (Shape{1, 2, 4}));
  EXPECT_EQ(cf.to_floats(), (std::vector<float>{0, 1, 2, 0, 0, 3, 4, 0}));
}

TEST(ZeroPadding, TwoDConfigFormsAndFormats) {
  Tensor x = iota({2, 3, 4, 2});
  struct Form { json padding; int t, b, l, r; };
  for (const Form& f : {Form{2, 2, 2, 2, 2}, Form{json{1, 3}, 1, 1, 3, 3}, Form{json{{1, 2}, {0, 3}}, 1, 2, 0, 3},
                        Form{json{{"top_pad", 1}, {"bottom_pad", 0}, {"left_pad", 2}, {"right_pad", 1}}, 1, 0, 2, 1}}) {
    Tensor ref = naive_pad2d(x, f.t, f.b, f.l, f.r);
    EXPECT_EQ(compare(ref, run1(layer("ZeroPadding2D", {{"padding", f.padding}}), x), 0, 0), "") << f.padding.dump();
    Tensor cf = run1(layer("ZeroPadding2D", {{"padding", f.padding}, {"data_format", "channels_first"}}), to_channels_first(x));
    EXPECT_EQ(compare(to_channels_first(ref), cf, 0, 0), "") << f.padding.dump();
  }
}

TEST(ZeroPadding, ThreeDEqualsTwoDOnASingletonAxis) {
  Tensor x2 = iota({1, 3, 2, 2});
  Tensor x3({1, 1, 3, 2, 2}, x2.to_floats());
  Tensor out = run1(layer("ZeroPadding3D", {{"padding", {{0, 0}, {1, 0}, {2, 1}}}}), x3);
  Tensor ref = naive_pad2d(x2, 1, 0, 2, 1);
  EXPECT_EQ(out.shape, (Shape{1, 1, 4, 5, 2}));
  EXPECT_EQ(out.to_floats(), ref.to_floats());
  Tensor all = run1(layer("ZeroPadding3D", json::object()), x3);  // default: 1 on every side
  EXPECT_EQ(all.shape, (Shape{1, 3, 5, 4, 2}));
  Shape unknown{-1, 2, -1, 3, 4};
  auto op = make_op(layer("ZeroPadding3D", {{"padding", 1}, {"data_format", "channels_first"}}));
  EXPECT_EQ(op->output_shapes(std::span<const Shape>(&unknown, 1))[0], (Shape{-1, 2, -1, 5, 6}));
}

TEST(ZeroPadding, RejectsBadPadding) {
  EXPECT_THROW(make_op(layer("ZeroPadding2D", {{"padding", {1, 2, 3}}})), Error);
  EXPECT_THROW(make_op(layer("ZeroPadding1D", {{"padding", -1}})), Error);
  EXPECT_THROW(make_op(layer("ZeroPadding3D", {{"padding", {{1, 2}, {1}, 0}}})), Error);
  EXPECT_THROW(make_op(layer("ZeroPadding2D", {{"padding", "same"}})), Error);
  auto op = make_op(layer("ZeroPadding2D", {{"padding", 1}}));
  Shape rank3{1, 2, 3};
  EXPECT_THROW(op->output_shapes(std::span<const Shape>(&rank3, 1)), Error);
}

// ---- Cropping ------------------------------------------------------------------------------------

TEST(Cropping, OneDFrontAndBack) {
  Tensor out = run1(layer("Cropping1D", {{"cropping", {1, 2}}}), iota({1, 5, 2}));
  EXPECT_EQ(out.shape, (Shape{1, 2, 2}));
  EXPECT_EQ(out.to_floats(), (std::vector<float>{3, 4, 5, 6}));
}

TEST(Cropping, TwoDIsNegativePaddingInBothFormats) {
  Tensor x = iota({2, 6, 5, 3});
  Tensor ref = naive_pad2d(x, -1, -2, -3, 0);
  EXPECT_EQ(compare(ref, run1(layer("Cropping2D", {{"cropping", {{1, 2}, {3, 0}}}}), x), 0, 0), "");
  Tensor cf = run1(layer("Cropping2D", {{"cropping", {{1, 2}, {3, 0}}}, {"data_format", "channels_first"}}), to_channels_first(x));
  EXPECT_EQ(compare(to_channels_first(ref), cf, 0, 0), "");
  Tensor sym = run1(layer("Cropping2D", {{"cropping", 1}}), x);
  EXPECT_EQ(compare(naive_pad2d(x, -1, -1, -1, -1), sym, 0, 0), "");
}

TEST(Cropping, ThreeDEqualsTwoDOnAnUncroppedAxis) {
  Tensor x2 = iota({1, 5, 4, 2});
  Tensor x3({1, 1, 5, 4, 2}, x2.to_floats());
  Tensor out = run1(layer("Cropping3D", {{"cropping", {{0, 0}, {2, 1}, {0, 3}}}}), x3);
  Tensor ref = naive_pad2d(x2, -2, -1, 0, -3);
  EXPECT_EQ(out.shape, (Shape{1, 1, 2, 1, 2}));
  EXPECT_EQ(out.to_floats(), ref.to_floats());
}

TEST(Cropping, RejectsCroppingEverything) {
  auto op = make_op(layer("Cropping2D", {{"cropping", {{2, 2}, {0, 0}}}}));
  Shape in{1, 4, 5, 1};
  EXPECT_THROW(op->output_shapes(std::span<const Shape>(&in, 1)), Error);
  Shape unknown{-1, -1, 5, 1};
  EXPECT_EQ(op->output_shapes(std::span<const Shape>(&unknown, 1))[0], (Shape{-1, -1, 5, 1}));
  EXPECT_THROW(make_op(layer("Cropping1D", {{"cropping", {1, -2}}})), Error);
}

// ---- UpSampling ----------------------------------------------------------------------------------

TEST(UpSampling, OneDRepeatsSteps) {
  Tensor out = run1(layer("UpSampling1D", {{"size", 3}}), Tensor({1, 2, 2}, {1, 2, 3, 4}));
  EXPECT_EQ(out.shape, (Shape{1, 6, 2}));
  EXPECT_EQ(out.to_floats(), (std::vector<float>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
  Tensor keras1 = run1(layer("UpSampling1D", {{"length", 2}}), Tensor({1, 2, 1}, {5, 6}));
  EXPECT_EQ(keras1.to_floats(), (std::vector<float>{5, 5, 6, 6}));
}

TEST(UpSampling, TwoDNearestInBothFormats) {
  Tensor x = iota({2, 3, 2, 2});
  Tensor ref({2, 6, 6, 2});  // size (2, 3): out[h][w] = in[h/2][w/3]
  for (int b = 0; b < 2; ++b)
    for (int h = 0; h < 6; ++h)
      for (int w = 0; w < 6; ++w)
        for (int c = 0; c < 2; ++c) ref.floats()[((b * 6 + h) * 6 + w) * 2 + c] = x.floats()[((b * 3 + h / 2) * 2 + w / 3) * 2 + c];
  EXPECT_EQ(compare(ref, run1(layer("UpSampling2D", {{"size", {2, 3}}}), x), 0, 0), "");
  Tensor cf = run1(layer("UpSampling2D", {{"size", {2, 3}}, {"data_format", "channels_first"}, {"interpolation", "nearest"}}),
                   to_channels_first(x));
  EXPECT_EQ(compare(to_channels_first(ref), cf, 0, 0), "");
}

TEST(UpSampling, ThreeDRepeatsEachAxis) {
  Tensor x = iota({1, 2, 1, 2, 1});
  Tensor out = run1(layer("UpSampling3D", {{"size", {2, 1, 2}}}), x);
  EXPECT_EQ(out.shape, (Shape{1, 4, 1, 4, 1}));
  EXPECT_EQ(out.to_floats(), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
  Shape unknown{-1, 3, -1, 2, 1};
  auto op = make_op(layer("UpSampling3D", {{"size", 2}}));
  EXPECT_EQ(op->output_shapes(std::span<const Shape>(&unknown, 1))[0], (Shape{-1, 6, -1, 4, 1}));
}

TEST(UpSampling, BilinearUsesHalfPixelCentresAndClampsEdges) {
  // Width 2 -> 4: source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (past the last centre).
  Tensor out = run1(layer("UpSampling2D", {{"size", {1, 2}}, {"interpolation", "bilinear"}}), Tensor({1, 1, 2, 1}, {0, 4}));
  EXPECT_EQ(out.shape, (Shape{1, 1, 4, 1}));
  EXPECT_EQ(out.to_floats(), (std::vector<float>{0, 1, 3, 4}));
}

TEST(UpSampling, BilinearIsSeparableInBothFormats) {
  // 2x2 image [[a, b], [c, d]] upsampled 2x: each output is the product of two 1D weight sets
  // taken from the 1D case above: rows/cols weights (1,0), (.75,.25), (.25,.75), (0,1).
  Tensor x({1, 2, 2, 1}, {1, 5, 3, 11});
  const float w[4][2] = {{1, 0}, {.75f, .25f}, {.25f, .75f}, {0, 1}};
  Tensor ref({1, 4, 4, 1});
  for (int h = 0; h < 4; ++h)
    for (int c = 0; c < 4; ++c) {
      float v = 0;
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) v += w[h][i] * w[c][j] * x.floats()[i * 2 + j];
      ref.floats()[h * 4 + c] = v;
    }
  EXPECT_EQ(compare(ref, run1(layer("UpSampling2D", {{"size", {2, 2}}, {"interpolation", "bilinear"}}), x), 1e-6, 1e-6), "");
  Tensor cf = run1(layer("UpSampling2D", {{"size", 2}, {"interpolation", "bilinear"}, {"data_format", "channels_first"}}),
                   to_channels_first(x));
  EXPECT_EQ(compare(to_channels_first(ref), cf, 1e-6, 1e-6), "");
}

TEST(UpSampling, BicubicKeysKernel) {
  // Ramp 0,1,2,3 doubled; a = -0.75. At t = 0.25 the four tap weights are W(1.25), W(0.25), W(0.75),
  // W(1.75) = -0.10546875, 0.87890625, 0.26171875, -0.03515625 (worked by hand). Output 3 sits at
  // 1.25 with real taps 0..3; output 4 at 1.75 uses the mirrored weights; output 0 at -0.25 reads
  // taps clamped to (0, 0, 0, 1) with t = 0.75, so only the last weight W(1.25) multiplies a 1.
  Tensor out = run1(layer("UpSampling2D", {{"size", {1, 2}}, {"interpolation", "bicubic"}}), Tensor({1, 1, 4, 1}, {0, 1, 2, 3}));
  ASSERT_EQ(out.shape, (Shape{1, 1, 8, 1}));
  EXPECT_NEAR(out.floats()[3], 0.87890625f + 2 * 0.26171875f - 3 * 0.03515625f, 1e-6);
  EXPECT_NEAR(out.floats()[4], 0.26171875f + 2 * 0.87890625f - 3 * 0.10546875f, 1e-6);
  EXPECT_NEAR(out.floats()[0], -0.10546875f, 1e-6);
  Tensor flat = run1(layer("UpSampling2D", {{"size", {3, 2}}, {"interpolation", "bicubic"}}), Tensor({1, 2, 2, 1}, {2, 2, 2, 2}));
  for (float v : flat.to_floats()) EXPECT_NEAR(v, 2.f, 1e-6);
}

TEST(UpSampling, RejectsBadConfigs) {
  EXPECT_THROW(make_op(layer("UpSampling2D", {{"size", {2, 2}}, {"interpolation", "lanczos3"}})), Error);
  EXPECT_THROW(make_op(layer("UpSampling3D", {{"size", {2, 2}}})), Error);
  EXPECT_THROW(make_op(layer("UpSampling1D", {{"size", 0}})), Error);
  EXPECT_THROW(make_op(layer("UpSampling1D", {{"size", 2}, {"interpolation", "bilinear"}})), Error);
}

}  // namespace
}  // namespace kerasrt::testing
