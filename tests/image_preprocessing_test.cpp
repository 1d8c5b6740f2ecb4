// Resizing, CenterCrop, AutoContrast, Equalization and CLAHE against hand-computed values and
// naive formulas written out here.
#include <cmath>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

// Half-pixel-centre linear interpolation weights along one axis, written out in double.
std::vector<std::pair<std::pair<int, int>, double>> linear_axis(int in, int out) {
  std::vector<std::pair<std::pair<int, int>, double>> r;
  for (int o = 0; o < out; ++o) {
    double src = std::max((o + 0.5) * in / out - 0.5, 0.0);
    int i0 = std::min(static_cast<int>(src), in - 1);
    int i1 = std::min(i0 + 1, in - 1);
    r.push_back({{i0, i1}, src - i0});
  }
  return r;
}

// Naive bilinear resize of a channels_last (n, h, w, c) tensor.
Tensor naive_bilinear(const Tensor& x, int oh, int ow) {
  int n = static_cast<int>(x.shape[0]), h = static_cast<int>(x.shape[1]), w = static_cast<int>(x.shape[2]),
      c = static_cast<int>(x.shape[3]);
  auto ys = linear_axis(h, oh), xs = linear_axis(w, ow);
  Tensor y({n, oh, ow, c});
  auto at = [&](int b, int i, int j, int k) { return static_cast<double>(x.floats()[((b * h + i) * w + j) * c + k]); };
  for (int b = 0; b < n; ++b)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j)
        for (int k = 0; k < c; ++k) {
          auto [yi, fy] = ys[i];
          auto [xi, fx] = xs[j];
          double top = at(b, yi.first, xi.first, k) * (1 - fx) + at(b, yi.first, xi.second, k) * fx;
          double bot = at(b, yi.second, xi.first, k) * (1 - fx) + at(b, yi.second, xi.second, k) * fx;
          y.floats()[((b * oh + i) * ow + j) * c + k] = static_cast<float>(top * (1 - fy) + bot * fy);
        }
  return y;
}

// ---- Resizing -----------------------------------------------------------------------------------

TEST(ImagePreprocResizing, BilinearMatchesHalfPixelFormula) {
  std::mt19937 rng(3);
  Tensor x = random_tensor({2, 5, 7, 3}, rng);
  for (auto [oh, ow] : {std::pair{3, 4}, std::pair{8, 11}, std::pair{5, 7}}) {
    auto op = make_op(layer("Resizing", {{"height", oh}, {"width", ow}, {"interpolation", "bilinear"}}));
    auto out = run_op(*op, {x});
    EXPECT_EQ(compare(naive_bilinear(x, oh, ow), out[0], 1e-6, 1e-5), "") << oh << "x" << ow;
  }
}

TEST(ImagePreprocResizing, NearestUsesHalfPixelCentres) {
  auto down = make_op(layer("Resizing", {{"height", 1}, {"width", 2}, {"interpolation", "nearest"}}));
  // width 4 -> 2: source columns floor((o + 0.5) * 2) = 1, 3
  EXPECT_EQ(run_op(*down, {Tensor({1, 1, 4, 1}, {10, 11, 12, 13})})[0].to_floats(), (std::vector<float>{11, 13}));
  auto up = make_op(layer("Resizing", {{"height", 1}, {"width", 5}, {"interpolation", "nearest"}}));
  // width 2 -> 5: floor((o + 0.5) * 0.4) = 0, 0, 1, 1, 1
  EXPECT_EQ(run_op(*up, {Tensor({1, 1, 2, 1}, {1, 2})})[0].to_floats(), (std::vector<float>{1, 1, 2, 2, 2}));
}

TEST(ImagePreprocResizing, ChannelsFirstAndUnbatched) {
  auto op = make_op(layer("Resizing", {{"height", 1}, {"width", 2}, {"interpolation", "nearest"},
                                       {"data_format", "channels_first"}}));
  // (c=2, h=1, w=4): per channel columns 1 and 3
  auto out = run_op(*op, {Tensor({2, 1, 4}, {0, 1, 2, 3, 4, 5, 6, 7})});
  EXPECT_EQ(out[0].shape, (Shape{2, 1, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 3, 5, 7}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 3, 10, 10}})[0], (Shape{-1, 3, 1, 2}));
}

