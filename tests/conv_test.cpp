// Convolution family: hand-computed values, and a naive explicitly-padded reference written here.
#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

std::vector<float> random_values(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// Row-major offset of `index` in `shape`.
int64_t offset_of(const Shape& shape, const std::vector<int64_t>& index) {
  int64_t o = 0;
  for (size_t i = 0; i < shape.size(); ++i) o = o * shape[i] + index[i];
  return o;
}

// Advances a multi-index over `bounds`; false once it wraps around.
bool next_index(std::vector<int64_t>& index, const Shape& bounds) {
  for (size_t i = index.size(); i-- > 0;) {
    if (++index[i] < bounds[i]) return true;
    index[i] = 0;
  }
  return false;
}

struct ConvParams {
  Shape out_spatial;             // expected output size, worked out by hand per test
  std::vector<int64_t> pad_front;  // zeros added before each spatial axis
  std::vector<int64_t> stride, dilation;
  int64_t groups = 1;
};

// Channels-last reference: pads the input explicitly, then slides the kernel
// (k..., in/groups, filters) over it. Positions past the padded input read zero.
Tensor naive_conv(const Tensor& x, const Shape& kshape, const std::vector<float>& w, const std::vector<float>& bias,
                  const ConvParams& p) {
  const size_t rank = kshape.size() - 2;
  const int64_t in_ch = x.shape.back(), cpg = kshape[rank], filters = kshape[rank + 1];
  const int64_t fpg = filters / p.groups;
  Shape padded_shape{x.shape[0]};
  for (size_t d = 0; d < rank; ++d) padded_shape.push_back(x.shape[1 + d] + 2 * p.pad_front[d] + 64);
  padded_shape.push_back(in_ch);
  Tensor padded(padded_shape);
  std::vector<int64_t> idx(x.shape.size(), 0);
  do {
    std::vector<int64_t> to = idx;
    for (size_t d = 0; d < rank; ++d) to[1 + d] += p.pad_front[d];
    padded.floats()[offset_of(padded_shape, to)] = x.floats()[offset_of(x.shape, idx)];
  } while (next_index(idx, x.shape));

  Shape out_shape{x.shape[0]};
  out_shape.insert(out_shape.end(), p.out_spatial.begin(), p.out_spatial.end());
  out_shape.push_back(filters);
  Tensor out(out_shape);
  Shape taps(kshape.begin(), kshape.begin() + static_cast<long>(rank));
  std::vector<int64_t> o(out_shape.size(), 0);
  do {
    const int64_t f = o.back(), g = f / fpg;
    double sum = bias.empty() ? 0.0 : bias[f];
    std::vector<int64_t> k(rank, 0);
    do {
      for (int64_t c = 0; c < cpg; ++c) {
        std::vector<int64_t> src{o[0]};
        for (size_t d = 0; d < rank; ++d) src.push_back(o[1 + d] * p.stride[d] + k[d] * p.dilation[d]);
        src.push_back(g * cpg + c);
        std::vector<int64_t> widx = k;
        widx.push_back(c);
        widx.push_back(f);
        sum += padded.floats()[offset_of(padded_shape, src)] * w[offset_of(kshape, widx)];
      }
    } while (next_index(k, taps));
    out.floats()[offset_of(out_shape, o)] = static_cast<float>(sum);
  } while (next_index(o, out_shape));
  return out;
}

void expect_close(const Tensor& ref, const Tensor& got) {
  std::string miss = compare(ref, got, 1e-5, 1e-5);
  EXPECT_EQ(miss, "");
}

// ---- Conv1D: hand-computed ------------------------------------------------------------------

TEST(Conv, Conv1DValidWithBias) {
  auto op = make_op(layer("Conv1D", {{"filters", 1}, {"kernel_size", 3}}),
                    {{"kernel", {3, 1, 1}, {1, 0, -1}}, {"bias", {1}, {0.5f}}});
  auto out = run_op(*op, {Tensor({1, 4, 1}, {1, 2, 4, 8})});
  EXPECT_EQ(out[0].shape, (Shape{1, 2, 1}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1 - 4 + 0.5f, 2 - 8 + 0.5f}));
}

