// Pooling layers (windowed, global, adaptive) against hand-computed values and a naive reference.
#include <cmath>
#include <limits>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

std::vector<float> run1(const json& l, const Tensor& x) { return run_op(*make_op(l), {x})[0].to_floats(); }

// Naive 2D channels-last pooling written straight from the definition: "same" pads by
// max((out-1)*s + k - L, 0) split front = total/2; padded cells never count.
Tensor naive_pool2d(const Tensor& x, int kh, int kw, int sh, int sw, bool same, bool max) {
  int64_t B = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3];
  auto out_len = [&](int64_t L, int k, int s) { return same ? (L + s - 1) / s : (L - k) / s + 1; };
  auto front = [&](int64_t L, int k, int s) {
    if (!same) return int64_t{0};
    int64_t o = (L + s - 1) / s;
    return std::max<int64_t>((o - 1) * s + k - L, 0) / 2;
  };
  int64_t OH = out_len(H, kh, sh), OW = out_len(W, kw, sw), fh = front(H, kh, sh), fw = front(W, kw, sw);
  Tensor y({B, OH, OW, C});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow)
        for (int64_t c = 0; c < C; ++c) {
          float best = -INFINITY;
          double sum = 0;
          int n = 0;
          for (int i = 0; i < kh; ++i)
            for (int j = 0; j < kw; ++j) {
              int64_t h = oh * sh - fh + i, w = ow * sw - fw + j;
              if (h < 0 || h >= H || w < 0 || w >= W) continue;
              float v = x.floats()[((b * H + h) * W + w) * C + c];
              best = std::max(best, v);
              sum += v;
              ++n;
            }
          y.floats()[((b * OH + oh) * OW + ow) * C + c] = max ? best : static_cast<float>(sum / n);
        }
  return y;
}

TEST(Pooling, MaxPooling1DValidDefaultsStridesToPoolSize) {
  auto out = run1(layer("MaxPooling1D", {{"pool_size", {2}}, {"padding", "valid"}}), Tensor({1, 5, 1}, {1, 3, 2, 5, 4}));
  EXPECT_EQ(out, (std::vector<float>{3, 5}));
}

TEST(Pooling, MaxPooling1DSameStride1) {
  // total padding 2, one cell each side: windows {0,1}, {0..2}, {1..3}, {2..4}, {3,4}
  auto out = run1(layer("MaxPooling1D", {{"pool_size", {3}}, {"strides", {1}}, {"padding", "same"}}),
                  Tensor({1, 5, 1}, {1, 3, 2, 5, 4}));
  EXPECT_EQ(out, (std::vector<float>{3, 3, 5, 5, 5}));
}

TEST(Pooling, AveragePooling1DSameLeavesPaddingOutOfTheCount) {
  // L=5, k=3, s=2: 3 outputs, total padding 2 split 1/1 -> windows {0,1}, {1,2,3}, {3,4}
  auto out = run1(layer("AveragePooling1D", {{"pool_size", {3}}, {"strides", {2}}, {"padding", "same"}}),
                  Tensor({1, 5, 1}, {1, 3, 2, 5, 4}));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_FLOAT_EQ(out[0], 2.f);
  EXPECT_FLOAT_EQ(out[1], 10.f / 3.f);
  EXPECT_FLOAT_EQ(out[2], 4.5f);
}

