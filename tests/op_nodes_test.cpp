// keras.ops nodes of functional configs and the Masking layer, against hand-computed values and
// naive formulas written out here.
#include <cmath>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

json slice(json start, json stop, json step) {
  return {{"class_name", "__slice__"}, {"config", {{"start", start}, {"stop", stop}, {"step", step}}}};
}
const json kAll = slice(nullptr, nullptr, nullptr);
const json kEllipsis = {{"class_name", "__ellipsis__"}, {"config", json::object()}};

// An op node entry as Keras 3 writes it, bound to a call with `args` holding `tensors` tensors.
std::shared_ptr<const Op> make_node(const std::string& cls, json config, json args, int tensors = 1,
                                    json kwargs = json::object(), std::vector<std::string> roles = {}) {
  config["name"] = "node";
  json entry = {{"module", "keras.src.ops.numpy"}, {"class_name", cls}, {"config", config}};
  Call call = positional_call(tensors);
  if (!roles.empty()) call.roles = roles;
  call.args = std::move(args);
  call.kwargs = std::move(kwargs);
  return make_op(entry, {}, call);
}

// One-tensor ops called as op(x).
std::shared_ptr<const Op> make_unary(const std::string& cls, json config = json::object()) {
  return make_node(cls, std::move(config), json::array({tensor_arg(0)}));
}

Tensor iota_tensor(Shape shape, float start = 0.f, float step = 1.f) {
  Tensor t(std::move(shape));
  for (size_t i = 0; i < t.floats().size(); ++i) t.floats()[i] = start + step * static_cast<float>(i);
  return t;
}

void expect_values(const Tensor& got, const Shape& shape, const std::vector<float>& want) {
  ASSERT_EQ(got.shape, shape);
  ASSERT_EQ(got.floats().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(got.floats()[i])) << "element " << i;
    else if (std::isinf(want[i]))
      EXPECT_EQ(got.floats()[i], want[i]) << "element " << i;
    else
      EXPECT_NEAR(got.floats()[i], want[i], 1e-6 + 1e-6 * std::fabs(want[i])) << "element " << i;
  }
}

// ---- element-wise -----------------------------------------------------------------------------

TEST(OpNodes, AddTensorAndScalarEitherSide) {
  auto right = make_node("Add", json::object(), json::array({tensor_arg(0), 2.5}));
  expect_values(run_op(*right, {Tensor({1, 3}, {1, -2, 0})})[0], {1, 3}, {3.5f, 0.5f, 2.5f});
  auto left = make_node("Subtract", json::object(), json::array({3.0, tensor_arg(0)}));
  expect_values(run_op(*left, {Tensor({1, 3}, {1, -2, 0})})[0], {1, 3}, {2, 5, 3});
}

TEST(OpNodes, BinaryOpsBroadcastLikeNumPy) {
  auto op = make_node("TrueDivide", json::object(), json::array({tensor_arg(0), tensor_arg(1)}), 2);
  Tensor a = iota_tensor({2, 3, 1}, 1.f), b = iota_tensor({1, 4}, 1.f);
  auto out = run_op(*op, {a, b})[0];
  ASSERT_EQ(out.shape, (Shape{2, 3, 4}));
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_FLOAT_EQ(out.floats()[i * 4 + j], a.floats()[i] / b.floats()[j]);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 3, 1}, {1, 4}})[0], (Shape{-1, 3, 4}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{2, 3}, {4}}), Error);
}

TEST(OpNodes, ConstantListOperandBroadcasts) {
  auto op = make_node("Multiply", json::object(), json::array({tensor_arg(0), json::array({1, 10, 100})}));
  expect_values(run_op(*op, {Tensor({2, 3}, {1, 2, 3, 4, 5, 6})})[0], {2, 3}, {1, 20, 300, 4, 50, 600});
}