TEST(Conv, Conv1DCausalDilatedLooksOnlyBack) {
  // y[t] = 10*x[t-2] + x[t]
  auto op = make_op(layer("Conv1D", {{"filters", 1}, {"kernel_size", 2}, {"padding", "causal"},
                                     {"dilation_rate", 2}, {"use_bias", false}}),
                    {{"kernel", {2, 1, 1}, {10, 1}}});
  auto out = run_op(*op, {Tensor({1, 5, 1}, {1, 2, 3, 4, 5})});
  EXPECT_EQ(out[0].shape, (Shape{1, 5, 1}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 2, 13, 24, 35}));
}

TEST(Conv, SamePaddingPutsTheOddPadAtTheEnd) {
  // in 5, kernel 2, stride 2: 3 outputs, total pad 1, all of it after the input.
  auto op = make_op(layer("Conv1D", {{"filters", 1}, {"kernel_size", 2}, {"strides", 2}, {"padding", "same"},
                                     {"use_bias", false}}),
                    {{"kernel", {2, 1, 1}, {1, 10}}});
  auto out = run_op(*op, {Tensor({1, 5, 1}, {1, 2, 3, 4, 5})});
  EXPECT_EQ(out[0].shape, (Shape{1, 3, 1}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{21, 43, 5}));
}

TEST(Conv, SamePaddingSplitsEvenly) {
  // in 4, kernel 3, stride 1: one zero on each side.
  auto op = make_op(layer("Conv1D", {{"filters", 1}, {"kernel_size", 3}, {"padding", "SAME"}, {"use_bias", false}}),
                    {{"kernel", {3, 1, 1}, {100, 10, 1}}});
  auto out = run_op(*op, {Tensor({1, 4, 1}, {1, 2, 3, 4})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{12, 123, 234, 340}));
}

TEST(Conv, ActivationIsApplied) {
  auto op = make_op(layer("Conv1D", {{"filters", 1}, {"kernel_size", 1}, {"activation", "relu"}}),
                    {{"kernel", {1, 1, 1}, {2}}, {"bias", {1}, {-1}}});
  auto out = run_op(*op, {Tensor({1, 3, 1}, {-1, 0.5f, 2})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 0, 3}));
}

// ---- against the naive reference ----------------------------------------------------------

TEST(Conv, Conv2DGroupsStrideSameMatchNaive) {
  std::mt19937 rng(1);
  Shape ks{3, 2, 2, 6};  // 4 input channels in 2 groups
  auto w = random_values(element_count(ks), rng), b = random_values(6, rng);
  auto op = make_op(layer("Conv2D", {{"filters", 6}, {"kernel_size", {3, 2}}, {"strides", {2, 2}},
                                     {"padding", "same"}, {"groups", 2}}),
                    {{"kernel", ks, w}, {"bias", {6}, b}});
  Tensor x = random_tensor({2, 7, 6, 4}, rng);
  // rows: in 7, k 3, s 2 -> out 4, total pad 2 -> front 1; cols: in 6, k 2, s 2 -> out 3, total 0
  Tensor ref = naive_conv(x, ks, w, b, {{4, 3}, {1, 0}, {2, 2}, {1, 1}, 2});
  expect_close(ref, run_op(*op, {x})[0]);
}

TEST(Conv, Conv2DDilationValidMatchNaive) {
  std::mt19937 rng(2);
  Shape ks{3, 3, 3, 2};
  auto w = random_values(element_count(ks), rng), b = random_values(2, rng);
  auto op = make_op(layer("Conv2D", {{"filters", 2}, {"kernel_size", 3}, {"dilation_rate", {2, 1}}}),
                    {{"kernel", ks, w}, {"bias", {2}, b}});
  Tensor x = random_tensor({1, 9, 6, 3}, rng);
  // rows: effective kernel 5 -> 5 outputs; cols: 4 outputs
  Tensor ref = naive_conv(x, ks, w, b, {{5, 4}, {0, 0}, {1, 1}, {2, 1}, 1});
  expect_close(ref, run_op(*op, {x})[0]);
}