TEST(Pooling, AveragePooling2DAsymmetricSamePadding) {
  // 4x4, k=3, s=2: 2 outputs per axis, total padding 1 all at the back -> rows/cols {0,1,2}, {2,3}
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  auto out = run1(layer("AveragePooling2D", {{"pool_size", {3, 3}}, {"strides", {2, 2}}, {"padding", "same"}}),
                  Tensor({1, 4, 4, 1}, v));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_FLOAT_EQ(out[0], (0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9.f);
  EXPECT_FLOAT_EQ(out[1], (2 + 3 + 6 + 7 + 10 + 11) / 6.f);
  EXPECT_FLOAT_EQ(out[2], (8 + 9 + 10 + 12 + 13 + 14) / 6.f);
  EXPECT_FLOAT_EQ(out[3], (10 + 11 + 14 + 15) / 4.f);
}

TEST(Pooling, TwoDMatchesNaiveReferenceInBothFormats) {
  std::mt19937 rng(7);
  Tensor x = random_tensor({2, 7, 9, 3}, rng);
  struct Case { int kh, kw, sh, sw; bool same; };
  for (Case k : {Case{3, 3, 2, 2, true}, Case{2, 3, 1, 2, false}, Case{3, 2, 3, 1, true}, Case{1, 1, 2, 2, true},
                 Case{4, 4, 1, 1, true}}) {
    for (bool max : {true, false}) {
      json cfg = {{"pool_size", {k.kh, k.kw}}, {"strides", {k.sh, k.sw}}, {"padding", k.same ? "same" : "valid"}};
      const char* cls = max ? "MaxPooling2D" : "AveragePooling2D";
      Tensor ref = naive_pool2d(x, k.kh, k.kw, k.sh, k.sw, k.same, max);
      auto last = run_op(*make_op(layer(cls, cfg)), {x});
      EXPECT_EQ(compare(ref, last[0], 1e-6, 1e-6), "") << cls << " " << cfg.dump();
      cfg["data_format"] = "channels_first";
      auto first = run_op(*make_op(layer(cls, cfg)), {to_channels_first(x)});
      EXPECT_EQ(compare(to_channels_first(ref), first[0], 1e-6, 1e-6), "") << cls << " " << cfg.dump();
    }
  }
}

TEST(Pooling, ThreeDAndOneDAgreeWithTwoDOnSingletonAxes) {
  // A 3D pool with a size-1 leading axis (k=1, s=1) is the 2D pool of the remaining axes.
  std::mt19937 rng(3);
  Tensor x2 = random_tensor({2, 5, 6, 2}, rng);
  Tensor x3({2, 1, 5, 6, 2}, x2.to_floats());
  for (bool max : {true, false}) {
    json cfg3 = {{"pool_size", {1, 3, 2}}, {"strides", {1, 2, 2}}, {"padding", "same"}};
    auto out = run_op(*make_op(layer(max ? "MaxPooling3D" : "AveragePooling3D", cfg3)), {x3});
    Tensor ref = naive_pool2d(x2, 3, 2, 2, 2, true, max);
    EXPECT_EQ(out[0].shape, (Shape{2, 1, 3, 3, 2}));
    EXPECT_EQ(compare(Tensor(Shape{2, 1, 3, 3, 2}, ref.to_floats()), out[0], 1e-6, 1e-6), "");
    // 1D over the width of a height-1 image
    Tensor x1({2, 6, 2}, std::vector<float>(x2.floats().begin(), x2.floats().begin() + 24));
    auto out1 = run_op(*make_op(layer(max ? "MaxPooling1D" : "AveragePooling1D",
                                      {{"pool_size", 3}, {"strides", 2}, {"padding", "same"}})), {x1});
    Tensor ref1 = naive_pool2d(Tensor({2, 1, 6, 2}, x1.to_floats()), 1, 3, 1, 2, true, max);
    EXPECT_EQ(compare(Tensor(Shape{2, 3, 2}, ref1.to_floats()), out1[0], 1e-6, 1e-6), "");
  }
}

TEST(Pooling, MaxPoolingPropagatesNaN) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  auto out = run1(layer("MaxPooling1D", {{"pool_size", 2}}), Tensor({1, 4, 1}, {nan, 1, 2, 3}));
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(out[1], 3.f);
}

TEST(Pooling, OutputShapesKeepUnknownDims) {
  auto op = make_op(layer("MaxPooling2D", {{"pool_size", {2, 2}}, {"strides", {2, 2}}, {"padding", "valid"},
                                           {"data_format", "channels_first"}}));
  Shape in{-1, 3, -1, 9};
  auto shapes = op->output_shapes(std::span<const Shape>(&in, 1));
  EXPECT_EQ(shapes[0], (Shape{-1, 3, -1, 4}));
}

TEST(Pooling, Keras1ConfigKeys) {
  auto out = run1(layer("AveragePooling1D", {{"pool_length", 2}, {"stride", nullptr}, {"border_mode", "valid"}}),
                  Tensor({1, 4, 1}, {1, 3, 5, 9}));
  EXPECT_EQ(out, (std::vector<float>{2, 7}));
}

TEST(Pooling, RejectsBadConfigsAndShapes) {
  EXPECT_THROW(make_op(layer("MaxPooling2D", {{"pool_size", {2, 2}}, {"padding", "causal"}})), Error);
  EXPECT_THROW(make_op(layer("MaxPooling2D", {{"pool_size", {0, 2}}})), Error);
  EXPECT_THROW(make_op(layer("MaxPooling2D", {{"pool_size", {2, 2, 2}}})), Error);
  EXPECT_THROW(make_op(layer("AveragePooling1D", {{"pool_size", 2}, {"strides", -1}})), Error);
  auto op = make_op(layer("MaxPooling2D", {{"pool_size", {3, 3}}, {"padding", "valid"}}));
  Shape small{1, 2, 5, 1};
  EXPECT_THROW(op->output_shapes(std::span<const Shape>(&small, 1)), Error);
  Shape rank3{1, 5, 1};
  EXPECT_THROW(op->output_shapes(std::span<const Shape>(&rank3, 1)), Error);
}