TEST(OpNodes, PowerMaximumAndFloorOps) {
  auto pw = make_node("Power", json::object(), json::array({tensor_arg(0), 2}));
  expect_values(run_op(*pw, {Tensor({3}, {-3, 0.5f, 2})})[0], {3}, {9, 0.25f, 4});
  auto mx = make_node("Maximum", json::object(), json::array({tensor_arg(0), 0.2}));
  expect_values(run_op(*mx, {Tensor({3}, {-1, 0.7f, NAN})})[0], {3}, {0.2f, 0.7f, NAN});
  // Python semantics: the result takes the divisor's sign.
  auto fd = make_node("FloorDivide", json::object(), json::array({tensor_arg(0), -2.0}));
  expect_values(run_op(*fd, {Tensor({3}, {7, -7, 4})})[0], {3}, {-4, 3, -2});
  auto md = make_node("Mod", json::object(), json::array({tensor_arg(0), 3.0}));
  expect_values(run_op(*md, {Tensor({3}, {7, -7, -6})})[0], {3}, {1, 2, 0});
}

TEST(OpNodes, ComparisonsGiveZeroOrOne) {
  auto ne = make_node("NotEqual", json::object(), json::array({tensor_arg(0), 0}));
  expect_values(run_op(*ne, {Tensor({4}, {0, 3, -0.f, NAN})})[0], {4}, {0, 1, 0, 1});
  auto le = make_node("LessEqual", json::object(), json::array({tensor_arg(0), tensor_arg(1)}), 2);
  expect_values(run_op(*le, {Tensor({3}, {1, 2, 3}), Tensor({3}, {2, 2, 2})})[0], {3}, {1, 1, 0});
  auto gt = make_node("Greater", json::object(), json::array({tensor_arg(0), 0.0}));
  expect_values(run_op(*gt, {Tensor({3}, {-1, 0, 2})})[0], {3}, {0, 0, 1});
  auto land = make_node("LogicalAnd", json::object(), json::array({tensor_arg(0), tensor_arg(1)}), 2);
  expect_values(run_op(*land, {Tensor({3}, {0, 2, 1}), Tensor({3}, {1, 0, -1})})[0], {3}, {0, 0, 1});
}

TEST(OpNodes, WhereSelectsWithBroadcasting) {
  auto op = make_node("Where", json::object(), json::array({tensor_arg(0), tensor_arg(1), 0.0}), 2);
  auto out = run_op(*op, {Tensor({2, 1}, {1, 0}), Tensor({2, 3}, {1, 2, 3, 4, 5, 6})})[0];
  expect_values(out, {2, 3}, {1, 2, 3, 0, 0, 0});
  EXPECT_THROW(make_node("Where", json::object(), json::array({tensor_arg(0)})), Error);
}

TEST(OpNodes, ClipKeepsNaN) {
  auto op = make_unary("Clip", {{"x_min", -0.5}, {"x_max", 0.8}});
  expect_values(run_op(*op, {Tensor({4}, {-2, 0.1f, 3, NAN})})[0], {4}, {-0.5f, 0.1f, 0.8f, NAN});
}

TEST(OpNodes, RoundIsHalfToEven) {
  auto op = make_unary("Round", {{"decimals", 0}});
  expect_values(run_op(*op, {Tensor({6}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.6f})})[0], {6}, {0, 2, 2, -0.f, -2, 3});
  auto one = make_unary("Round", {{"decimals", 1}});
  expect_values(run_op(*one, {Tensor({2}, {1.25f, 1.75f})})[0], {2}, {1.2f, 1.8f});
  auto tens = make_unary("Round", {{"decimals", -1}});
  expect_values(run_op(*tens, {Tensor({3}, {25, 35, 14})})[0], {3}, {20, 40, 10});
}

TEST(OpNodes, CastTruncatesTowardZeroAndWraps) {
  auto i32 = make_unary("Cast", {{"dtype", "int32"}});
  expect_values(run_op(*i32, {Tensor({4}, {-1.7f, 1.7f, -0.2f, 3})})[0], {4}, {-1, 1, 0, 3});
  auto u8 = make_unary("Cast", {{"dtype", "uint8"}});
  expect_values(run_op(*u8, {Tensor({3}, {300.7f, -1.5f, 255})})[0], {3}, {44, 255, 255});
  auto b = make_unary("Cast", {{"dtype", "bool"}});
  expect_values(run_op(*b, {Tensor({4}, {0, -0.f, 0.3f, NAN})})[0], {4}, {0, 0, 1, 1});
  auto f32 = make_unary("Cast", {{"dtype", "float32"}});
  expect_values(run_op(*f32, {Tensor({2}, {0.1f, -7})})[0], {2}, {0.1f, -7});
  EXPECT_THROW(make_unary("Cast", {{"dtype", "complex64"}}), Error);
}