TEST(Conv, Conv2DChannelsFirstMatchesChannelsLast) {
  std::mt19937 rng(3);
  Shape ks{2, 3, 3, 4};
  auto w = random_values(element_count(ks), rng), b = random_values(4, rng);
  auto op = make_op(layer("Conv2D", {{"filters", 4}, {"kernel_size", {2, 3}}, {"padding", "same"},
                                     {"strides", {1, 2}}, {"data_format", "channels_first"}}),
                    {{"kernel", ks, w}, {"bias", {4}, b}});
  Tensor x = random_tensor({2, 5, 7, 3}, rng);
  // rows: k 2, total 1 -> front 0; cols: in 7, s 2 -> out 4, total 2 -> front 1
  Tensor ref = naive_conv(x, ks, w, b, {{5, 4}, {0, 1}, {1, 2}, {1, 1}, 1});
  auto out = run_op(*op, {to_channels_first(x)});
  expect_close(to_channels_first(ref), out[0]);
}

TEST(Conv, Conv3DMatchesNaive) {
  std::mt19937 rng(4);
  Shape ks{2, 3, 2, 2, 3};
  auto w = random_values(element_count(ks), rng), b = random_values(3, rng);
  auto op = make_op(layer("Conv3D", {{"filters", 3}, {"kernel_size", {2, 3, 2}}, {"strides", 2},
                                     {"padding", "same"}}),
                    {{"kernel", ks, w}, {"bias", {3}, b}});
  Tensor x = random_tensor({2, 4, 5, 3, 2}, rng);
  // d: in 4 k 2 s 2 -> 2, pad 0; h: in 5 k 3 -> 3, total 2 -> front 1; w: in 3 k 2 -> 2, total 1 -> front 0
  Tensor ref = naive_conv(x, ks, w, b, {{2, 3, 2}, {0, 1, 0}, {2, 2, 2}, {1, 1, 1}, 1});
  expect_close(ref, run_op(*op, {x})[0]);
}

TEST(Conv, Conv3DChannelsFirstNoBias) {
  std::mt19937 rng(5);
  Shape ks{1, 2, 2, 2, 2};
  auto w = random_values(element_count(ks), rng);
  auto op = make_op(layer("Conv3D", {{"filters", 2}, {"kernel_size", {1, 2, 2}}, {"use_bias", false},
                                     {"data_format", "channels_first"}}),
                    {{"kernel", ks, w}});
  Tensor x = random_tensor({1, 3, 4, 3, 2}, rng);
  Tensor ref = naive_conv(x, ks, w, {}, {{3, 3, 2}, {0, 0, 0}, {1, 1, 1}, {1, 1, 1}, 1});
  expect_close(to_channels_first(ref), run_op(*op, {to_channels_first(x)})[0]);
}

// ---- depthwise and separable ------------------------------------------------------------------

// y[..., c*M + m] = bias + sum_k x[..., c] * w[k, c, m], over explicitly padded rows/cols.
Tensor naive_depthwise2d(const Tensor& x, int64_t kh, int64_t kw, int64_t mult, const std::vector<float>& w,
                         const std::vector<float>& bias, int64_t oh, int64_t ow, int64_t pad_top, int64_t pad_left,
                         int64_t stride) {
  const int64_t n = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3];
  Tensor out({n, oh, ow, c * mult});
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t m = 0; m < mult; ++m) {
            double s = bias.empty() ? 0.0 : bias[ch * mult + m];
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t e = 0; e < kw; ++e) {
                int64_t r = i * stride + a - pad_top, q = j * stride + e - pad_left;
                if (r < 0 || r >= h || q < 0 || q >= wd) continue;
                s += x.floats()[((b * h + r) * wd + q) * c + ch] * w[((a * kw + e) * c + ch) * mult + m];
              }
            out.floats()[((b * oh + i) * ow + j) * (c * mult) + ch * mult + m] = static_cast<float>(s);
          }
  return out;
}

TEST(Conv, DepthwiseConv2DSameMultiplierMatchesNaive) {
  std::mt19937 rng(6);
  auto w = random_values(3 * 3 * 3 * 2, rng), b = random_values(6, rng);
  auto op = make_op(layer("DepthwiseConv2D", {{"kernel_size", 3}, {"depth_multiplier", 2}, {"padding", "same"},
                                              {"strides", 2}}),
                    {{"kernel", {3, 3, 3, 2}, w}, {"bias", {6}, b}});
  Tensor x = random_tensor({2, 6, 5, 3}, rng);
  // rows: in 6 s 2 -> 3, total 1 -> front 0; cols: in 5 -> 3, total 2 -> front 1
  Tensor ref = naive_depthwise2d(x, 3, 3, 2, w, b, 3, 3, 0, 1, 2);
  expect_close(ref, run_op(*op, {x})[0]);
}