TEST(ImagePreprocResizing, BicubicMatchesKeysKernel) {
  // Width 4 -> 3 on one row; A = -0.75 cubic convolution with edge pixels repeated.
  std::vector<float> row = {1, 4, 2, 8};
  auto op = make_op(layer("Resizing", {{"height", 1}, {"width", 3}, {"interpolation", "bicubic"}}));
  auto out = run_op(*op, {Tensor({1, 1, 4, 1}, row)});
  const double a = -0.75;
  auto kernel = [a](double t) {
    t = std::fabs(t);
    if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
    return 0.0;
  };
  for (int o = 0; o < 3; ++o) {
    double src = (o + 0.5) * 4.0 / 3.0 - 0.5;
    int i0 = static_cast<int>(std::floor(src));
    double expect = 0;
    for (int k = -1; k <= 2; ++k) expect += kernel(src - (i0 + k)) * row[std::clamp(i0 + k, 0, 3)];
    EXPECT_NEAR(out[0].floats()[o], expect, 1e-5) << o;
  }
}

TEST(ImagePreprocResizing, AntialiasWidensTheTriangleWhenDownsampling) {
  // Width 4 -> 2, scale 2: support 2, weights (by hand) [3, 3, 1]/7 and [1, 3, 3]/7.
  auto op = make_op(layer("Resizing", {{"height", 1}, {"width", 2}, {"antialias", true}}));
  auto out = run_op(*op, {Tensor({1, 1, 4, 1}, {0, 1, 2, 3})});
  EXPECT_NEAR(out[0].floats()[0], 5.0 / 7.0, 1e-6);
  EXPECT_NEAR(out[0].floats()[1], 16.0 / 7.0, 1e-6);
}

TEST(ImagePreprocResizing, CropToAspectRatioTakesCentredBox) {
  // 4x8 to 2x2: the centred 4x4 box (columns 2..5), then nearest 4 -> 2 picks rows/cols 1, 3 of it.
  Tensor x({1, 4, 8, 1});
  for (int i = 0; i < 32; ++i) x.floats()[i] = static_cast<float>(i);
  auto op = make_op(layer("Resizing", {{"height", 2}, {"width", 2}, {"interpolation", "nearest"},
                                       {"crop_to_aspect_ratio", true}}));
  EXPECT_EQ(run_op(*op, {x})[0].to_floats(), (std::vector<float>{1 * 8 + 3, 1 * 8 + 5, 3 * 8 + 3, 3 * 8 + 5}));
}

TEST(ImagePreprocResizing, PadToAspectRatioAddsFillBands) {
  // 2x4 to 4x4: one fill row above and below, then an identity resize.
  auto op = make_op(layer("Resizing", {{"height", 4}, {"width", 4}, {"interpolation", "nearest"},
                                       {"pad_to_aspect_ratio", true}, {"fill_value", -1.0}}));
  auto out = run_op(*op, {Tensor({1, 2, 4, 1}, {1, 2, 3, 4, 5, 6, 7, 8})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{-1, -1, -1, -1, 1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, -1}));
}

TEST(ImagePreprocResizing, RejectsUnsupportedSettingsAndShapes) {
  EXPECT_THROW(make_op(layer("Resizing", {{"height", 2}, {"width", 2}, {"interpolation", "lanczos3"}})), Error);
  EXPECT_THROW(make_op(layer("Resizing", {{"height", 0}, {"width", 2}})), Error);
  EXPECT_THROW(make_op(layer("Resizing", {{"height", 2}, {"width", 2}, {"crop_to_aspect_ratio", true},
                                          {"pad_to_aspect_ratio", true}})),
               Error);
  EXPECT_THROW(make_op(layer("Resizing", {{"height", 2}, {"width", 2}, {"fill_mode", "reflect"}})), Error);
  auto op = make_op(layer("Resizing", {{"height", 2}, {"width", 2}}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 4}}), Error);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1, -1, 3}})[0], (Shape{-1, 2, 2, 3}));
}

// ---- CenterCrop ---------------------------------------------------------------------------------

TEST(ImagePreprocCenterCrop, CropsTheCentredWindow) {
  Tensor x({1, 4, 5, 1});
  for (int i = 0; i < 20; ++i) x.floats()[i] = static_cast<float>(i);
  auto op = make_op(layer("CenterCrop", {{"height", 2}, {"width", 3}}));
  // start row (4-2)/2 = 1, start column (5-3)/2 = 1
  EXPECT_EQ(run_op(*op, {x})[0].to_floats(), (std::vector<float>{6, 7, 8, 11, 12, 13}));
}