TEST(OpNodes, CastToHalfPrecisionRoundsToNearestEven) {
  auto f16 = make_unary("Cast", {{"dtype", "float16"}});
  float ulp = std::ldexp(1.f, -10);  // float16 spacing just above 1
  auto out = run_op(*f16, {Tensor({5}, {1 + ulp, 1 + ulp / 2, 1 + 1.5f * ulp, 70000.f, std::ldexp(1.f, -25) * 3})})[0];
  expect_values(out, {5}, {1 + ulp, 1, 1 + 2 * ulp, INFINITY, std::ldexp(1.f, -24)});
  auto bf16 = make_unary("Cast", {{"dtype", "bfloat16"}});
  float bulp = std::ldexp(1.f, -7);
  expect_values(run_op(*bf16, {Tensor({2}, {1 + bulp / 2, 1 + 1.5f * bulp})})[0], {2}, {1, 1 + 2 * bulp});
}

TEST(OpNodes, UnaryMathByHand) {
  struct Case {
    const char* cls;
    float in, want;
  };
  for (const Case& c :
       {Case{"Absolute", -2, 2}, Case{"Negative", 2, -2}, Case{"Square", -3, 9}, Case{"Sqrt", 6.25f, 2.5f},
        Case{"Exp", 0, 1}, Case{"Log", 1, 0}, Case{"Tanh", 0, 0}, Case{"Sign", -3, -1}, Case{"Sign", 0, 0},
        Case{"Floor", -1.5f, -2}, Case{"Ceil", -1.5f, -1}, Case{"Reciprocal", 4, 0.25f}, Case{"LogicalNot", 0, 1}}) {
    auto op = make_unary(c.cls);
    auto out = run_op(*op, {Tensor({1}, {c.in})})[0];
    EXPECT_FLOAT_EQ(out.floats()[0], c.want) << c.cls;
  }
}

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

// ---- reductions -------------------------------------------------------------------------------

TEST(OpNodes, MeanAndMaxOverSeveralAxes) {
  Tensor x = iota_tensor({2, 2, 3, 2}, -5.f, 0.5f);
  auto mean = make_unary("Mean", {{"axis", {1, 2}}, {"keepdims", false}});
  auto mx = make_unary("Max", {{"axis", {1, 2}}, {"keepdims", true}, {"initial", nullptr}});
  auto m = run_op(*mean, {x})[0];
  auto M = run_op(*mx, {x})[0];
  ASSERT_EQ(m.shape, (Shape{2, 2}));
  ASSERT_EQ(M.shape, (Shape{2, 1, 1, 2}));
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 2; ++c) {
      double s = 0;
      float best = -INFINITY;
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) {
          float v = x.floats()[((b * 2 + i) * 3 + j) * 2 + c];
          s += v;
          best = std::max(best, v);
        }
      EXPECT_FLOAT_EQ(m.floats()[b * 2 + c], static_cast<float>(s / 6));
      EXPECT_FLOAT_EQ(M.floats()[b * 2 + c], best);
    }
  EXPECT_EQ(mean->output_shapes(std::vector<Shape>{{-1, 4, 5, 4}})[0], (Shape{-1, 4}));
}