TEST(Conv, DepthwiseConv2DChannelsFirst) {
  std::mt19937 rng(7);
  auto w = random_values(2 * 2 * 4 * 1, rng), b = random_values(4, rng);
  auto op = make_op(layer("DepthwiseConv2D", {{"kernel_size", 2}, {"data_format", "channels_first"}}),
                    {{"kernel", {2, 2, 4, 1}, w}, {"bias", {4}, b}});
  Tensor x = random_tensor({1, 4, 4, 4}, rng);
  Tensor ref = naive_depthwise2d(x, 2, 2, 1, w, b, 3, 3, 0, 0, 1);
  expect_close(to_channels_first(ref), run_op(*op, {to_channels_first(x)})[0]);
}

TEST(Conv, DepthwiseConv1DHandComputed) {
  // two channels, multiplier 2: channel 0 -> (sum, diff), channel 1 -> (first tap, 2*second tap)
  auto op = make_op(layer("DepthwiseConv1D", {{"kernel_size", 2}, {"depth_multiplier", 2}}),
                    {{"kernel", {2, 2, 2}, {1, 1, 1, 0, /*tap 1*/ 1, -1, 0, 2}}, {"bias", {4}, {0, 0, 0, 100}}});
  auto out = run_op(*op, {Tensor({1, 3, 2}, {1, 10, 2, 20, 3, 30})});
  EXPECT_EQ(out[0].shape, (Shape{1, 2, 4}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3, -1, 10, 140, 5, -1, 20, 160}));
}

TEST(Conv, SeparableConv1DIsDepthwiseThenPointwise) {
  // depthwise (k=2, 2 channels, mult 1): ch0 = x0[t] + x0[t+1], ch1 = x1[t] - x1[t+1]
  // pointwise: out = ch0 + 10*ch1 + bias
  auto op = make_op(layer("SeparableConv1D", {{"filters", 1}, {"kernel_size", 2}, {"depth_multiplier", 1}}),
                    {{"depthwise_kernel", {2, 2, 1}, {1, 1, 1, -1}},
                     {"pointwise_kernel", {1, 2, 1}, {1, 10}},
                     {"bias", {1}, {0.5f}}});
  auto out = run_op(*op, {Tensor({1, 3, 2}, {1, 5, 2, 3, 4, 0})});
  EXPECT_EQ(out[0].shape, (Shape{1, 2, 1}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3 + 20 + 0.5f, 6 + 30 + 0.5f}));
}

TEST(Conv, SeparableConv2DMatchesDepthwiseThenDense) {
  std::mt19937 rng(8);
  auto dw = random_values(3 * 3 * 2 * 2, rng), pw = random_values(4 * 3, rng), b = random_values(3, rng);
  auto op = make_op(layer("SeparableConv2D", {{"filters", 3}, {"kernel_size", 3}, {"depth_multiplier", 2},
                                              {"strides", 2}, {"activation", "tanh"}}),
                    {{"depthwise_kernel", {3, 3, 2, 2}, dw}, {"pointwise_kernel", {1, 1, 4, 3}, pw}, {"bias", {3}, b}});
  Tensor x = random_tensor({2, 7, 8, 2}, rng);
  Tensor mid = naive_depthwise2d(x, 3, 3, 2, dw, {}, 3, 3, 0, 0, 2);
  Tensor ref({2, 3, 3, 3});
  for (int64_t p = 0; p < 2 * 9; ++p)
    for (int64_t f = 0; f < 3; ++f) {
      double s = b[f];
      for (int64_t c = 0; c < 4; ++c) s += mid.floats()[p * 4 + c] * pw[c * 3 + f];
      ref.floats()[p * 3 + f] = static_cast<float>(std::tanh(s));
    }
  expect_close(ref, run_op(*op, {x})[0]);
}

// ---- transposed ---------------------------------------------------------------------------------

