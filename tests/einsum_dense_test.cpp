// EinsumDense and TernaryDense against loops written out per equation.
#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

json einsum_layer(const std::string& eq, json output_shape, json bias_axes, const std::string& act = "linear") {
  return {{"class_name", "EinsumDense"},
          {"config", {{"name", "ed"}, {"equation", eq}, {"output_shape", output_shape}, {"bias_axes", bias_axes},
                      {"activation", act}}}};
}

void expect_near_all(const Tensor& got, const std::vector<float>& want) {
  ASSERT_EQ(got.floats().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got.floats()[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << i;
}

TEST(EinsumDense, SequenceProjectionWithBias) {
  std::mt19937 rng(1);
  Tensor x = random_tensor({2, 3, 4}, rng), k = random_tensor({4, 5}, rng), b = random_tensor({5}, rng);
  auto op = make_op(einsum_layer("abc,cd->abd", {nullptr, 5}, "d"), {{"kernel", k.shape, k.to_floats()}, {"bias", b.shape, b.to_floats()}});
  auto out = run_op(*op, {x});
  EXPECT_EQ(out[0].shape, (Shape{2, 3, 5}));
  std::vector<float> want;
  for (int a = 0; a < 2; ++a)
    for (int bb = 0; bb < 3; ++bb)
      for (int d = 0; d < 5; ++d) {
        float s = b.floats()[d];
        for (int c = 0; c < 4; ++c) s += x.floats()[(a * 3 + bb) * 4 + c] * k.floats()[c * 5 + d];
        want.push_back(s);
      }
  expect_near_all(out[0], want);
}

TEST(EinsumDense, HandComputedWithRelu) {
  // "ab,bc->ac": x = [[1, 2]], kernel = [[1, -1], [1, -2]], bias = [0.5, 0.5]
  auto op = make_op(einsum_layer("ab,bc->ac", 2, "c", "relu"), {{"kernel", {2, 2}, {1, -1, 1, -2}}, {"bias", {2}, {0.5f, 0.5f}}});
  auto out = run_op(*op, {Tensor({1, 2}, {1, 2})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{3.5f, 0.f}));  // [1+2+.5, -1-4+.5 -> 0]
}

TEST(EinsumDense, KernelOnlyAxesAndTwoAxisBias) {
  // MultiHeadAttention's query projection: "abc,cde->abde", bias over "de".
  std::mt19937 rng(2);
  Tensor x = random_tensor({2, 3, 4}, rng), k = random_tensor({4, 2, 3}, rng), b = random_tensor({2, 3}, rng);
  auto op = make_op(einsum_layer("abc,cde->abde", {nullptr, 2, 3}, "de"),
                    {{"kernel", k.shape, k.to_floats()}, {"bias", b.shape, b.to_floats()}});
  auto out = run_op(*op, {x});
  EXPECT_EQ(out[0].shape, (Shape{2, 3, 2, 3}));
  std::vector<float> want;
  for (int a = 0; a < 2; ++a)
    for (int bb = 0; bb < 3; ++bb)
      for (int d = 0; d < 2; ++d)
        for (int e = 0; e < 3; ++e) {
          float s = b.floats()[d * 3 + e];
          for (int c = 0; c < 4; ++c) s += x.floats()[(a * 3 + bb) * 4 + c] * k.floats()[(c * 2 + d) * 3 + e];
          want.push_back(s);
        }
  expect_near_all(out[0], want);
}

TEST(EinsumDense, SumsOverAnInputAxisMissingFromTheOutput) {
  // "abc,cd->ad": b is summed too.
  std::mt19937 rng(3);
  Tensor x = random_tensor({2, 3, 4}, rng), k = random_tensor({4, 2}, rng);
  auto op = make_op(einsum_layer("abc,cd->ad", 2, nullptr), {{"kernel", k.shape, k.to_floats()}});
  auto out = run_op(*op, {x});
  EXPECT_EQ(out[0].shape, (Shape{2, 2}));
  std::vector<float> want;
  for (int a = 0; a < 2; ++a)
    for (int d = 0; d < 2; ++d) {
      float s = 0;
      for (int bb = 0; bb < 3; ++bb)
        for (int c = 0; c < 4; ++c) s += x.floats()[(a * 3 + bb) * 4 + c] * k.floats()[c * 2 + d];
      want.push_back(s);
    }
  expect_near_all(out[0], want);
}

TEST(EinsumDense, LeadingEllipsisCoversAnyNumberOfAxes) {
  std::mt19937 rng(4);
  Tensor k = random_tensor({3, 2}, rng), b = random_tensor({2}, rng);
  auto op = make_op(einsum_layer("...x,xy->...y", 2, "y"), {{"kernel", k.shape, k.to_floats()}, {"bias", b.shape, b.to_floats()}});
  for (Shape s : {Shape{4, 3}, Shape{2, 2, 2, 3}}) {
    Tensor x = random_tensor(s, rng);
    auto out = run_op(*op, {x});
    Shape want_shape = s;
    want_shape.back() = 2;
    EXPECT_EQ(out[0].shape, want_shape);
    std::vector<float> want;
    for (int64_t r = 0; r < x.size() / 3; ++r)
      for (int y = 0; y < 2; ++y) {
        float v = b.floats()[y];
        for (int c = 0; c < 3; ++c) v += x.floats()[r * 3 + c] * k.floats()[c * 2 + y];
        want.push_back(v);
      }
    expect_near_all(out[0], want);
  }
}

TEST(EinsumDense, TrailingEllipsisAndItsBiasShape) {
  // "ab...,bc->ac...": bias over c is stored as (c, 1, 1) for two ellipsis axes.
  std::mt19937 rng(5);
  Tensor x = random_tensor({2, 3, 2, 2}, rng), k = random_tensor({3, 4}, rng), b = random_tensor({4, 1, 1}, rng);
  auto op = make_op(einsum_layer("ab...,bc->ac...", 4, "c"), {{"kernel", k.shape, k.to_floats()}, {"bias", b.shape, b.to_floats()}});
  auto out = run_op(*op, {x});
  EXPECT_EQ(out[0].shape, (Shape{2, 4, 2, 2}));
  std::vector<float> want;
  for (int a = 0; a < 2; ++a)
    for (int c = 0; c < 4; ++c)
      for (int e = 0; e < 4; ++e) {  // the two ellipsis axes, flattened
        float v = b.floats()[c];
        for (int bb = 0; bb < 3; ++bb) v += x.floats()[(a * 3 + bb) * 4 + e] * k.floats()[bb * 4 + c];
        want.push_back(v);
      }
  expect_near_all(out[0], want);
  // A bias without the trailing unit axes does not match Keras's layout.
  EXPECT_THROW(run_op(*make_op(einsum_layer("ab...,bc->ac...", 4, "c"),
                               {{"kernel", k.shape, k.to_floats()}, {"bias", {4}, {1, 2, 3, 4}}}),
                      {x}),
               Error);
}

TEST(EinsumDense, BiasOverANonTrailingAxisBroadcastsOverLaterOnes) {
  // "abc,cd->abd" with bias_axes "b": Keras stores the bias as (b, 1).
  auto op = make_op(einsum_layer("abc,cd->abd", {3, 1}, "b"),
                    {{"kernel", {1, 1}, {2}}, {"bias", {3, 1}, {10, 20, 30}}});
  auto out = run_op(*op, {Tensor({1, 3, 1}, {1, 2, 3})});
  EXPECT_EQ(out[0].to_floats(), (std::vector<float>{12, 24, 36}));
}

TEST(EinsumDense, OutputShapesKeepUnknownDims) {
  auto op = make_op(einsum_layer("abc,cd->abd", {nullptr, 6}, "d"),
                    {{"kernel", {8, 6}, std::vector<float>(48)}, {"bias", {6}, std::vector<float>(6)}});
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1, 8}})[0], (Shape{-1, -1, 6}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 5, -1}})[0], (Shape{-1, 5, 6}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 5, 7}}), Error);   // kernel takes 8
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 8}}), Error);      // rank 2 for "abc"
  auto ell = make_op(einsum_layer("...b,bc->...c", 6, nullptr), {{"kernel", {8, 6}, std::vector<float>(48)}});
  EXPECT_EQ(ell->output_shapes(std::vector<Shape>{{-1, -1, 4, 8}})[0], (Shape{-1, -1, 4, 6}));
}