TEST(OpNodes, ReductionsByHand) {
  Tensor x({2, 4}, {1, 2, 3, 4, -1, 0, 0, 5});
  auto run1 = [&](const char* cls, json cfg) { return run_op(*make_unary(cls, cfg), {x})[0]; };
  expect_values(run1("Sum", {{"axis", -1}, {"keepdims", true}}), {2, 1}, {10, 4});
  expect_values(run1("Min", {{"axis", 1}, {"keepdims", false}, {"initial", nullptr}}), {2}, {1, -1});
  expect_values(run1("Max", {{"axis", 1}, {"initial", 3.0}}), {2}, {4, 5});
  expect_values(run1("Prod", {{"axis", 1}}), {2}, {24, 0});
  // Population statistics: row 0 has mean 2.5, variance (2.25+0.25+0.25+2.25)/4 = 1.25; row 1 mean 1,
  // variance (4+1+1+16)/4 = 5.5.
  expect_values(run1("Var", {{"axis", -1}}), {2}, {1.25f, 5.5f});
  expect_values(run1("Std", {{"axis", -1}, {"keepdims", true}}), {2, 1}, {std::sqrt(1.25f), std::sqrt(5.5f)});
  expect_values(run1("Any", {{"axis", 0}}), {4}, {1, 1, 1, 1});
  expect_values(run1("All", {{"axis", -1}}), {2}, {1, 0});
  expect_values(run1("Mean", json::object()), {}, {1.75f});
  expect_values(run1("Mean", {{"axis", nullptr}, {"keepdims", true}}), {1, 1}, {1.75f});
  expect_values(run1("Argmax", {{"axis", 1}}), {2}, {3, 3});
  expect_values(run1("Argmin", {{"axis", nullptr}}), {}, {4});
  expect_values(run1("Sum", {{"axis", json::array()}}), {2, 4}, x.to_floats());
}

TEST(OpNodes, ArgmaxTakesFirstOfTiesAndNaN) {
  auto op = make_unary("Argmax", {{"axis", -1}});
  expect_values(run_op(*op, {Tensor({2, 3}, {2, 5, 5, 1, NAN, 7})})[0], {2}, {1, 1});
}

TEST(OpNodes, AnyOverLastAxisIsTheMaskOfMasking) {
  auto op = make_unary("Any", {{"axis", -1}, {"keepdims", false}});
  expect_values(run_op(*op, {Tensor({1, 3, 2}, {0, 0, 0, 1, 1, 0})})[0], {1, 3}, {0, 1, 1});
}

TEST(OpNodes, ReductionErrors) {
  EXPECT_THROW(make_unary("Sum", {{"axis", 2}})->output_shapes(std::vector<Shape>{{2, 2}}), Error);
  EXPECT_THROW(make_unary("Sum", {{"axis", {1, 1}}})->output_shapes(std::vector<Shape>{{2, 2}}), Error);
  EXPECT_THROW(make_unary("Max", {{"axis", 1}})->output_shapes(std::vector<Shape>{{2, 0}}), Error);
  EXPECT_THROW(make_unary("Argmax", {{"axis", {0, 1}}}), Error);
}

// ---- shape ops --------------------------------------------------------------------------------

TEST(OpNodes, ReshapeInfersMinusOneWithUnknownBatch) {
  auto op = make_unary("Reshape", {{"newshape", {-1, 6, 2}}});
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 3, 4}})[0], (Shape{-1, 6, 2}));
  Tensor x = iota_tensor({2, 3, 4});
  auto out = run_op(*op, {x})[0];
  EXPECT_EQ(out.shape, (Shape{2, 6, 2}));
  EXPECT_EQ(out.to_floats(), x.to_floats());
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{2, 5}}), Error);
}

TEST(OpNodes, ExpandDimsAndSqueeze) {
  EXPECT_EQ(make_unary("ExpandDims", {{"axis", -1}})->output_shapes(std::vector<Shape>{{-1, 3}})[0], (Shape{-1, 3, 1}));
  EXPECT_EQ(make_unary("ExpandDims", {{"axis", {0, 2}}})->output_shapes(std::vector<Shape>{{4, 3}})[0],
            (Shape{1, 4, 1, 3}));
  auto sq = make_unary("Squeeze", {{"axis", 1}});
  EXPECT_EQ(sq->output_shapes(std::vector<Shape>{{-1, 1, 5}})[0], (Shape{-1, 5}));
  EXPECT_THROW(sq->output_shapes(std::vector<Shape>{{2, 3, 5}}), Error);
  auto all = make_unary("Squeeze", {{"axis", nullptr}});
  EXPECT_EQ(all->output_shapes(std::vector<Shape>{{1, 3, 1}})[0], (Shape{3}));
  auto out = run_op(*sq, {Tensor({2, 1, 2}, {1, 2, 3, 4})})[0];
  expect_values(out, {2, 2}, {1, 2, 3, 4});
}