// x = [1, 2, 3], kernel taps [1, 10, 100], stride 2: the full output places x[i]*w[k] at 2i+k:
// [1, 10, 102, 20, 203, 30, 300]; Keras then crops or extends it per padding mode.
json transpose1d(const std::string& padding, json extra = json::object()) {
  json cfg = {{"filters", 1}, {"kernel_size", 3}, {"strides", 2}, {"padding", padding}, {"use_bias", false}};
  cfg.update(extra);
  return layer("Conv1DTranspose", cfg);
}

TEST(ConvTranspose, Conv1DValidIsTheFullOutput) {
  auto op = make_op(transpose1d("valid"), {{"kernel", {3, 1, 1}, {1, 10, 100}}});
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3})});
  EXPECT_EQ(out[0].shape, (Shape{1, 7, 1}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 10, 102, 20, 203, 30, 300}));
}

TEST(ConvTranspose, Conv1DValidOutputPaddingAppendsZeros) {
  auto op = make_op(transpose1d("valid", {{"output_padding", 1}}), {{"kernel", {3, 1, 1}, {1, 10, 100}}});
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 10, 102, 20, 203, 30, 300, 0}));
}

TEST(ConvTranspose, Conv1DSameOddKernelCropsTheEnd) {
  // output in*stride = 6: the adjoint of a same conv whose single pad sits at the end
  auto op = make_op(transpose1d("same"), {{"kernel", {3, 1, 1}, {1, 10, 100}}});
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3})});
  EXPECT_EQ(out[0].shape, (Shape{1, 6, 1}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 10, 102, 20, 203, 30}));
}

TEST(ConvTranspose, Conv1DSameEvenKernelCropsOneInFront) {
  // kernel 4, full output [1, 10, 102, 1020, 203, 2030, 300, 3000], 6 kept starting at 1
  auto op = make_op(layer("Conv1DTranspose", {{"filters", 1}, {"kernel_size", 4}, {"strides", 2},
                                              {"padding", "same"}, {"use_bias", false}}),
                    {{"kernel", {4, 1, 1}, {1, 10, 100, 1000}}});
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{10, 102, 1020, 203, 2030, 300}));
}

TEST(ConvTranspose, Conv1DSameOutputPaddingCanExtendWithZeros) {
  // kernel 1, stride 2, output_padding 1: (in-1)*2 + 1 + 1 = 4 outputs, the full 3 plus a zero
  auto op = make_op(layer("Conv1DTranspose", {{"filters", 1}, {"kernel_size", 1}, {"strides", 2},
                                              {"padding", "same"}, {"output_padding", 1}}),
                    {{"kernel", {1, 1, 1}, {3}}, {"bias", {1}, {0.5f}}});
  auto out = run_op(*op, {Tensor({1, 2, 1}, {1, 2})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3.5f, 0.5f, 6.5f, 0.5f}));
}

TEST(ConvTranspose, Conv1DDilation) {
  // dilation 2: taps land at i + 2k; full output length (3-1) + 5 = 7
  auto op = make_op(layer("Conv1DTranspose", {{"filters", 1}, {"kernel_size", 3}, {"dilation_rate", 2},
                                              {"use_bias", false}}),
                    {{"kernel", {3, 1, 1}, {1, 10, 100}}});
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{1, 2, 13, 20, 130, 200, 300}));
}

// Channels-last scatter reference: x[i]*w[k, f, c] lands at i*s + k in the full output,
// which is then read from `crop_front` on (reads past the end give zero).
Tensor naive_transpose2d(const Tensor& x, const Shape& ks, const std::vector<float>& w, const std::vector<float>& bias,
                         int64_t stride, Shape out_spatial, std::vector<int64_t> crop_front) {
  const int64_t n = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3];
  const int64_t kh = ks[0], kw = ks[1], filters = ks[2];
  const int64_t fh = (h - 1) * stride + kh, fw = (wd - 1) * stride + kw;
  std::vector<double> full(static_cast<size_t>(n * fh * fw * filters), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < wd; ++j)
        for (int64_t a = 0; a < kh; ++a)
          for (int64_t e = 0; e < kw; ++e)
            for (int64_t f = 0; f < filters; ++f)
              for (int64_t ch = 0; ch < c; ++ch)
                full[((b * fh + i * stride + a) * fw + j * stride + e) * filters + f] +=
                    x.floats()[((b * h + i) * wd + j) * c + ch] * w[((a * kw + e) * filters + f) * c + ch];
  Tensor out({n, out_spatial[0], out_spatial[1], filters});
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < out_spatial[0]; ++i)
      for (int64_t j = 0; j < out_spatial[1]; ++j)
        for (int64_t f = 0; f < filters; ++f) {
          int64_t r = i + crop_front[0], q = j + crop_front[1];
          double v = (r < fh && q < fw) ? full[((b * fh + r) * fw + q) * filters + f] : 0.0;
          out.floats()[((b * out_spatial[0] + i) * out_spatial[1] + j) * filters + f] = static_cast<float>(v + bias[f]);
        }
  return out;
}