TEST(EinsumDense, RefusesInconsistentConfigsAndWeights) {
  std::vector<float> k48(48);
  auto with = [&](const std::string& eq, json os, json bias, std::vector<Weights::Entry> w) {
    return make_op(einsum_layer(eq, os, bias), std::move(w));
  };
  EXPECT_THROW(with("abc,cd", 6, nullptr, {{"kernel", {8, 6}, k48}}), Error);            // no output
  EXPECT_THROW(with("abc,cd,de->abe", 6, nullptr, {{"kernel", {8, 6}, k48}}), Error);    // three operands
  EXPECT_THROW(with("abc,cd->abz", 6, nullptr, {{"kernel", {8, 6}, k48}}), Error);       // z from nowhere
  EXPECT_THROW(with("a...c,cd->a...d", 6, nullptr, {{"kernel", {8, 6}, k48}}), Error);   // middle ellipsis
  EXPECT_THROW(with("abc,cde->abde", 6, nullptr, {{"kernel", {8, 6}, k48}}), Error);     // kernel rank
  EXPECT_THROW(with("abc,cd->abd", 6, "q", {{"kernel", {8, 6}, k48}, {"bias", {6}, std::vector<float>(6)}}), Error);
  EXPECT_THROW(with("abc,cd->abd", 6, "d", {{"kernel", {8, 6}, k48}, {"bias", {5}, std::vector<float>(5)}}), Error);
  EXPECT_THROW(with("abc,cd->abd", 6, "d", {{"kernel", {8, 6}, k48}}), Error);           // bias missing
  // output_shape must agree with the kernel
  auto op = with("abc,cd->abd", json::array({nullptr, 7}), nullptr, {{"kernel", {8, 6}, k48}});
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 5, 8}}), Error);
  json quantized = einsum_layer("ab,bc->ac", 6, nullptr);
  quantized["config"]["dtype"] = {{"class_name", "QuantizedDTypePolicy"}, {"config", {{"mode", "int8"}, {"source_name", "float32"}}}};
  EXPECT_THROW(make_op(quantized, {{"kernel", {8, 6}, k48}}), Error);
}