TEST(OpNodes, TransposeSwapaxesMoveaxis) {
  Tensor x = iota_tensor({2, 3, 4});
  auto check = [&](const Tensor& out, std::array<int, 3> perm) {
    ASSERT_EQ(out.shape, (Shape{x.shape[perm[0]], x.shape[perm[1]], x.shape[perm[2]]}));
    std::array<int64_t, 3> i{};
    int64_t o = 0;
    for (i[0] = 0; i[0] < out.shape[0]; ++i[0])
      for (i[1] = 0; i[1] < out.shape[1]; ++i[1])
        for (i[2] = 0; i[2] < out.shape[2]; ++i[2]) {
          std::array<int64_t, 3> src{};
          for (int a = 0; a < 3; ++a) src[perm[a]] = i[a];
          EXPECT_EQ(out.floats()[o++], x.floats()[(src[0] * 3 + src[1]) * 4 + src[2]]);
        }
  };
  check(run_op(*make_unary("Transpose", {{"axes", {0, 2, 1}}}), {x})[0], {0, 2, 1});
  check(run_op(*make_unary("Transpose", {{"axes", nullptr}}), {x})[0], {2, 1, 0});
  check(run_op(*make_unary("Swapaxes", {{"axis1", 0}, {"axis2", -1}}), {x})[0], {2, 1, 0});
  check(run_op(*make_unary("Moveaxis", {{"source", 0}, {"destination", -1}}), {x})[0], {1, 2, 0});
  EXPECT_THROW(make_unary("Transpose", {{"axes", {0, 0, 1}}})->output_shapes(std::vector<Shape>{{2, 3, 4}}), Error);
}

TEST(OpNodes, ConcatenateAndStack) {
  Tensor a({2, 2}, {1, 2, 3, 4}), b({2, 1}, {9, 8});
  auto cat = make_node("Concatenate", {{"axis", -1}}, json::array({json::array({tensor_arg(0), tensor_arg(1)})}), 2);
  expect_values(run_op(*cat, {a, b})[0], {2, 3}, {1, 2, 9, 3, 4, 8});
  EXPECT_EQ(cat->output_shapes(std::vector<Shape>{{-1, 2}, {-1, 1}})[0], (Shape{-1, 3}));
  EXPECT_THROW(cat->output_shapes(std::vector<Shape>{{2, 2}, {3, 1}}), Error);
  auto stack = make_node("Stack", {{"axis", 1}}, json::array({json::array({tensor_arg(0), tensor_arg(1)})}), 2);
  Tensor c({2, 2}, {5, 6, 7, 8});
  expect_values(run_op(*stack, {a, c})[0], {2, 2, 2}, {1, 2, 5, 6, 3, 4, 7, 8});
}

// ---- indexing ---------------------------------------------------------------------------------

