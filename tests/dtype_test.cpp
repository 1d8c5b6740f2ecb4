// Real dtypes end to end: int64 model inputs through Embedding, casts and integer keras.ops nodes
// give exact integer and bool outputs, built from hand-written Keras 3 functional configs.
#include <unistd.h>

#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "h5_writer.hpp"
#include "harness.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

json k3_tensor(const std::string& layer) {
  return {{"class_name", "__keras_tensor__"},
          {"config", {{"shape", nullptr}, {"dtype", nullptr}, {"keras_history", {layer, 0, 0}}}}};
}
json k3_layer(const std::string& cls, const std::string& name, json config, json args, const char* module = "keras.layers") {
  config["name"] = name;
  json nodes = json::array();
  if (!args.is_null()) nodes.push_back({{"args", args}, {"kwargs", json::object()}});
  return {{"module", module}, {"class_name", cls}, {"config", config}, {"name", name}, {"inbound_nodes", nodes}};
}
json op(const std::string& cls, const std::string& name, json args, json config = json::object()) {
  return k3_layer(cls, name, std::move(config), std::move(args), "keras.src.ops.numpy");
}
json functional(const std::string& input, const std::string& dtype, json layers, std::vector<std::string> outputs) {
  json in = k3_layer("InputLayer", input, {{"batch_shape", {nullptr, 3}}, {"dtype", dtype}}, nullptr);
  layers.insert(layers.begin(), in);
  json outs = json::array();
  for (const auto& o : outputs) outs.push_back({o, 0, 0});
  return {{"module", "keras.src.models.functional"},
          {"class_name", "Functional"},
          {"config",
           {{"name", "typed"}, {"layers", layers}, {"input_layers", {{input, 0, 0}}}, {"output_layers", outs}}}};
}

std::vector<uint8_t> embedding_weights(const std::vector<float>& table) {
  auto path = std::filesystem::temp_directory_path() / ("kerasrt_dtype_" + std::to_string(::getpid()) + ".h5");
  {
    H5Writer w(path.string());
    w.floats("layers/embedding/vars/0", {4, 2}, table);
  }
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  std::filesystem::remove(path);
  return bytes;
}

TEST(Dtype, Int64InputsStayExactThroughEmbeddingCastsAndIntegerOps) {
  const std::vector<float> table = {0.f, 0.5f, 1.f, 1.5f, 2.f, 2.5f, 3.f, 3.5f};
  json layers = json::array({
      op("Mod", "mod", {k3_tensor("ids"), 4}),
      k3_layer("Embedding", "emb", {{"input_dim", 4}, {"output_dim", 2}}, json::array({k3_tensor("mod")})),
      op("Add", "add", {k3_tensor("ids"), 1}),
      op("Multiply", "mul", {3, k3_tensor("ids")}),
      op("FloorDivide", "fdiv", {k3_tensor("ids"), 7}),
      op("Greater", "gt", {k3_tensor("ids"), 16777217}),
      op("Cast", "c32", {k3_tensor("ids")}, {{"dtype", "int32"}}),
      op("Multiply", "half", {k3_tensor("ids"), 0.5}),  // a Python float makes the integers float32
  });
  Model m = Model::load_json(functional("ids", "int64", layers, {"emb", "add", "mul", "fdiv", "gt", "c32", "half"}).dump(),
                             embedding_weights(table), "typed.json");
  const int64_t big = (int64_t{1} << 40) + 3, odd = 16777217;  // neither is a float32
  const std::vector<int64_t> ids = {big, odd, -10};
  std::map<std::string, Tensor> out = m.predict({{"ids", Tensor::int64({1, 3}, ids)}});

  ASSERT_EQ(out.at("emb").dtype, DType::kFloat32);
  EXPECT_EQ(out.at("emb").shape, (Shape{1, 3, 2}));
  // rows 3 (2^40+3 mod 4), 1 (16777217 mod 4), 2 (-10 mod 4, Python's sign)
  EXPECT_EQ(std::vector<float>(out.at("emb").floats().begin(), out.at("emb").floats().end()),
            (std::vector<float>{3.f, 3.5f, 1.f, 1.5f, 2.f, 2.5f}));

  auto ints = [&](const char* name) {
    const Tensor& t = out.at(name);
    EXPECT_EQ(t.dtype, DType::kInt64) << name;
    auto v = t.values<int64_t>();
    return std::vector<int64_t>(v.begin(), v.end());
  };
  EXPECT_EQ(ints("add"), (std::vector<int64_t>{big + 1, odd + 1, -9}));
  EXPECT_EQ(ints("mul"), (std::vector<int64_t>{3 * big, 3 * odd, -30}));
  EXPECT_EQ(ints("fdiv"), (std::vector<int64_t>{big / 7, odd / 7, -2}));  // floor(-10 / 7) = -2

  ASSERT_EQ(out.at("gt").dtype, DType::kBool);
  auto gt = out.at("gt").values<uint8_t>();
  EXPECT_EQ(std::vector<uint8_t>(gt.begin(), gt.end()), (std::vector<uint8_t>{1, 0, 0}));

  ASSERT_EQ(out.at("c32").dtype, DType::kInt32);
  auto c32 = out.at("c32").values<int32_t>();
  EXPECT_EQ(std::vector<int32_t>(c32.begin(), c32.end()), (std::vector<int32_t>{3, odd, -10}));  // wraps mod 2^32

  ASSERT_EQ(out.at("half").dtype, DType::kFloat32);
  EXPECT_EQ(out.at("half").floats()[2], -5.f);
}