// ---- TernaryDense ------------------------------------------------------------------------------------

json ternary_layer(json threshold, bool use_bias, json dtype = nullptr) {
  json cfg = {{"name", "td"}, {"units", 2}, {"threshold", threshold}, {"activation", "linear"}, {"use_bias", use_bias}};
  if (!dtype.is_null()) cfg["dtype"] = dtype;
  return {{"class_name", "TernaryDense"}, {"config", cfg}};
}

TEST(TernaryDense, DefaultThresholdScalesByMeanAbsoluteWeight) {
  // kernel (3, 2) = [[0.8, -0.1], [-0.6, 0.3], [0.05, -0.9]]: mean|k| = 2.75/6, threshold = half of it
  // (~0.229): ternary = [[1, 0], [-1, 1], [0, -1]].
  std::vector<float> k = {0.8f, -0.1f, -0.6f, 0.3f, 0.05f, -0.9f};
  auto op = make_op(ternary_layer(nullptr, true), {{"kernel", {3, 2}, k}, {"bias", {2}, {1.f, -1.f}}});
  auto out = run_op(*op, {Tensor({1, 3}, {1, 2, 3})});
  float beta = 2.75f / 6.f;
  // x · ternary = [1 - 2, 2 - 3] = [-1, -1]
  EXPECT_NEAR(out[0].floats()[0], -1.f * beta + 1.f, 1e-6);
  EXPECT_NEAR(out[0].floats()[1], -1.f * beta - 1.f, 1e-6);
}

TEST(TernaryDense, ExplicitThresholdHasNoScale) {
  std::vector<float> k = {0.8f, -0.1f, -0.6f, 0.3f, 0.05f, -0.9f};
  auto op = make_op(ternary_layer(0.2, false), {{"kernel", {3, 2}, k}});
  auto out = run_op(*op, {Tensor({2, 3}, {1, 2, 3, -1, 0, 1})});
  // ternary at 0.2: [[1, 0], [-1, 1], [0, -1]]; row 1: [-1 + 0, 0 - 1]
  expect_near_all(out[0], {-1.f, -1.f, -1.f, -1.f});
}

TEST(TernaryDense, PackedKernelUnpacksFiveTritsPerByte) {
  // 6 input rows pack into 2 bytes per unit: digit = trit + 1, byte = sum digit_i * 3^i.
  std::vector<std::vector<int>> trits = {{1, -1}, {0, 1}, {-1, 0}, {1, 1}, {0, -1}, {1, 0}};  // (6, 2)
  std::vector<float> packed(4, 0.f);
  for (int u = 0; u < 2; ++u)
    for (int byte = 0; byte < 2; ++byte) {
      int code = 0, place = 1;
      for (int j = 0; j < 5; ++j, place *= 3) {
        int row = byte * 5 + j;
        code += (row < 6 ? trits[row][u] + 1 : 1) * place;
      }
      packed[byte * 2 + u] = static_cast<float>(code);
    }
  json dtype = {{"class_name", "TernaryDTypePolicy"}, {"config", {{"mode", "ternary"}, {"source_name", "float32"}}}};
  auto op = make_op(ternary_layer(nullptr, true, dtype),
                    {{"kernel", {2, 2}, packed}, {"bias", {2}, {0.5f, 0.f}}, {"kernel_scale", {}, {2.f}}});
  Tensor x({1, 6}, {1, 2, 3, 4, 5, 6});
  auto out = run_op(*op, {x});
  for (int u = 0; u < 2; ++u) {
    float s = 0;
    for (int r = 0; r < 6; ++r) s += x.floats()[r] * trits[r][u];
    EXPECT_FLOAT_EQ(out[0].floats()[u], s * 2.f + (u == 0 ? 0.5f : 0.f));
  }
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 11}}), Error);  // needs 3 packed rows
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 4, 10}})[0], (Shape{-1, 4, 2}));
}

TEST(TernaryDense, RefusesBadShapesAndConfigs) {
  std::vector<float> k(6, 0.5f);
  auto op = make_op(ternary_layer(nullptr, false), {{"kernel", {3, 2}, k}});
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{-1, 4}}), Error);
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{3}}), Error);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, -1, 3}})[0], (Shape{-1, -1, 2}));
  EXPECT_THROW(make_op(ternary_layer(-1.0, false), {{"kernel", {3, 2}, k}}), Error);
  EXPECT_THROW(make_op(ternary_layer(nullptr, false), {{"kernel", {3, 3}, std::vector<float>(9)}}), Error);
  EXPECT_THROW(make_op(ternary_layer(nullptr, true), {{"kernel", {3, 2}, k}}), Error);  // bias missing
}

}  // namespace
}  // namespace kerasrt::testing
