// tf.keras op layers (format/keras/tf_op_layers.cpp): TFOpLambda, SlicingOpLambda and
// TensorFlowOpLayer in hand-written tf.keras configs, laid out as tf.keras 2.x saves them, against
// values computed by hand from TensorFlow's documented semantics.
#include <cmath>

#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

json input_layer(const std::string& name, json batch_shape, const std::string& dtype = "float32") {
  return {{"class_name", "InputLayer"},
          {"name", name},
          {"config", {{"batch_input_shape", batch_shape}, {"dtype", dtype}, {"name", name}, {"sparse", false}}},
          {"inbound_nodes", json::array()}};
}

// A TFOpLambda entry: `node` is its one inbound node as tf.keras writes it (the first argument's
// structure of [layer, node, tensor, kwargs] entries).
json tf_op(const std::string& name, const std::string& function, json node,
           const std::string& cls = "TFOpLambda") {
  return {{"class_name", cls},
          {"name", name},
          {"config", {{"name", name}, {"trainable", true}, {"dtype", "float32"}, {"function", function}}},
          {"inbound_nodes", json::array({node})}};
}

json node_entry(const std::string& layer, json kwargs = json::object()) { return json::array({layer, 0, 0, kwargs}); }
json tensor(const std::string& layer) { return json::array({layer, 0, 0}); }

json functional(std::vector<json> layers, std::vector<std::string> inputs, std::vector<std::string> outputs) {
  json in = json::array(), out = json::array();
  for (auto& i : inputs) in.push_back(tensor(i));
  for (auto& o : outputs) out.push_back(tensor(o));
  return {{"class_name", "Functional"},
          {"config", {{"name", "tfk"}, {"layers", layers}, {"input_layers", in}, {"output_layers", out}}},
          {"keras_version", "2.13.1"},
          {"backend", "tensorflow"}};
}

Model load(const json& model) { return Model::load_json(model.dump(), {}, "tfk.json"); }

std::vector<Tensor> run(const json& model, std::vector<Tensor> inputs) { return load(model).predict(inputs); }

void expect_floats(const Tensor& got, const Shape& shape, const std::vector<float>& want) {
  ASSERT_EQ(got.shape, shape);
  std::vector<float> g = got.to_floats();
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << "at " << i;
}