TEST(ImagePreprocCenterCrop, SmallerInputIsResizedBilinearly) {
  std::mt19937 rng(5);
  Tensor x = random_tensor({1, 2, 3, 2}, rng);
  auto op = make_op(layer("CenterCrop", {{"height", 4}, {"width", 6}}));
  // Same aspect ratio, so no crop: a plain bilinear upscale.
  EXPECT_EQ(compare(naive_bilinear(x, 4, 6), run_op(*op, {x})[0], 1e-6, 1e-5), "");
  // 2x3 to 4x4: cropped to the centred 2x2 box first (columns 0..1).
  auto square = make_op(layer("CenterCrop", {{"height", 4}, {"width", 4}}));
  Tensor box({1, 2, 2, 2});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 2; ++k) box.floats()[(i * 2 + j) * 2 + k] = x.floats()[(i * 3 + j) * 2 + k];
  EXPECT_EQ(compare(naive_bilinear(box, 4, 4), run_op(*square, {x})[0], 1e-6, 1e-5), "");
}

// ---- AutoContrast -------------------------------------------------------------------------------

TEST(ImagePreprocAutoContrast, StretchesEachImageAndChannel) {
  auto op = make_op(layer("AutoContrast", {{"value_range", {0, 255}}}));
  // (1, 1, 3, 2): channel 0 = [10, 20, 30] -> [0, 127.5, 255]; channel 1 constant -> unchanged.
  auto out = run_op(*op, {Tensor({1, 1, 3, 2}, {10, 7, 20, 7, 30, 7})});
  EXPECT_NEAR(out[0].floats()[0], 0.f, 1e-4);
  EXPECT_NEAR(out[0].floats()[2], 127.5f, 1e-4);
  EXPECT_NEAR(out[0].floats()[4], 255.f, 1e-4);
  EXPECT_EQ(out[0].floats()[1], 7.f);
  EXPECT_EQ(out[0].floats()[3], 7.f);
}

TEST(ImagePreprocAutoContrast, UnitValueRangeAndSeparateImages) {
  auto op = make_op(layer("AutoContrast", {{"value_range", {1, 0}}}));  // sorted to [0, 1]
  auto out = run_op(*op, {Tensor({2, 1, 2, 1}, {0.2f, 0.4f, 0.5f, 0.6f})});
  std::vector<float> expect = {0, 1, 0, 1};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[0].floats()[i], expect[i], 1e-6) << i;
}

// ---- Equalization -------------------------------------------------------------------------------

TEST(ImagePreprocEqualization, InferenceReturnsInput) {
  auto op = make_op(layer("Equalization", {{"value_range", {0, 255}}}), {}, training_call(false));
  Tensor x({1, 2, 2, 1}, {0, 51, 51, 255});
  EXPECT_EQ(run_op(*op, {x})[0].to_floats(), x.to_floats());
}

TEST(ImagePreprocEqualization, TrainingMapsThroughTheCdf) {
  auto op = make_op(layer("Equalization", {{"value_range", {0, 255}}, {"bins", 256}}), {}, training_call(true));
  // Histogram: bin 0 x2, bin 51 x1, bin 255 x1 -> cdf 2, 3, 4; cdf_min 2, denominator 2.
  // LUT: bins < 51 -> 0, 51..254 -> round(127.5) = 128 (half to even), 255 -> 255.
  auto out = run_op(*op, {Tensor({1, 2, 2, 1}, {0, 51, 0, 255})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 128, 0, 255}));
}

TEST(ImagePreprocEqualization, OneHistogramPerChannelOverTheWholeBatch) {
  auto op = make_op(layer("Equalization", {{"value_range", {0, 1}}, {"bins", 4}, {"data_format", "channels_first"}}),
                    {}, training_call(true));
  // Channel 0 over both images: values 0, 0, 1, 1 -> bins 0, 0, 3, 3 -> cdf [2, 2, 2, 4], lut [0, 0, 0, 255].
  // Channel 1 holds one value only -> unchanged.
  auto out = run_op(*op, {Tensor({2, 2, 1, 2}, {0, 0, 0.5f, 0.5f, 1, 1, 0.5f, 0.5f})});
  std::vector<float> expect = {0, 0, 0.5f, 0.5f, 1, 1, 0.5f, 0.5f};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(out[0].floats()[i], expect[i], 1e-6) << i;
}