// x[key] on a (2, 5, 3) tensor, against an index formula per output element.
TEST(OpNodes, GetItemSlicesLikePython) {
  Tensor x = iota_tensor({2, 5, 3});
  auto at = [&](int64_t b, int64_t t, int64_t c) { return x.floats()[(b * 5 + t) * 3 + c]; };
  auto get = [&](json key) {
    return run_op(*make_node("GetItem", json::object(), json::array({tensor_arg(0), key})), {x})[0];
  };

  auto s1 = get(json::array({kAll, slice(1, 3, nullptr)}));  // x[:, 1:3]
  ASSERT_EQ(s1.shape, (Shape{2, 2, 3}));
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 2; ++t)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(s1.floats()[(b * 2 + t) * 3 + c], at(b, t + 1, c));

  auto s2 = get(json::array({kEllipsis, 0}));  // x[..., 0]
  ASSERT_EQ(s2.shape, (Shape{2, 5}));
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 5; ++t) EXPECT_EQ(s2.floats()[b * 5 + t], at(b, t, 0));

  auto s3 = get(json::array({kAll, slice(-3, nullptr, nullptr)}));  // x[:, -3:]
  ASSERT_EQ(s3.shape, (Shape{2, 3, 3}));
  EXPECT_EQ(s3.floats()[0], at(0, 2, 0));

  auto s4 = get(json::array({kAll, slice(nullptr, nullptr, 2), slice(1, -1, nullptr)}));  // x[:, ::2, 1:-1]
  ASSERT_EQ(s4.shape, (Shape{2, 3, 1}));
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t) EXPECT_EQ(s4.floats()[b * 3 + t], at(b, 2 * t, 1));

  auto s5 = get(json::array({kAll, slice(nullptr, nullptr, -2), -1}));  // x[:, ::-2, -1] -> t = 4, 2, 0
  ASSERT_EQ(s5.shape, (Shape{2, 3}));
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t) EXPECT_EQ(s5.floats()[b * 3 + t], at(b, 4 - 2 * t, 2));

  auto s6 = get(json::array({kAll, slice(3, 0, -1)}));  // x[:, 3:0:-1] -> t = 3, 2, 1
  ASSERT_EQ(s6.shape, (Shape{2, 3, 3}));
  EXPECT_EQ(s6.floats()[3], at(0, 2, 0));

  auto s7 = get(json::array({1, nullptr, slice(1, 7, 3)}));  // x[1, None, 1:7:3] -> t = 1, 4
  ASSERT_EQ(s7.shape, (Shape{1, 2, 3}));
  for (int t = 0; t < 2; ++t)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(s7.floats()[t * 3 + c], at(1, 1 + 3 * t, c));

  auto s8 = get(0);  // x[0]
  ASSERT_EQ(s8.shape, (Shape{5, 3}));
  EXPECT_EQ(s8.floats()[14], at(0, 4, 2));

  auto s9 = get(json::array({kAll, slice(7, 9, nullptr)}));  // empty
  EXPECT_EQ(s9.shape, (Shape{2, 0, 3}));
}

TEST(OpNodes, GetItemShapesAndErrors) {
  auto node = [](json key) { return make_node("GetItem", json::object(), json::array({tensor_arg(0), key})); };
  EXPECT_EQ(node(json::array({kAll, slice(1, 3, nullptr)}))->output_shapes(std::vector<Shape>{{-1, 6, 4}})[0],
            (Shape{-1, 2, 4}));
  EXPECT_EQ(node(json::array({slice(1, 3, nullptr)}))->output_shapes(std::vector<Shape>{{-1, 6}})[0], (Shape{-1, 6}));
  EXPECT_THROW(node(json::array({kAll, 6}))->output_shapes(std::vector<Shape>{{-1, 6}}), Error);
  EXPECT_THROW(node(json::array({0, 0, 0}))->output_shapes(std::vector<Shape>{{2, 6}}), Error);
  EXPECT_THROW(node(json::array({kEllipsis, kEllipsis})), Error);
  EXPECT_THROW(node(json::array({slice(0, 2, 0)})), Error);
  EXPECT_THROW(node(json::array({1.5})), Error);
  EXPECT_THROW(make_node("GetItem", json::object(), json::array({tensor_arg(0), tensor_arg(1)}), 2), Error);
}

// ---- matmul and einsum ------------------------------------------------------------------------

TEST(OpNodes, MatmulBatchesAndBroadcasts) {
  auto op = make_node("Matmul", json::object(), json::array({tensor_arg(0), tensor_arg(1)}), 2);
  Tensor a = iota_tensor({2, 2, 3}, -2.f), b = iota_tensor({3, 4}, 1.f, 0.5f);
  auto out = run_op(*op, {a, b})[0];
  ASSERT_EQ(out.shape, (Shape{2, 2, 4}));
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 4; ++j) {
        float s = 0;
        for (int k = 0; k < 3; ++k) s += a.floats()[(n * 2 + i) * 3 + k] * b.floats()[k * 4 + j];
        EXPECT_FLOAT_EQ(out.floats()[(n * 2 + i) * 4 + j], s);
      }
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{3}, {-1, 3, 5}})[0], (Shape{-1, 5}));
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 2, 3}, {3}})[0], (Shape{-1, 2}));
  EXPECT_THROW(op->output_shapes(std::vector<Shape>{{2, 3}, {4, 2}}), Error);
  auto dot = run_op(*op, {Tensor({3}, {1, 2, 3}), Tensor({3}, {4, 5, 6})})[0];
  expect_values(dot, {}, {32});
}