TEST(ConvTranspose, Conv2DSameStride2MatchesNaive) {
  std::mt19937 rng(9);
  Shape ks{3, 4, 2, 3};  // (kh, kw, filters, in)
  auto w = random_values(element_count(ks), rng), b = random_values(2, rng);
  auto op = make_op(layer("Conv2DTranspose", {{"filters", 2}, {"kernel_size", {3, 4}}, {"strides", 2},
                                              {"padding", "same"}}),
                    {{"kernel", ks, w}, {"bias", {2}, b}});
  Tensor x = random_tensor({2, 3, 4, 3}, rng);
  // out = in*2; rows (k 3) crop 0 in front, cols (k 4) crop 1 in front
  Tensor ref = naive_transpose2d(x, ks, w, b, 2, {6, 8}, {0, 1});
  expect_close(ref, run_op(*op, {x})[0]);
}

TEST(ConvTranspose, Conv2DChannelsFirstValid) {
  std::mt19937 rng(10);
  Shape ks{2, 2, 3, 2};
  auto w = random_values(element_count(ks), rng), b = random_values(3, rng);
  auto op = make_op(layer("Conv2DTranspose", {{"filters", 3}, {"kernel_size", 2}, {"strides", 3},
                                              {"data_format", "channels_first"}}),
                    {{"kernel", ks, w}, {"bias", {3}, b}});
  Tensor x = random_tensor({1, 2, 3, 2}, rng);
  // valid with stride 3 > kernel 2: (in-1)*3 + 3, the last row/col of each step is bias only
  Tensor ref = naive_transpose2d(x, ks, w, b, 3, {6, 9}, {0, 0});
  expect_close(to_channels_first(ref), run_op(*op, {to_channels_first(x)})[0]);
}

TEST(ConvTranspose, Conv3DShapeAndOneVoxel) {
  // one input voxel, stride 2, same: 2 outputs per axis, the full output (the kernel itself) cropped 0 in front
  std::vector<float> w(27);
  for (int i = 0; i < 27; ++i) w[i] = static_cast<float>(i);
  auto op = make_op(layer("Conv3DTranspose", {{"filters", 1}, {"kernel_size", 3}, {"strides", 2},
                                              {"padding", "same"}, {"use_bias", false}}),
                    {{"kernel", {3, 3, 3, 1, 1}, w}});
  auto out = run_op(*op, {Tensor({1, 1, 1, 1, 1}, {1})});
  EXPECT_EQ(out[0].shape, (Shape{1, 2, 2, 2, 1}));
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{0, 1, 3, 4, 9, 10, 12, 13}));
}

// ---- shapes ---------------------------------------------------------------------------------

TEST(ConvShapes, UnknownDimsPropagate) {
  auto conv = make_op(layer("Conv2D", {{"filters", 5}, {"kernel_size", 3}, {"strides", 2}}),
                      {{"kernel", {3, 3, 2, 5}, std::vector<float>(90)}, {"bias", {5}, std::vector<float>(5)}});
  EXPECT_EQ(conv->output_shapes(std::vector<Shape>{{-1, -1, 9, 2}})[0], (Shape{-1, -1, 4, 5}));
  EXPECT_EQ(conv->output_shapes(std::vector<Shape>{{-1, 10, 9, -1}})[0], (Shape{-1, 4, 4, 5}));

  auto tr = make_op(layer("Conv1DTranspose", {{"filters", 4}, {"kernel_size", 3}, {"strides", 2},
                                              {"data_format", "channels_first"}}),
                    {{"kernel", {3, 4, 2}, std::vector<float>(24)}, {"bias", {4}, std::vector<float>(4)}});
  EXPECT_EQ(tr->output_shapes(std::vector<Shape>{{-1, 2, -1}})[0], (Shape{-1, 4, -1}));
  EXPECT_EQ(tr->output_shapes(std::vector<Shape>{{3, 2, 5}})[0], (Shape{3, 4, 11}));

  auto sep = make_op(layer("SeparableConv2D", {{"filters", 3}, {"kernel_size", 3}, {"padding", "same"},
                                               {"strides", 2}, {"data_format", "channels_first"}}),
                     {{"depthwise_kernel", {3, 3, 2, 1}, std::vector<float>(18)},
                      {"pointwise_kernel", {1, 1, 2, 3}, std::vector<float>(6)},
                      {"bias", {3}, std::vector<float>(3)}});
  EXPECT_EQ(sep->output_shapes(std::vector<Shape>{{-1, 2, 7, -1}})[0], (Shape{-1, 3, 4, -1}));
}