// ---- global pooling -----------------------------------------------------------------------------

TEST(GlobalPooling, AverageAndMax2D) {
  // (1, 2, 2, 2) channels last: channel 0 = {1, 2, 3, 4}, channel 1 = {-1, 5, 0, 2}
  Tensor x({1, 2, 2, 2}, {1, -1, 2, 5, 3, 0, 4, 2});
  EXPECT_EQ(run1(layer("GlobalAveragePooling2D", json::object()), x), (std::vector<float>{2.5f, 1.5f}));
  EXPECT_EQ(run1(layer("GlobalMaxPooling2D", json::object()), x), (std::vector<float>{4, 5}));
  auto cf = run_op(*make_op(layer("GlobalMaxPooling2D", {{"data_format", "channels_first"}, {"keepdims", true}})),
                   {to_channels_first(x)});
  EXPECT_EQ(cf[0].shape, (Shape{1, 2, 1, 1}));
  EXPECT_EQ(cf[0].to_floats(), (std::vector<float>{4, 5}));
}

TEST(GlobalPooling, KeepdimsShapes) {
  auto op = make_op(layer("GlobalAveragePooling3D", {{"keepdims", true}}));
  Shape in{-1, 3, 4, -1, 6};
  EXPECT_EQ(op->output_shapes(std::span<const Shape>(&in, 1))[0], (Shape{-1, 1, 1, 1, 6}));
  auto op1 = make_op(layer("GlobalMaxPooling1D", {{"data_format", "channels_first"}}));
  Shape in1{2, 5, 7};
  EXPECT_EQ(op1->output_shapes(std::span<const Shape>(&in1, 1))[0], (Shape{2, 5}));
}

TEST(GlobalPooling, ThreeDAndOneDInBothFormats) {
  std::mt19937 rng(11);
  Tensor x = random_tensor({2, 3, 4, 2, 3}, rng);
  std::vector<float> mean(6, 0.f), mx(6, -INFINITY);
  for (int b = 0; b < 2; ++b)
    for (int p = 0; p < 24; ++p)
      for (int c = 0; c < 3; ++c) {
        float v = x.floats()[(b * 24 + p) * 3 + c];
        mean[b * 3 + c] += v / 24.f;
        mx[b * 3 + c] = std::max(mx[b * 3 + c], v);
      }
  for (const char* fmt : {"channels_last", "channels_first"}) {
    Tensor in = std::string(fmt) == "channels_last" ? x : to_channels_first(x);
    auto avg = run_op(*make_op(layer("GlobalAveragePooling3D", {{"data_format", fmt}})), {in});
    EXPECT_EQ(compare(Tensor({2, 3}, mean), avg[0], 1e-6, 1e-5), "") << fmt;
    auto m = run_op(*make_op(layer("GlobalMaxPooling3D", {{"data_format", fmt}})), {in});
    EXPECT_EQ(m[0].to_floats(), mx) << fmt;
  }
  Tensor x1({1, 3, 2}, {1, 10, 2, 20, 6, 60});
  EXPECT_EQ(run1(layer("GlobalAveragePooling1D", json::object()), x1), (std::vector<float>{3, 30}));
  EXPECT_EQ(run1(layer("GlobalMaxPooling1D", {{"data_format", "channels_first"}}), Tensor({1, 2, 3}, {1, 9, 2, 4, 0, 5})),
            (std::vector<float>{9, 5}));
}

Call mask_call() {
  Call c;
  c.roles = {"", "mask"};
  c.where = "test";
  return c;
}

TEST(GlobalPooling, AveragePooling1DMaskLeavesMaskedStepsOut) {
  auto op = make_op(layer("GlobalAveragePooling1D", json::object()), {}, mask_call());
  // steps x features: [[1, 10], [2, 20], [6, 60]]; batch 1 keeps steps 0 and 2, batch 2 only step 1
  Tensor x({2, 3, 2}, {1, 10, 2, 20, 6, 60, 1, 10, 2, 20, 6, 60});
  Tensor mask({2, 3}, {1, 0, 1, 0, 1, 0});
  auto out = run_op(*op, {x, mask});
  EXPECT_EQ(out[0].shape, (Shape{2, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3.5f, 35.f, 2.f, 20.f}));

  auto cf = make_op(layer("GlobalAveragePooling1D", {{"data_format", "channels_first"}, {"keepdims", true}}), {},
                    mask_call());
  auto out_cf = run_op(*cf, {Tensor({1, 2, 3}, {1, 2, 6, 10, 20, 60}), Tensor({1, 3}, {0, 1, 1})});
  EXPECT_EQ(out_cf[0].shape, (Shape{1, 2, 1}));
  EXPECT_EQ(out_cf[0].to_floats(), (std::vector<float>{4.f, 40.f}));
}