TEST(OpNodes, EinsumMatchesNaiveSums) {
  Tensor a = iota_tensor({2, 3, 4}, -1.f, 0.25f), b = iota_tensor({2, 4, 5}, 2.f, -0.5f);
  auto bmm = make_node("Einsum", {{"subscripts", "bij,bjk->bik"}}, json::array({tensor_arg(0), tensor_arg(1)}), 2);
  auto out = run_op(*bmm, {a, b})[0];
  ASSERT_EQ(out.shape, (Shape{2, 3, 5}));
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) {
        float s = 0;
        for (int j = 0; j < 4; ++j) s += a.floats()[(n * 3 + i) * 4 + j] * b.floats()[(n * 4 + j) * 5 + k];
        EXPECT_NEAR(out.floats()[(n * 3 + i) * 5 + k], s, 1e-5);
      }
  auto colsum = make_node("Einsum", {{"subscripts", "bij->bj"}}, json::array({tensor_arg(0)}));
  auto cs = run_op(*colsum, {a})[0];
  ASSERT_EQ(cs.shape, (Shape{2, 4}));
  EXPECT_FLOAT_EQ(cs.floats()[1], a.floats()[1] + a.floats()[5] + a.floats()[9]);
  auto rowdot = make_node("Einsum", {{"subscripts", "bij,bij->bi"}}, json::array({tensor_arg(0), tensor_arg(1)}), 2);
  auto rd = run_op(*rowdot, {a, a})[0];
  ASSERT_EQ(rd.shape, (Shape{2, 3}));
  float s = 0;
  for (int j = 0; j < 4; ++j) s += a.floats()[4 + j] * a.floats()[4 + j];
  EXPECT_FLOAT_EQ(rd.floats()[1], s);
}

TEST(OpNodes, EinsumImplicitTraceAndEllipsis) {
  Tensor m({2, 2}, {1, 2, 3, 4});
  auto trace = make_node("Einsum", {{"subscripts", "ii"}}, json::array({tensor_arg(0)}));
  expect_values(run_op(*trace, {m})[0], {}, {5});
  auto diag = make_node("Einsum", {{"subscripts", "ii->i"}}, json::array({tensor_arg(0)}));
  expect_values(run_op(*diag, {m})[0], {2}, {1, 4});
  // Implicit output "ji" sorts to "ij": a transpose written as "ji".
  auto tr = make_node("Einsum", {{"subscripts", "ji"}}, json::array({tensor_arg(0)}));
  expect_values(run_op(*tr, {m})[0], {2, 2}, {1, 3, 2, 4});
  auto ell = make_node("Einsum", {{"subscripts", "...ij->...ji"}}, json::array({tensor_arg(0)}));
  Tensor x = iota_tensor({2, 2, 3});
  expect_values(run_op(*ell, {x})[0], {2, 3, 2}, {0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11});
  auto outer = make_node("Einsum", {{"subscripts", "i,j"}}, json::array({tensor_arg(0), tensor_arg(1)}), 2);
  expect_values(run_op(*outer, {Tensor({2}, {1, 2}), Tensor({2}, {3, 4})})[0], {2, 2}, {3, 4, 6, 8});
  EXPECT_EQ(ell->output_shapes(std::vector<Shape>{{-1, 4, 5}})[0], (Shape{-1, 5, 4}));
}