TEST(ConvShapes, ParamCountCountsAllWeights) {
  auto sep = make_op(layer("SeparableConv1D", {{"filters", 3}, {"kernel_size", 2}}),
                     {{"depthwise_kernel", {2, 2, 1}, std::vector<float>(4)},
                      {"pointwise_kernel", {1, 2, 3}, std::vector<float>(6)},
                      {"bias", {3}, std::vector<float>(3)}});
  EXPECT_EQ(sep->param_count(), 13);
}

// ---- errors ---------------------------------------------------------------------------------

TEST(ConvErrors, RejectsBadConfigsAndWeights) {
  std::vector<Weights::Entry> k3 = {{"kernel", {3, 1, 1}, {1, 2, 3}}, {"bias", {1}, {0}}};
  // kernel_size disagrees with the stored kernel
  EXPECT_THROW(make_op(layer("Conv1D", {{"filters", 1}, {"kernel_size", 2}}), k3), Error);
  // filters disagree
  EXPECT_THROW(make_op(layer("Conv1D", {{"filters", 2}, {"kernel_size", 3}}), k3), Error);
  EXPECT_THROW(make_op(layer("Conv1D", {{"filters", 1}, {"padding", "full"}}), k3), Error);
  EXPECT_THROW(make_op(layer("Conv1D", {{"filters", 1}, {"strides", 0}}), k3), Error);
  EXPECT_THROW(make_op(layer("Conv1D", {{"filters", 1}, {"data_format", "channels_middle"}}), k3), Error);
  // missing bias
  EXPECT_THROW(make_op(layer("Conv1D", {{"filters", 1}}), {{"kernel", {3, 1, 1}, {1, 2, 3}}}), Error);
  // kernel of the wrong rank
  EXPECT_THROW(make_op(layer("Conv2D", {{"filters", 1}}), k3), Error);
  // causal is Conv1D only
  EXPECT_THROW(make_op(layer("Conv2D", {{"filters", 1}, {"padding", "causal"}}),
                       {{"kernel", {1, 1, 1, 1}, {1}}, {"bias", {1}, {0}}}),
               Error);
  // 3 filters cannot split into 2 groups
  EXPECT_THROW(make_op(layer("Conv1D", {{"groups", 2}}), {{"kernel", {1, 1, 3}, {1, 2, 3}}, {"bias", {3}, {0, 0, 0}}}),
               Error);
  // output_padding must stay below the stride
  EXPECT_THROW(make_op(transpose1d("valid", {{"output_padding", 2}}), {{"kernel", {3, 1, 1}, {1, 2, 3}}}), Error);
  // glu halves the channels; not supported on a conv
  EXPECT_THROW(make_op(layer("Conv1D", {{"activation", "glu"}}), k3), Error);
}

TEST(ConvErrors, RejectsInputsTheLayerCannotTake) {
  auto op = make_op(layer("Conv2D", {{"filters", 1}, {"kernel_size", 3}}),
                    {{"kernel", {3, 3, 2, 1}, std::vector<float>(18)}, {"bias", {1}, {0}}});
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{1, 5, 5, 3}}), Error);  // 3 channels, kernel wants 2
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{1, 5, 2}}), Error);     // rank 3
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{1, 2, 5, 2}}), Error);  // too short for a valid 3x3
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{1, 5, 5, 2}, {1, 5, 5, 2}}), Error);
}

}  // namespace
}  // namespace kerasrt::testing