TEST(ImagePreprocEqualization, RejectsBadBins) {
  EXPECT_THROW(make_op(layer("Equalization", {{"bins", 0}})), Error);
  EXPECT_THROW(make_op(layer("Equalization", {{"value_range", {1, 1}}})), Error);
}

// ---- CLAHE --------------------------------------------------------------------------------------

TEST(ImagePreprocClahe, SingleTileWithoutClippingIsHistogramEqualisation) {
  auto op = make_op(layer("ContrastLimitedAdaptiveHistogramEqualization",
                          {{"value_range", {0, 255}}, {"clip_limit", 0.0}, {"tile_grid_size", {1, 1}}}));
  // cdf over bins: 1 below 10, 3 from 10, 4 from 20; min 1, denominator 4 - 1 = 3.
  auto out = run_op(*op, {Tensor({1, 2, 2, 1}, {0, 10, 10, 20})});
  std::vector<float> expect = {0, 170, 170, 255};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[0].floats()[i], expect[i], 1e-4) << i;
}

TEST(ImagePreprocClahe, ClipLimitBelowOneCountFlattensTheHistogram) {
  // limit = int(2 * 4 / 256) = 0: every count is excess, spread as 1/64 per bin, so the CDF is linear
  // and each integer value maps to itself.
  auto op = make_op(layer("ContrastLimitedAdaptiveHistogramEqualization",
                          {{"clip_limit", 2.0}, {"tile_grid_size", {1, 1}}}));
  Tensor x({1, 2, 2, 1}, {3, 100, 42, 250});
  auto out = run_op(*op, {x});
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[0].floats()[i], x.floats()[i], 1e-3) << i;
}

TEST(ImagePreprocClahe, BlendsNeighbouringTilesBilinearly) {
  // One row of 4 pixels, tiles of 2 columns. Tile 0 = {0, 100}: cdf_norm 0 below 100, 255 from 100.
  // Tile 1 = {50, 200}: cdf min 0 (empty bins), so cdf_norm 0, 127.5 from 50, 255 from 200.
  // Column centres: x=0,1 use tile 0 only; x=2 is halfway between; x=3 uses tile 1.
  auto op = make_op(layer("ContrastLimitedAdaptiveHistogramEqualization",
                          {{"clip_limit", 0.0}, {"tile_grid_size", {1, 2}}}));
  auto out = run_op(*op, {Tensor({1, 1, 4, 1}, {0, 100, 50, 200})});
  std::vector<float> expect = {0, 255, 0.5f * 0 + 0.5f * 127.5f, 255};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[0].floats()[i], expect[i], 1e-4) << i;
}

TEST(ImagePreprocClahe, PadsPartialTilesSymmetricallyAndKeepsShape) {
  auto op = make_op(layer("ContrastLimitedAdaptiveHistogramEqualization",
                          {{"clip_limit", 0.0}, {"tile_grid_size", {1, 2}}, {"data_format", "channels_first"}}));
  // 3 columns -> tiles of 2; tile 1 = {column 2, its mirror} = {60, 60}: cdf 0 below bin 60 and 2
  // from it, min 0, so cdf_norm is 255 from 60. Tile 0 = {0, 100}: 0 below 100, 255 from 100.
  auto out = run_op(*op, {Tensor({1, 1, 1, 3}, {0, 100, 60})});
  EXPECT_EQ(out[0].shape, (Shape{1, 1, 1, 3}));
  EXPECT_NEAR(out[0].floats()[0], 0.f, 1e-4);
  EXPECT_NEAR(out[0].floats()[1], 255.f, 1e-4);
  // x=2: grid coordinate (2 - 1)/2 + 1 = 1.5 -> halfway between tile 0 (cdf_norm at 60 = 0) and tile 1 (255).
  EXPECT_NEAR(out[0].floats()[2], 127.5f, 1e-4);
}

TEST(ImagePreprocClahe, RejectsBadGrid) {
  EXPECT_THROW(make_op(layer("ContrastLimitedAdaptiveHistogramEqualization", {{"tile_grid_size", {0, 2}}})), Error);
  auto op = make_op(layer("ContrastLimitedAdaptiveHistogramEqualization", json::object()));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 4}}), Error);
}

}  // namespace
}  // namespace kerasrt::testing