TEST(OpNodes, EinsumErrors) {
  auto two = json::array({tensor_arg(0), tensor_arg(1)});
  EXPECT_THROW(make_node("Einsum", {{"subscripts", "ij->i"}}, two, 2), Error);  // one term, two operands
  EXPECT_THROW(make_node("Einsum", {{"subscripts", "i$->i"}}, json::array({tensor_arg(0)})), Error);
  auto mm = make_node("Einsum", {{"subscripts", "ij,jk->ik"}}, two, 2);
  EXPECT_THROW(mm->output_shapes(std::vector<Shape>{{2, 3}, {4, 5}}), Error);
  EXPECT_THROW(mm->output_shapes(std::vector<Shape>{{2, 3, 1}, {3, 5}}), Error);
  auto bad_out = make_node("Einsum", {{"subscripts", "ij->k"}}, json::array({tensor_arg(0)}));
  EXPECT_THROW(bad_out->output_shapes(std::vector<Shape>{{2, 3}}), Error);
}

// ---- binding ----------------------------------------------------------------------------------

TEST(OpNodes, BindingChecksTheCall) {
  // A tensor keyword the op does not take.
  EXPECT_THROW(
      make_node("Relu", json::object(), json::array({tensor_arg(0)}), 2, {{"mask", tensor_arg(1)}}, {"", "mask"}),
      Error);
  // A missing operand.
  EXPECT_THROW(make_node("Add", json::object(), json::array({tensor_arg(0)})), Error);
  // Keyword operands are accepted by name.
  auto kw = make_node("Subtract", json::object(), json::array({tensor_arg(0)}), 2, {{"x2", tensor_arg(1)}}, {"", "x2"});
  expect_values(run_op(*kw, {Tensor({1}, {5}), Tensor({1}, {2})})[0], {1}, {3});
}

TEST(OpNodes, OpKeysDoNotShadowLayerClasses) {
  // Without the ops module the entry is the Add merge layer, which takes a list of tensors.
  json layer = {{"class_name", "Add"}, {"config", {{"name", "add"}, {"trainable", true}}}};
  auto merge = make_op(layer, {}, positional_call(2));
  expect_values(run_op(*merge, {Tensor({1, 2}, {1, 2}), Tensor({1, 2}, {3, 4})})[0], {1, 2}, {4, 6});
  auto node = make_node("Add", json::object(), json::array({tensor_arg(0), 1.0}));
  expect_values(run_op(*node, {Tensor({1, 2}, {1, 2})})[0], {1, 2}, {2, 3});
}

TEST(OpNodes, LegacyEntryWithoutModuleIsAnOpNodeByItsConfig) {
  // Keras 3's legacy .h5 keeps no "module"; the op's config has a name and no layer keys.
  json entry = {{"class_name", "Reshape"}, {"config", {{"name", "reshape"}, {"newshape", {-1, 4}}}}};
  Call call = positional_call(1);
  call.args = json::array({tensor_arg(0)});
  auto op = make_op(entry, {}, call);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 2, 2}})[0], (Shape{-1, 4}));
  json layer = {{"class_name", "Reshape"},
                {"config", {{"name", "reshape"}, {"trainable", true}, {"dtype", "float32"}, {"target_shape", {4}}}}};
  EXPECT_EQ(make_op(layer)->output_shapes(std::vector<Shape>{{-1, 2, 2}})[0], (Shape{-1, 4}));
}

// ---- Masking ----------------------------------------------------------------------------------

TEST(Masking, ZeroesTimestepsThatEqualTheMaskValue) {
  auto op = make_op({{"class_name", "Masking"}, {"config", {{"name", "masking"}, {"mask_value", 0.5}}}});
  Tensor x({1, 3, 2}, {0.5f, 0.5f, 0.5f, 1, 2, 0.5f});
  expect_values(run_op(*op, {x})[0], {1, 3, 2}, {0, 0, 0.5f, 1, 2, 0.5f});
  auto zero = make_op({{"class_name", "Masking"}, {"config", {{"name", "masking"}}}});
  expect_values(run_op(*zero, {Tensor({2, 2}, {0, 0, 0, -1})})[0], {2, 2}, {0, 0, 0, -1});
  EXPECT_THROW(make_op({{"class_name", "Masking"}, {"config", {{"mask_value", "x"}}}}), Error);
}

}  // namespace
}  // namespace kerasrt::testing