// Float to integer casts as Keras on torch: truncation; NaN and out of range give the minimum;
// narrow types wrap the 32-bit result; float16 rounds but stays float32.
TEST(Dtype, FloatCastsTruncateAndSaturateLikeTorch) {
  json layers = json::array({
      op("Cast", "i32", {k3_tensor("x")}, {{"dtype", "int32"}}),
      op("Cast", "u8", {k3_tensor("x")}, {{"dtype", "uint8"}}),
      op("Cast", "b", {k3_tensor("x")}, {{"dtype", "bool"}}),
      op("Cast", "f16", {k3_tensor("x")}, {{"dtype", "float16"}}),
      op("Equal", "eq", {k3_tensor("i32"), -2}),
  });
  Model m = Model::load_json(functional("x", "float32", layers, {"i32", "u8", "b", "f16", "eq"}).dump(), {}, "casts.json");
  std::map<std::string, Tensor> out = m.predict({{"x", Tensor({1, 3}, {NAN, 3e9f, -2.7f})}});
  auto i32 = out.at("i32").values<int32_t>();
  EXPECT_EQ(std::vector<int32_t>(i32.begin(), i32.end()), (std::vector<int32_t>{INT32_MIN, INT32_MIN, -2}));
  auto u8 = out.at("u8").values<uint8_t>();
  EXPECT_EQ(std::vector<uint8_t>(u8.begin(), u8.end()), (std::vector<uint8_t>{0, 0, 254}));
  auto b = out.at("b").values<uint8_t>();
  EXPECT_EQ(std::vector<uint8_t>(b.begin(), b.end()), (std::vector<uint8_t>{1, 1, 1}));
  EXPECT_EQ(out.at("f16").dtype, DType::kFloat32);
  EXPECT_EQ(out.at("f16").floats()[2], -2.69921875f);  // the nearest float16
  ASSERT_EQ(out.at("eq").dtype, DType::kBool);
  auto eq = out.at("eq").values<uint8_t>();
  EXPECT_EQ(std::vector<uint8_t>(eq.begin(), eq.end()), (std::vector<uint8_t>{0, 0, 1}));
}

// Merge layers and where keep integers exact; Average divides, so it is float32 as in Keras.
TEST(Dtype, MergesAndWhereKeepInt64Exact) {
  json layers = json::array({
      k3_layer("Add", "madd", json::object(), json::array({json::array({k3_tensor("ids"), k3_tensor("ids")})})),
      k3_layer("Maximum", "mmax", json::object(), json::array({json::array({k3_tensor("ids"), k3_tensor("madd")})})),
      k3_layer("Average", "mavg", json::object(), json::array({json::array({k3_tensor("ids"), k3_tensor("ids")})})),
      op("Less", "neg", {k3_tensor("ids"), 0}),
      op("Where", "w", {k3_tensor("neg"), 0, k3_tensor("ids")}),
  });
  Model m = Model::load_json(functional("ids", "int64", layers, {"madd", "mmax", "mavg", "w"}).dump(), {}, "merge.json");
  const int64_t big = (int64_t{1} << 40) + 3;
  std::map<std::string, Tensor> out = m.predict({{"ids", Tensor::int64({1, 3}, {big, -5, 7})}});
  auto ints = [&](const char* name) {
    const Tensor& t = out.at(name);
    EXPECT_EQ(t.dtype, DType::kInt64) << name;
    auto v = t.values<int64_t>();
    return std::vector<int64_t>(v.begin(), v.end());
  };
  EXPECT_EQ(ints("madd"), (std::vector<int64_t>{2 * big, -10, 14}));
  EXPECT_EQ(ints("mmax"), (std::vector<int64_t>{2 * big, -5, 14}));
  EXPECT_EQ(ints("w"), (std::vector<int64_t>{big, 0, 7}));
  ASSERT_EQ(out.at("mavg").dtype, DType::kFloat32);
  EXPECT_EQ(out.at("mavg").floats()[1], -5.f);
}

}  // namespace
}  // namespace kerasrt::testing