std::string load_error(const json& model) {
  try {
    load(model);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const Tensor kX({2, 3}, {1, -2, 3, -4, 5, -6});

// The residual add and mean of a tf.keras transformer head: x + y with y as a kwarg tensor, then
// reduce_mean over axis 1.
TEST(TfOpLayers, OperatorAddWithKwargTensorAndReduceMean) {
  json m = functional({input_layer("x", {nullptr, 3}), input_layer("y", {nullptr, 3}),
                       tf_op("tf.__operators__.add", "__operators__.add", node_entry("x", {{"y", tensor("y")}, {"name", nullptr}})),
                       tf_op("tf.math.reduce_mean", "math.reduce_mean", node_entry("tf.__operators__.add", {{"axis", 1}}))},
                      {"x", "y"}, {"tf.math.reduce_mean"});
  Tensor y({2, 3}, {0.5f, 0.5f, 0.5f, 1, 2, 3});
  // rows: (1.5 - 1.5 + 3.5) / 3, (-3 + 7 - 3) / 3
  expect_floats(run(m, {kX, y})[0], {2}, {3.5f / 3, 1.f / 3});
}

// 2.0 - x: the first argument was no tensor, so tf.keras stores it as a _CONSTANT_VALUE entry.
TEST(TfOpLayers, ConstantFirstArgument) {
  json m = functional({input_layer("x", {nullptr, 3}),
                       tf_op("tf.math.subtract", "math.subtract",
                             json::array({"_CONSTANT_VALUE", -1, 2.0, {{"y", tensor("x")}, {"name", nullptr}}}))},
                      {"x"}, {"tf.math.subtract"});
  expect_floats(run(m, {kX})[0], {2, 3}, {1, 4, -1, 6, -3, 8});
}

// tf.concat([x, y], axis=-1): a list as the first argument; every entry repeats the kwargs.
TEST(TfOpLayers, ConcatOfAList) {
  json kw = {{"axis", -1}, {"name", nullptr}};
  json m = functional({input_layer("x", {nullptr, 3}), input_layer("y", {nullptr, 1}),
                       tf_op("tf.concat", "concat", json::array({node_entry("x", kw), node_entry("y", kw)}))},
                      {"x", "y"}, {"tf.concat"});
  expect_floats(run(m, {kX, Tensor({2, 1}, {7, 8})})[0], {2, 4}, {1, -2, 3, 7, -4, 5, -6, 8});
}

// x[:, -1, :], x[..., ::-2] and x[:, None, 1] as SlicingOpLambda stores them.
TEST(TfOpLayers, SlicingOpLambdaGetItem) {
  json all = {{"start", nullptr}, {"stop", nullptr}, {"step", nullptr}};
  json ellipsis = {{"class_name", "__ellipsis__"}};
  json m = functional(
      {input_layer("x", {nullptr, 2, 3}),
       tf_op("last", "__operators__.getitem", node_entry("x", {{"slice_spec", json::array({all, -1, all})}}), "SlicingOpLambda"),
       tf_op("rev", "__operators__.getitem",
             node_entry("x", {{"slice_spec", json::array({ellipsis, {{"start", nullptr}, {"stop", nullptr}, {"step", -2}}})}}),
             "SlicingOpLambda"),
       tf_op("newaxis", "__operators__.getitem", node_entry("x", {{"slice_spec", json::array({all, nullptr, 1})}}),
             "SlicingOpLambda")},
      {"x"}, {"last", "rev", "newaxis"});
  Tensor x({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  auto out = run(m, {x});
  expect_floats(out[0], {1, 3}, {4, 5, 6});
  expect_floats(out[1], {1, 2, 2}, {3, 1, 6, 4});
  expect_floats(out[2], {1, 1, 3}, {4, 5, 6});
}

// Keras applications' preprocess_input in front of a transfer-learning model, as tf.keras saves it:
// RGB -> BGR by x[..., ::-1], then nn.bias_add with the negated ImageNet means.
TEST(TfOpLayers, PreprocessInputCaffeStyle) {
  json rev = {{"start", nullptr}, {"stop", nullptr}, {"step", -1}};
  json ellipsis = {{"class_name", "__ellipsis__"}};
  json m = functional(
      {input_layer("x", {nullptr, 1, 2, 3}),
       tf_op("tf.__operators__.getitem", "__operators__.getitem", node_entry("x", {{"slice_spec", json::array({ellipsis, rev})}}),
             "SlicingOpLambda"),
       tf_op("tf.nn.bias_add", "nn.bias_add",
             node_entry("tf.__operators__.getitem",
                 {{"bias", {-103.939, -116.779, -123.68}}, {"data_format", nullptr}, {"name", nullptr}}))},
      {"x"}, {"tf.nn.bias_add"});
  Tensor x({1, 1, 2, 3}, {10, 20, 30, 200, 100, 0});
  expect_floats(run(m, {x})[0], {1, 1, 2, 3},
                {30 - 103.939f, 20 - 116.779f, 10 - 123.68f, 0 - 103.939f, 100 - 116.779f, 200 - 123.68f});
}

TEST(TfOpLayers, BiasAddChannelsFirst) {
  json m = functional({input_layer("x", {nullptr, 2, 2}),
                       tf_op("b", "nn.bias_add", node_entry("x", {{"bias", {10, 20}}, {"data_format", "NCHW"}}))},
                      {"x"}, {"b"});
  expect_floats(run(m, {Tensor({1, 2, 2}, {1, 2, 3, 4})})[0], {1, 2, 2}, {11, 12, 23, 24});
}

// Shapes: reshape with -1, transpose with perm, expand_dims, squeeze, matmul(transpose_b).
TEST(TfOpLayers, ShapeFunctionsAndMatmul) {
  json m = functional(
      {input_layer("x", {nullptr, 2, 3}),
       tf_op("r", "reshape", node_entry("x", {{"shape", {-1, 3, 2}}})),
       tf_op("t", "transpose", node_entry("x", {{"perm", {0, 2, 1}}, {"conjugate", false}})),
       tf_op("e", "expand_dims", node_entry("x", {{"axis", 1}})),
       tf_op("s", "squeeze", node_entry("e", {{"axis", 1}})),
       tf_op("mm", "linalg.matmul", node_entry("x", {{"b", tensor("x")}, {"transpose_b", true}}))},
      {"x"}, {"r", "t", "s", "mm"});
  Tensor x({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  auto out = run(m, {x});
  expect_floats(out[0], {1, 3, 2}, {1, 2, 3, 4, 5, 6});
  expect_floats(out[1], {1, 3, 2}, {1, 4, 2, 5, 3, 6});
  expect_floats(out[2], {1, 2, 3}, {1, 2, 3, 4, 5, 6});
  // x x^T = [[14, 32], [32, 77]]
  expect_floats(out[3], {1, 2, 2}, {14, 32, 32, 77});
}

// tf.clip_by_value takes the minimum first: with min > max every value becomes min (Keras 3's clip
// gives max there).
TEST(TfOpLayers, ClipByValueOrder) {
  json m = functional(
      {input_layer("x", {nullptr, 3}),
       tf_op("c", "clip_by_value", node_entry("x", {{"clip_value_min", -1.0}, {"clip_value_max", 2.0}})),
       tf_op("inv", "clip_by_value", node_entry("x", {{"clip_value_min", 1.0}, {"clip_value_max", 0.0}}))},
      {"x"}, {"c", "inv"});
  auto out = run(m, {kX});
  expect_floats(out[0], {2, 3}, {1, -1, 2, -1, 2, -1});
  expect_floats(out[1], {2, 3}, {1, 1, 1, 1, 1, 1});
}

// Activations with TensorFlow's defaults and parameters.
TEST(TfOpLayers, ActivationsWithTensorFlowDefaults) {
  json m = functional(
      {input_layer("x", {nullptr, 3}),
       tf_op("lr", "nn.leaky_relu", node_entry("x", {{"alpha", 0.1}})),
       tf_op("gelu", "nn.gelu", node_entry("x")),  // approximate=False by default in tf.nn.gelu
       tf_op("silu", "nn.silu", node_entry("x", {{"beta", 2.0}})),
       tf_op("sm", "nn.softmax", node_entry("x", {{"axis", 0}})),
       tf_op("relu", "nn.relu", node_entry("x"))},
      {"x"}, {"lr", "gelu", "silu", "sm", "relu"});
  auto out = run(m, {kX});
  std::vector<float> lr, gelu, silu, sm, relu;
  const std::vector<float> x = kX.to_floats();
  for (float v : x) {
    lr.push_back(v < 0 ? 0.1f * v : v);
    gelu.push_back(static_cast<float>(0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))));
    silu.push_back(static_cast<float>(v / (1 + std::exp(-2.0 * v))));
    relu.push_back(v < 0 ? 0.f : v);
  }
  for (int i = 0; i < 6; ++i) {
    int j = i < 3 ? i + 3 : i - 3;  // softmax over axis 0: pairs (i, i+3)
    sm.push_back(static_cast<float>(std::exp(x[i]) / (std::exp(x[i]) + std::exp(x[j]))));
  }
  expect_floats(out[0], {2, 3}, lr);
  expect_floats(out[1], {2, 3}, gelu);
  expect_floats(out[2], {2, 3}, silu);
  expect_floats(out[3], {2, 3}, sm);
  expect_floats(out[4], {2, 3}, relu);
}

// argmax's axis defaults to 0 and its result to int64; l2_normalize; squared_difference; add_n.
TEST(TfOpLayers, ReductionsAndComposites) {
  json m = functional(
      {input_layer("x", {nullptr, 3}),
       tf_op("am", "math.argmax", node_entry("x", {{"axis", 1}})),
       tf_op("am0", "math.argmax", node_entry("x")),
       tf_op("l2", "math.l2_normalize", node_entry("x", {{"axis", -1}})),
       tf_op("sd", "math.squared_difference", node_entry("x", {{"y", 1.0}})),
       tf_op("an", "math.add_n", json::array({node_entry("x"), node_entry("x"), node_entry("sd")})),
       tf_op("sum", "math.reduce_sum", node_entry("x", {{"axis", -1}, {"keepdims", true}}))},
      {"x"}, {"am", "am0", "l2", "sd", "an", "sum"});
  auto out = run(m, {kX});
  EXPECT_EQ(out[0].dtype, DType::kInt64);
  expect_floats(out[0], {2}, {2, 1});
  expect_floats(out[1], {3}, {0, 1, 0});
  const float n0 = std::sqrt(14.f), n1 = std::sqrt(77.f);
  expect_floats(out[2], {2, 3}, {1 / n0, -2 / n0, 3 / n0, -4 / n1, 5 / n1, -6 / n1});
  expect_floats(out[3], {2, 3}, {0, 9, 4, 25, 16, 49});
  expect_floats(out[4], {2, 3}, {2, 5, 10, 17, 26, 37});
  expect_floats(out[5], {2, 1}, {2, -5});
}

TEST(TfOpLayers, CastWhereAndComparisons) {
  json m = functional(
      {input_layer("x", {nullptr, 3}),
       tf_op("gt", "math.greater", node_entry("x", {{"y", 0}})),
       tf_op("w", "where", node_entry("gt", {{"x", tensor("x")}, {"y", 0.5}})),
       tf_op("i", "cast", node_entry("x", {{"dtype", "int32"}})),
       tf_op("fd", "math.floordiv", node_entry("x", {{"y", 4.0}})),
       tf_op("md", "math.floormod", node_entry("x", {{"y", 4.0}}))},
      {"x"}, {"w", "i", "fd", "md"});
  auto out = run(m, {kX});
  expect_floats(out[0], {2, 3}, {1, 0.5f, 3, 0.5f, 5, 0.5f});
  EXPECT_EQ(out[1].dtype, DType::kInt32);
  expect_floats(out[1], {2, 3}, {1, -2, 3, -4, 5, -6});
  expect_floats(out[2], {2, 3}, {0, -1, 0, -1, 1, -2});  // floor division rounds down
  expect_floats(out[3], {2, 3}, {1, 2, 3, 0, 1, 2});     // the remainder takes the divisor's sign
}

// A TF 2.0-2.3 TensorFlowOpLayer: a NodeDef with constant inputs and protobuf-JSON attrs.
json tf_node_layer(const std::string& name, json node_def, json constants, std::vector<std::string> inputs) {
  json entries = json::array();
  for (auto& i : inputs) entries.push_back(node_entry(i));
  json nodes = json::array();
  nodes.push_back(entries);  // one node holding the entries
  return {{"class_name", "TensorFlowOpLayer"},
          {"name", name},
          {"config", {{"name", name}, {"trainable", true}, {"dtype", nullptr}, {"node_def", node_def}, {"constants", constants}}},
          {"inbound_nodes", nodes}};
}

TEST(TfOpLayers, TensorFlowOpLayerNodeDefs) {
  json transpose = tf_node_layer(
      "transpose", {{"name", "transpose"}, {"op", "Transpose"}, {"input", {"x", "transpose/perm"}},
                    {"attr", {{"T", {{"type", "DT_FLOAT"}}}, {"Tperm", {{"type", "DT_INT32"}}}}}},
      {{"1", {0, 2, 1}}}, {"x"});
  json mean = tf_node_layer(
      "Mean", {{"name", "Mean"}, {"op", "Mean"}, {"input", {"x", "Mean/reduction_indices"}},
               {"attr", {{"keep_dims", {{"b", true}}}, {"T", {{"type", "DT_FLOAT"}}}}}},
      {{"1", -1}}, {"x"});
  // x[:, 1:, 0] as StridedSlice: begin [0, 1, 0], end [0, 0, 1], strides 1; begin_mask 0b001,
  // end_mask 0b011, shrink_axis_mask 0b100 (int64 attrs are strings in protobuf JSON).
  json slice = tf_node_layer(
      "strided_slice",
      {{"name", "strided_slice"}, {"op", "StridedSlice"}, {"input", {"x", "b", "e", "s"}},
       {"attr", {{"begin_mask", {{"i", "1"}}}, {"end_mask", {{"i", "3"}}}, {"shrink_axis_mask", {{"i", "4"}}},
                 {"ellipsis_mask", {{"i", "0"}}}, {"new_axis_mask", {{"i", "0"}}}}}},
      {{"1", {0, 1, 0}}, {"2", {0, 0, 1}}, {"3", {1, 1, 1}}}, {"x"});
  json mul = tf_node_layer("mul", {{"name", "mul"}, {"op", "Mul"}, {"input", {"x", "mul/y"}}}, {{"1", 2.0}}, {"x"});
  // data_format "NCHW" is bytes, base64 in protobuf JSON.
  json bias = tf_node_layer("BiasAdd", {{"name", "BiasAdd"}, {"op", "BiasAdd"}, {"input", {"x", "BiasAdd/bias"}},
                                        {"attr", {{"data_format", {{"s", "TkNIVw=="}}}}}},
                            {{"1", {100, 200}}}, {"x"});
  json m = functional({input_layer("x", {nullptr, 2, 3}), transpose, mean, slice, mul, bias}, {"x"},
                      {"transpose", "Mean", "strided_slice", "mul", "BiasAdd"});
  Tensor x({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  auto out = run(m, {x});
  expect_floats(out[0], {1, 3, 2}, {1, 4, 2, 5, 3, 6});
  expect_floats(out[1], {1, 2, 1}, {2, 5});
  expect_floats(out[2], {1, 1}, {4});
  expect_floats(out[3], {1, 2, 3}, {2, 4, 6, 8, 10, 12});
  expect_floats(out[4], {1, 2, 3}, {101, 102, 103, 204, 205, 206});
}

// Functions without a clear tensor meaning are refused by name, as are unknown arguments and
// TensorFlow's integer mean.
TEST(TfOpLayers, RefusesWhatItDoesNotMap) {
  auto one = [](json layer) { return functional({input_layer("x", {nullptr, 3}), layer}, {"x"}, {layer["name"]}); };
  EXPECT_NE(load_error(one(tf_op("f", "image.resize", node_entry("x", {{"size", {2, 2}}})))).find("tf.image.resize"),
            std::string::npos);
  EXPECT_NE(load_error(one(tf_op("f", "math.add", node_entry("x", {{"y", 1.0}, {"bogus", 1}})))).find("'bogus'"),
            std::string::npos);
  EXPECT_NE(load_error(one(tf_op("f", "reshape", node_entry("x", {{"shape", tensor("x")}})))).find("computed shape"),
            std::string::npos);
  json ints = functional({input_layer("x", {nullptr, 3}, "int32"), tf_op("f", "math.reduce_mean", node_entry("x"))}, {"x"}, {"f"});
  EXPECT_NE(load_error(ints).find("integer"), std::string::npos);
  json unknown_op = one(tf_node_layer("u", {{"name", "u"}, {"op", "TopKV2"}, {"input", {"x"}}}, json::object(), {"x"}));
  EXPECT_NE(load_error(unknown_op).find("'TopKV2'"), std::string::npos);
}

}  // namespace
}  // namespace kerasrt::testing