TEST(GlobalPooling, FullyMaskedRowIsNaNAsInKeras) {
  auto op = make_op(layer("GlobalAveragePooling1D", json::object()), {}, mask_call());
  auto out = run_op(*op, {Tensor({1, 2, 1}, {1, 2}), Tensor({1, 2}, {0, 0})});
  EXPECT_TRUE(std::isnan(out[0].floats()[0]));
}

TEST(GlobalPooling, MaskErrors) {
  EXPECT_THROW(make_op(layer("GlobalMaxPooling1D", json::object()), {}, mask_call()), Error);
  EXPECT_THROW(make_op(layer("GlobalAveragePooling2D", json::object()), {}, mask_call()), Error);
  auto op = make_op(layer("GlobalAveragePooling1D", json::object()), {}, mask_call());
  std::vector<Shape> wrong{{2, 3, 4}, {2, 4}};
  EXPECT_THROW(op->output_shapes(wrong), Error);
  std::vector<Shape> unknown{{-1, -1, 4}, {-1, -1}};
  EXPECT_EQ(op->output_shapes(unknown)[0], (Shape{-1, 4}));
}

// ---- adaptive pooling ---------------------------------------------------------------------------

TEST(AdaptivePooling, OneDBinsFollowFloorAndCeil) {
  // L=11 -> 4 bins: [0,3), [2,6), [5,9), [8,11)
  std::vector<float> v(11);
  for (int i = 0; i < 11; ++i) v[i] = static_cast<float>(i);
  Tensor x({1, 11, 1}, v);
  auto avg = run1(layer("AdaptiveAveragePooling1D", {{"output_size", {4}}}), x);
  EXPECT_EQ(avg, (std::vector<float>{1, 3.5f, 6.5f, 9}));
  auto mx = run1(layer("AdaptiveMaxPooling1D", {{"output_size", 4}}), x);
  EXPECT_EQ(mx, (std::vector<float>{2, 5, 8, 10}));
}

TEST(AdaptivePooling, UpsamplingRepeatsCells) {
  // L=3 -> 5 bins: [0,1), [0,2), [1,2), [1,3), [2,3)
  auto mx = run1(layer("AdaptiveMaxPooling1D", {{"output_size", 5}}), Tensor({1, 3, 1}, {4, 1, 7}));
  EXPECT_EQ(mx, (std::vector<float>{4, 4, 1, 7, 7}));
  auto avg = run1(layer("AdaptiveAveragePooling1D", {{"output_size", 5}}), Tensor({1, 3, 1}, {4, 1, 7}));
  EXPECT_EQ(avg, (std::vector<float>{4, 2.5f, 1, 4, 7}));
}

TEST(AdaptivePooling, TwoDChannelsFirstAndThreeD) {
  // 3x4 -> 2x2: rows [0,2), [1,3); cols [0,2), [2,4)
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  auto out = run_op(*make_op(layer("AdaptiveAveragePooling2D", {{"output_size", {2, 2}}, {"data_format", "channels_first"}})),
                    {Tensor({1, 1, 3, 4}, v)});
  EXPECT_EQ(out[0].shape, (Shape{1, 1, 2, 2}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{(0 + 1 + 4 + 5) / 4.f, (2 + 3 + 6 + 7) / 4.f, (4 + 5 + 8 + 9) / 4.f,
                                             (6 + 7 + 10 + 11) / 4.f}));
  // 3D with output size equal to the input: identity
  std::mt19937 rng(5);
  Tensor x = random_tensor({2, 2, 3, 4, 2}, rng);
  auto same = run_op(*make_op(layer("AdaptiveMaxPooling3D", {{"output_size", {2, 3, 4}}})), {x});
  EXPECT_EQ(same[0].to_floats(), x.to_floats());
  Shape in{-1, -1, 3, 4, 2};
  auto op = make_op(layer("AdaptiveAveragePooling3D", {{"output_size", {1, 2, 2}}}));
  EXPECT_EQ(op->output_shapes(std::span<const Shape>(&in, 1))[0], (Shape{-1, 1, 2, 2, 2}));
}

TEST(AdaptivePooling, RejectsBadOutputSize) {
  EXPECT_THROW(make_op(layer("AdaptiveMaxPooling2D", {{"output_size", {2}}})), Error);
  EXPECT_THROW(make_op(layer("AdaptiveMaxPooling1D", {{"output_size", 0}})), Error);
  EXPECT_THROW(make_op(layer("AdaptiveMaxPooling1D", json::object())), Error);
}

}  // namespace
}  // namespace kerasrt::testing
