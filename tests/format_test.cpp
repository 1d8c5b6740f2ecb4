// Keras file forms and dialects to the neutral graph: weight paths, Keras 1/2/3 configs, nested
// and shared layers, legacy weight layouts, loading from memory.
#include <unistd.h>

#include <fstream>

#include "format/graph_builder.hpp"
#include "format/keras1_compat.hpp"
#include "h5_writer.hpp"
#include "harness.hpp"
#include "io/npy.hpp"
#include "format/keras/config.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

// ---- helpers ---------------------------------------------------------------------------------

std::filesystem::path temp_dir(const std::string& tag) {
  auto p = std::filesystem::temp_directory_path() / ("kerasrt_fmt_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  return p;
}

std::vector<uint8_t> slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Keras 3 forms.
json k3_tensor(const std::string& layer, int node = 0, int index = 0) {
  return {{"class_name", "__keras_tensor__"},
          {"config", {{"shape", nullptr}, {"dtype", "float32"}, {"keras_history", {layer, node, index}}}}};
}
json k3_call(std::vector<json> args, json kwargs = json::object()) { return {{"args", args}, {"kwargs", kwargs}}; }
json k3_layer(const std::string& cls, const std::string& name, json config, std::vector<json> nodes) {
  config["name"] = name;
  return {{"module", "keras.layers"}, {"class_name", cls}, {"config", config}, {"name", name}, {"inbound_nodes", nodes}};
}
json k3_input(const std::string& name, std::vector<json> shape) {
  return k3_layer("InputLayer", name, {{"batch_shape", shape}, {"dtype", "float32"}}, {});
}
json dense_config(int units, const std::string& activation = "linear") {
  return {{"units", units}, {"activation", activation}, {"use_bias", true}};
}

// Keras 2 forms: inbound nodes as lists of [layer, node, tensor, kwargs].
json k2_layer(const std::string& cls, const std::string& name, json config, std::vector<json> nodes) {
  config["name"] = name;
  return {{"class_name", cls}, {"name", name}, {"config", config}, {"inbound_nodes", nodes}};
}
json k2_node(std::vector<std::tuple<std::string, int, int>> refs) {
  json node = json::array();
  for (auto& [l, n, t] : refs) node.push_back({l, n, t, json::object()});
  return node;
}

// y = x K + b for a batch of rows; K is (in, out) row-major.
std::vector<float> dense_ref(const std::vector<float>& x, int64_t in, const std::vector<float>& k,
                             const std::vector<float>& b, bool relu = false) {
  int64_t out = static_cast<int64_t>(b.size()), rows = static_cast<int64_t>(x.size()) / in;
  std::vector<float> y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b[static_cast<size_t>(o)];
      for (int64_t i = 0; i < in; ++i) s += double(x[static_cast<size_t>(r * in + i)]) * k[static_cast<size_t>(i * out + o)];
      y[static_cast<size_t>(r * out + o)] = relu && s < 0 ? 0.f : static_cast<float>(s);
    }
  return y;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << "at " << i;
}

const std::vector<float> kK1 = {0.5f, -1.f, 0.25f, 2.f, -0.75f, 1.5f};  // (3, 2)
const std::vector<float> kB1 = {0.1f, -0.2f};
const std::vector<float> kK2 = {1.f, -2.f, 0.5f, 0.f, -1.f, 3.f, 0.25f, -0.5f};  // (2, 4)
const std::vector<float> kB2 = {0.f, 0.5f, -0.5f, 1.f};
const Tensor kX({2, 3}, {1.f, -2.f, 0.5f, 0.f, 3.f, -1.f});

std::vector<float> two_dense_ref() { return dense_ref(dense_ref(kX.to_floats(), 3, kK1, kB1), 2, kK2, kB2, true); }

// Keras 3 weights of two Dense layers saved under their class-derived paths.
std::vector<uint8_t> keras3_two_dense_weights(const std::filesystem::path& dir, const std::string& prefix = "layers/") {
  std::string path = (dir / "k3.weights.h5").string();
  {
    H5Writer w(path);
    w.floats(prefix + "dense/vars/0", {3, 2}, kK1);
    w.floats(prefix + "dense/vars/1", {2}, kB1);
    w.floats(prefix + "dense_1/vars/0", {2, 4}, kK2);
    w.floats(prefix + "dense_1/vars/1", {4}, kB2);
  }
  return slurp(path);
}

// Keras 2 save_weights layout: layer_names on the root, weight_names per layer, ":0" names.
std::vector<uint8_t> legacy_two_dense_weights(const std::filesystem::path& dir, const std::string& version = "2.2.4") {
  std::string path = (dir / "k2.weights.h5").string();
  {
    H5Writer w(path);
    w.floats("first/first/kernel:0", {3, 2}, kK1);
    w.floats("first/first/bias:0", {2}, kB1);
    w.floats("second/second/kernel:0", {2, 4}, kK2);
    w.floats("second/second/bias:0", {4}, kB2);
    w.fixed_strings("/", "layer_names", {"first", "second"});
    if (!version.empty()) w.fixed_strings("/", "keras_version", {version});
    w.fixed_strings("/", "backend", {"tensorflow"});
    w.fixed_strings("/first", "weight_names", {"first/kernel:0", "first/bias:0"});
    w.fixed_strings("/second", "weight_names", {"second/kernel:0", "second/bias:0"});
  }
  return slurp(path);
}

std::vector<float> predict_one(const Model& m, const Tensor& x) { return m.predict(std::vector<Tensor>{x}).at(0).to_floats(); }

// ---- Keras 3 weight paths ----------------------------------------------------------------------

TEST(Format, SnakeCaseOfClassNames) {
  EXPECT_EQ(format::snake_case("Dense"), "dense");
  EXPECT_EQ(format::snake_case("Conv2D"), "conv2d");
  EXPECT_EQ(format::snake_case("ReLU"), "re_lu");
  EXPECT_EQ(format::snake_case("PReLU"), "p_re_lu");
  EXPECT_EQ(format::snake_case("GRU"), "gru");
  EXPECT_EQ(format::snake_case("LSTMCell"), "lstm_cell");
  EXPECT_EQ(format::snake_case("BatchNormalization"), "batch_normalization");
  EXPECT_EQ(format::snake_case("Conv2DTranspose"), "conv2d_transpose");
  EXPECT_EQ(format::snake_case("UpSampling2D"), "up_sampling2d");
  EXPECT_EQ(format::snake_case("MultiHeadAttention"), "multi_head_attention");
  EXPECT_EQ(format::snake_case("GlobalAveragePooling1D"), "global_average_pooling1d");
  EXPECT_EQ(format::snake_case("SimpleRNNCell"), "simple_rnn_cell");
}

json keras3_two_dense_functional() {
  return {{"module", "keras.src.models.functional"},
          {"class_name", "Functional"},
          {"config",
           {{"name", "two_dense"},
            {"layers",
             {k3_input("x", {nullptr, 3}),
              k3_layer("Dense", "first", dense_config(2), {k3_call({k3_tensor("x")})}),
              k3_layer("Dense", "second", dense_config(4, "relu"), {k3_call({k3_tensor("first")})})}},
            {"input_layers", {{"x", 0, 0}}},
            {"output_layers", {{"second", 0, 0}}}}}};
}

// Weights live at layers/<snake_case(class)>[_k] whatever the layers are called.
TEST(Format, Keras3FunctionalNumbersWeightPathsPerClass) {
  auto dir = temp_dir("k3f");
  auto weights = keras3_two_dense_weights(dir);
  Model m = Model::load_json(keras3_two_dense_functional().dump(), weights, "two.json");
  EXPECT_EQ(m.inputs().at(0).name, "x");
  EXPECT_EQ(m.inputs().at(0).shape, (Shape{-1, 3}));
  EXPECT_EQ(m.outputs().at(0).name, "second");
  expect_near(predict_one(m, kX), two_dense_ref());
  std::filesystem::remove_all(dir);
}

// In a Sequential the leading InputLayer takes no number.
TEST(Format, Keras3SequentialSkipsTheInputLayer) {
  auto dir = temp_dir("k3s");
  auto weights = keras3_two_dense_weights(dir);
  json seq = {{"module", "keras"},
              {"class_name", "Sequential"},
              {"config",
               {{"name", "seq"},
                {"layers",
                 {{{"class_name", "InputLayer"}, {"config", {{"batch_shape", {nullptr, 3}}, {"name", "inp"}}}},
                  {{"class_name", "Dense"}, {"config", dense_config(2)}},
                  {{"class_name", "Dense"}, {"config", dense_config(4, "relu")}}}}}}};
  seq["config"]["layers"][1]["config"]["name"] = "a";
  seq["config"]["layers"][2]["config"]["name"] = "b";
  Model m = Model::load_json(seq.dump(), weights, "seq.json");
  EXPECT_EQ(m.inputs().at(0).name, "inp");
  EXPECT_EQ(m.outputs().at(0).name, "b");
  expect_near(predict_one(m, kX), two_dense_ref());
  std::filesystem::remove_all(dir);
}

// tf.keras 2.13+ wrote the v3 layout with its own group names and numbering.
TEST(Format, TfKerasV3GroupNamesAreMatchedByClassAndRank) {
  auto dir = temp_dir("tfk3");
  std::string path = (dir / "w.h5").string();
  {
    H5Writer w(path);
    const std::string p = "_layer_checkpoint_dependencies\\";
    w.floats(p + "dense/vars/0", {3, 2}, kK1);
    w.floats(p + "dense/vars/1", {2}, kB1);
    w.floats(p + "dense_2/vars/0", {2, 4}, kK2);  // numbered 0, 2, 4, ... by that writer
    w.floats(p + "dense_2/vars/1", {4}, kB2);
    w.group("optimizer/vars");
  }
  Model m = Model::load_json(keras3_two_dense_functional().dump(), slurp(path), "tfk.json");
  expect_near(predict_one(m, kX), two_dense_ref());
  std::filesystem::remove_all(dir);
}

// ---- Keras 2 and Keras 1 dialects ----------------------------------------------------------------

json keras2_two_dense_functional() {
  return {{"class_name", "Model"},
          {"config",
           {{"name", "m"},
            {"layers",
             {k2_layer("InputLayer", "x", {{"batch_input_shape", {nullptr, 3}}, {"dtype", "float32"}}, {}),
              k2_layer("Dense", "first", dense_config(2), {k2_node({{"x", 0, 0}})}),
              k2_layer("Dense", "second", dense_config(4, "relu"), {k2_node({{"first", 0, 0}})})}},
            {"input_layers", {{"x", 0, 0}}},
            {"output_layers", {{"second", 0, 0}}}}}};
}

TEST(Format, Keras2FunctionalWithLegacyWeights) {
  auto dir = temp_dir("k2f");
  Model m = Model::load_json(keras2_two_dense_functional().dump(), legacy_two_dense_weights(dir), "k2.json");
  EXPECT_EQ(m.inputs().at(0).shape, (Shape{-1, 3}));
  expect_near(predict_one(m, kX), two_dense_ref());
  std::filesystem::remove_all(dir);
}

// tf.keras writes a call's keyword tensors inside the node as [layer, node, tensor] lists:
// MultiHeadAttention(query, value=..., key=...) of the corpus's mha_cross case in tf.keras form.
TEST(Format, Keras2KeywordTensorsInANode) {
  KERASRT_REQUIRE_CORPUS();
  std::ifstream f(corpus_dir() / "mha_cross.config.json");
  json config = json::parse(f);
  json& mha = config["config"]["layers"][3];
  ASSERT_EQ(mha["class_name"], "MultiHeadAttention");
  mha.erase("module");
  mha["inbound_nodes"] = json::array({json::array({json::array(
      {"query", 0, 0, {{"value", json::array({"value", 0, 0})}, {"key", json::array({"key", 0, 0})}}})})});
  Model m = Model::load_json(config.dump(), slurp(corpus_dir() / "mha_cross.weights.h5"), "k2_mha.json");
  std::map<std::string, Tensor> in;
  for (auto& [k, a] : io::read_npz((corpus_dir() / "mha_cross.inputs.npz").string())) in[k] = a.tensor;
  auto want = io::read_npz((corpus_dir() / "mha_cross.outputs.npz").string());
  ASSERT_EQ(want.size(), 1u);
  EXPECT_EQ(compare(want[0].second.tensor, m.predict(in).at("multi_head_attention"), 1e-4, 1e-4), "");
}

// Keras 2.0-2.2 stored a Sequential's config as the bare list of layers.
TEST(Format, Keras2SequentialListConfig) {
  auto dir = temp_dir("k2s");
  json first = {{"class_name", "Dense"}, {"config", dense_config(2)}};
  first["config"]["name"] = "first";
  first["config"]["batch_input_shape"] = {nullptr, 3};
  json second = {{"class_name", "Dense"}, {"config", dense_config(4, "relu")}};
  second["config"]["name"] = "second";
  json seq = {{"class_name", "Sequential"}, {"config", {first, second}}};
  Model m = Model::load_json(seq.dump(), legacy_two_dense_weights(dir), "k2s.json");
  EXPECT_EQ(m.inputs().at(0).shape, (Shape{-1, 3}));
  expect_near(predict_one(m, kX), two_dense_ref());
  std::filesystem::remove_all(dir);
}

// Keras 2 loads save_weights files by position: a model rebuilt with other layer names still fits.
TEST(Format, LegacyWeightsFitByPositionWhenNamesDiffer) {
  auto dir = temp_dir("bypos");
  json renamed = keras2_two_dense_functional();
  auto& layers = renamed["config"]["layers"];
  layers[1]["name"] = layers[1]["config"]["name"] = "dense_7";
  layers[2]["name"] = layers[2]["config"]["name"] = "dense_8";
  layers[2]["inbound_nodes"] = json::array({k2_node({{"dense_7", 0, 0}})});
  renamed["config"]["output_layers"] = {{"dense_8", 0, 0}};
  Model m = Model::load_json(renamed.dump(), legacy_two_dense_weights(dir), "renamed.json");
  expect_near(predict_one(m, kX), two_dense_ref());
  // Names that exist in both but at other positions are not paired by position.
  json swapped = keras2_two_dense_functional();
  swapped["config"]["layers"][1]["name"] = swapped["config"]["layers"][1]["config"]["name"] = "second";
  swapped["config"]["layers"][2]["name"] = swapped["config"]["layers"][2]["config"]["name"] = "first";
  swapped["config"]["layers"][2]["inbound_nodes"] = json::array({k2_node({{"second", 0, 0}})});
  swapped["config"]["output_layers"] = {{"first", 0, 0}};
  EXPECT_THROW(Model::load_json(swapped.dump(), legacy_two_dense_weights(dir), "swapped.json"), Error);
  std::filesystem::remove_all(dir);
}

// Keras 1: output_dim/bias keys, W/b weight names, no keras_version on the weights.
TEST(Format, Keras1SequentialDenseAndMerge) {
  auto dir = temp_dir("k1");
  std::string path = (dir / "k1.h5").string();
  {
    H5Writer w(path);
    w.floats("first/first_W", {3, 2}, kK1);
    w.floats("first/first_b", {2}, kB1);
    w.floats("second/second_W", {2, 4}, kK2);
    w.floats("second/second_b", {4}, kB2);
    w.fixed_strings("/", "layer_names", {"first", "second", "act"});
    w.fixed_strings("/first", "weight_names", {"first_W", "first_b"});
    w.fixed_strings("/second", "weight_names", {"second_W", "second_b"});
    w.group("act");
  }
  json seq = {{"class_name", "Sequential"},
              {"config",
               {{{"class_name", "Dense"},
                 {"config",
                  {{"name", "first"}, {"output_dim", 2}, {"init", "glorot_uniform"}, {"activation", "linear"},
                   {"bias", true}, {"batch_input_shape", {nullptr, 3}}, {"input_dtype", "float32"}}}},
                {{"class_name", "Dense"},
                 {"config", {{"name", "second"}, {"output_dim", 4}, {"activation", "linear"}, {"bias", true}}}},
                {{"class_name", "Activation"}, {"config", {{"name", "act"}, {"activation", "relu"}}}}}}};
  Model m = Model::load_json(seq.dump(), slurp(path), "k1.json");
  expect_near(predict_one(m, kX), two_dense_ref());

  // Keras 1 functional merge([a, b], mode='sum') of the two halves of a model.
  json merged = {{"class_name", "Model"},
                 {"config",
                  {{"name", "m1"},
                   {"layers",
                    {k2_layer("InputLayer", "x", {{"batch_input_shape", {nullptr, 3}}, {"input_dtype", "float32"}}, {}),
                     k2_layer("Dense", "first", {{"output_dim", 2}, {"bias", true}, {"activation", "linear"}},
                              {k2_node({{"x", 0, 0}})}),
                     k2_layer("Activation", "twin", {{"activation", "linear"}}, {k2_node({{"first", 0, 0}})}),
                     k2_layer("Merge", "sum",
                              {{"mode", "sum"}, {"mode_type", "raw"}, {"concat_axis", -1}, {"dot_axes", -1}},
                              {k2_node({{"first", 0, 0}, {"twin", 0, 0}})})}},
                   {"input_layers", {{"x", 0, 0}}},
                   {"output_layers", {{"sum", 0, 0}}}}}};
  std::string path2 = (dir / "k1m.h5").string();
  {
    H5Writer w(path2);
    w.floats("first/first_W", {3, 2}, kK1);
    w.floats("first/first_b", {2}, kB1);
    w.fixed_strings("/", "layer_names", {"first", "twin", "sum"});
    w.fixed_strings("/first", "weight_names", {"first_W", "first_b"});
  }
  Model m2 = Model::load_json(merged.dump(), slurp(path2), "k1m.json");
  std::vector<float> want = dense_ref(kX.to_floats(), 3, kK1, kB1);
  for (float& v : want) v *= 2;
  expect_near(predict_one(m2, kX), want);
  std::filesystem::remove_all(dir);
}

TEST(Format, Keras1ConfigKeysBecomeKeras3Keys) {
  json conv = {{"class_name", "Convolution2D"},
               {"config",
                {{"name", "c"}, {"nb_filter", 5}, {"nb_row", 3}, {"nb_col", 2}, {"subsample", {2, 1}},
                 {"border_mode", "same"}, {"dim_ordering", "th"}, {"bias", false}, {"init", "glorot_uniform"},
                 {"atrous_rate", {1, 1}}}}};
  json tdd = {{"class_name", "TimeDistributedDense"},
              {"config", {{"name", "t"}, {"output_dim", 3}, {"activation", "tanh"}, {"bias", true}}}};
  json merge = {{"class_name", "Merge"}, {"config", {{"name", "m"}, {"mode", "concat"}, {"concat_axis", 1}}}};
  json lstm = {{"class_name", "LSTM"},
               {"config",
                {{"name", "l"}, {"output_dim", 4}, {"inner_activation", "hard_sigmoid"}, {"dropout_W", 0.5},
                 {"forget_bias_init", "one"}, {"consume_less", "cpu"}}}};
  json drop = {{"class_name", "Dropout"}, {"config", {{"name", "d"}, {"p", 0.3}}}};
  json leaky = {{"class_name", "LeakyReLU"}, {"config", {{"name", "r"}, {"alpha", 0.2}}}};
  json pool = {{"class_name", "MaxPooling1D"},
               {"config", {{"name", "p"}, {"pool_length", 3}, {"stride", 2}, {"border_mode", "valid"}}}};
  json wrapped = {{"class_name", "TimeDistributed"}, {"config", {{"name", "w"}, {"layer", conv}}}};
  json model = {{"class_name", "Sequential"}, {"config", {conv, tdd, merge, lstm, drop, leaky, pool, wrapped}}};
  json out = format::keras3_dialect(model, "f.json");
  const json& l = out["config"];
  EXPECT_EQ(l[0]["class_name"], "Conv2D");
  EXPECT_EQ(l[0]["config"]["filters"], 5);
  EXPECT_EQ(l[0]["config"]["kernel_size"], json({3, 2}));
  EXPECT_EQ(l[0]["config"]["strides"], json({2, 1}));
  EXPECT_EQ(l[0]["config"]["padding"], "same");
  EXPECT_EQ(l[0]["config"]["data_format"], "channels_first");
  EXPECT_EQ(l[0]["config"]["use_bias"], false);
  EXPECT_EQ(l[0]["config"]["dilation_rate"], json({1, 1}));
  EXPECT_FALSE(l[0]["config"].contains("dim_ordering"));
  EXPECT_EQ(l[1]["class_name"], "TimeDistributed");
  EXPECT_EQ(l[1]["config"]["layer"]["class_name"], "Dense");
  EXPECT_EQ(l[1]["config"]["layer"]["config"]["units"], 3);
  EXPECT_EQ(l[1]["config"]["layer"]["config"]["activation"], "tanh");
  EXPECT_EQ(l[2]["class_name"], "Concatenate");
  EXPECT_EQ(l[2]["config"]["axis"], 1);
  EXPECT_EQ(l[3]["config"]["units"], 4);
  EXPECT_EQ(l[3]["config"]["recurrent_activation"], "hard_sigmoid");
  EXPECT_EQ(l[3]["config"]["dropout"], 0.5);
  EXPECT_EQ(l[3]["config"]["unit_forget_bias"], true);
  EXPECT_EQ(l[4]["config"]["rate"], 0.3);
  EXPECT_EQ(l[5]["config"]["negative_slope"], 0.2);
  EXPECT_EQ(l[6]["config"]["pool_size"], 3);
  EXPECT_EQ(l[6]["config"]["strides"], 2);
  EXPECT_EQ(l[6]["config"]["padding"], "valid");
  EXPECT_EQ(l[7]["config"]["layer"]["class_name"], "Conv2D");  // wrapped layers too

  // Keras 3 configs pass through untouched.
  json k3 = keras3_two_dense_functional();
  EXPECT_EQ(format::keras3_dialect(k3, "k3.json"), k3);
}

TEST(Format, Keras1ConstructsWithoutEquivalentAreRefused) {
  auto refused = [](json layer, const std::string& why) {
    json model = {{"class_name", "Sequential"}, {"config", {layer}}};
    try {
      format::keras3_dialect(model, "old.json");
      ADD_FAILURE() << "accepted " << why;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("old.json"), std::string::npos) << msg;
      EXPECT_NE(msg.find("layer '"), std::string::npos) << msg;
    }
  };
  refused({{"class_name", "Merge"}, {"config", {{"name", "m"}, {"mode", "lambda_code"}, {"mode_type", "lambda"}}}},
          "merge with a function");
  refused({{"class_name", "Merge"}, {"config", {{"name", "m"}, {"mode", "sum"}, {"layers", json::array()}}}},
          "merge of sequential branches");
  refused({{"class_name", "BatchNormalization"}, {"config", {{"name", "bn"}, {"mode", 2}}}}, "batch-statistics BN");
}

// ---- legacy weight layouts -------------------------------------------------------------------------

TEST(Format, Keras1LstmGatesAreJoinedInKeras2Order) {
  // Keras 1 order per gate: W, U, b for i, c, f, o; Keras 2+ joins the gates as i, f, c, o.
  std::vector<Weights::Entry> w;
  const char* gates = "icfo";
  for (int g = 0; g < 4; ++g) {
    float base = static_cast<float>(g + 1);
    w.push_back({std::string("W_") + gates[g], {2, 1}, {base, base + 0.5f}});
    w.push_back({std::string("U_") + gates[g], {1, 1}, {-base}});
    w.push_back({std::string("b_") + gates[g], {1}, {base * 10}});
  }
  json lstm = {{"class_name", "LSTM"}, {"config", {{"units", 1}}}};
  format::adapt_legacy_weights(lstm, w, {true, 1, ""}, "test");
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].shape, (Shape{2, 4}));
  // rows of the kernel: input 0 then input 1; columns i, f, c, o = gate numbers 1, 3, 2, 4
  EXPECT_EQ(w[0].data, (std::vector<float>{1, 3, 2, 4, 1.5f, 3.5f, 2.5f, 4.5f}));
  EXPECT_EQ(w[1].data, (std::vector<float>{-1, -3, -2, -4}));
  EXPECT_EQ(w[2].data, (std::vector<float>{10, 30, 20, 40}));
}

TEST(Format, TheanoKernelsAreFlippedAndChannelsFirstKernelsTransposed) {
  // 2x3 kernel, 1 input channel, 1 filter, saved by the theano backend: spatial axes reversed.
  std::vector<Weights::Entry> w = {{"kernel", {2, 3, 1, 1}, {1, 2, 3, 4, 5, 6}}, {"bias", {1}, {0}}};
  json conv = {{"class_name", "Conv2D"}, {"config", {{"filters", 1}, {"kernel_size", {2, 3}}}}};
  format::adapt_legacy_weights(conv, w, {true, 2, "theano"}, "test");
  EXPECT_EQ(w[0].data, (std::vector<float>{6, 5, 4, 3, 2, 1}));
  // The same from tensorflow is left alone.
  std::vector<Weights::Entry> tf = {{"kernel", {2, 3, 1, 1}, {1, 2, 3, 4, 5, 6}}};
  format::adapt_legacy_weights(conv, tf, {true, 2, "tensorflow"}, "test");
  EXPECT_EQ(tf[0].data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  // Keras 1 channels-first kernels are (filters, in, rows, cols); Keras 2+ wants (rows, cols, in, filters).
  std::vector<Weights::Entry> th = {{"W", {2, 1, 1, 3}, {1, 2, 3, 4, 5, 6}}};
  json conv_th = {{"class_name", "Conv2D"},
                  {"config", {{"filters", 2}, {"kernel_size", {1, 3}}, {"data_format", "channels_first"}}}};
  format::adapt_legacy_weights(conv_th, th, {true, 1, ""}, "test");
  EXPECT_EQ(th[0].shape, (Shape{1, 3, 1, 2}));
  EXPECT_EQ(th[0].data, (std::vector<float>{1, 4, 2, 5, 3, 6}));
  // Keras 3 files are never touched.
  std::vector<Weights::Entry> k3 = {{"kernel", {2, 3, 1, 1}, {1, 2, 3, 4, 5, 6}}};
  format::adapt_legacy_weights(conv, k3, {false, 3, "theano"}, "test");
  EXPECT_EQ(k3[0].data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

// ---- nested and shared ----------------------------------------------------------------------------

// A Sequential inside a Functional: weights at layers/sequential/layers/dense...
TEST(Format, Keras3NestedSequentialInFunctional) {
  auto dir = temp_dir("nest3");
  std::string path = (dir / "w.h5").string();
  {
    H5Writer w(path);
    w.floats("layers/dense/vars/0", {3, 2}, kK1);
    w.floats("layers/dense/vars/1", {2}, kB1);
    w.floats("layers/sequential/layers/dense/vars/0", {2, 4}, kK2);
    w.floats("layers/sequential/layers/dense/vars/1", {4}, kB2);
  }
  json inner = {{"module", "keras"},
                {"class_name", "Sequential"},
                {"name", "inner"},
                {"config",
                 {{"name", "inner"},
                  {"layers",
                   {{{"class_name", "InputLayer"}, {"config", {{"batch_shape", {nullptr, 2}}, {"name", "inner_in"}}}},
                    {{"class_name", "Dense"}, {"config", dense_config(4, "relu")}}}}}},
                {"inbound_nodes", {k3_call({k3_tensor("first")})}}};
  inner["config"]["layers"][1]["config"]["name"] = "inner_dense";
  json outer = keras3_two_dense_functional();
  outer["config"]["layers"][2] = inner;
  outer["config"]["output_layers"] = {{"inner", 0, 0}};
  Model m = Model::load_json(outer.dump(), slurp(path), "nested.json");
  EXPECT_EQ(m.outputs().at(0).name, "inner");
  expect_near(predict_one(m, kX), two_dense_ref());
  // Inner layers can be asked for by their qualified name.
  auto names = m.layer_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "inner/inner_dense"), names.end());
  std::filesystem::remove_all(dir);
}

// Keras 2 counts a nested Functional's own construction node, so its first call is node 1.
TEST(Format, Keras2NestedModelNodeIndices) {
  auto dir = temp_dir("nest2");
  std::string path = (dir / "w.h5").string();
  {
    H5Writer w(path);
    w.floats("inner/first/kernel:0", {3, 2}, kK1);
    w.floats("inner/first/bias:0", {2}, kB1);
    w.floats("second/second/kernel:0", {2, 4}, kK2);
    w.floats("second/second/bias:0", {4}, kB2);
    w.fixed_strings("/", "layer_names", {"x", "inner", "second"});
    w.fixed_strings("/", "keras_version", {"2.2.4"});
    w.fixed_strings("/inner", "weight_names", {"first/kernel:0", "first/bias:0"});
    w.fixed_strings("/second", "weight_names", {"second/kernel:0", "second/bias:0"});
    w.group("x");
  }
  json inner = {{"class_name", "Model"},
                {"name", "inner"},
                {"config",
                 {{"name", "inner"},
                  {"layers",
                   {k2_layer("InputLayer", "ix", {{"batch_input_shape", {nullptr, 3}}}, {}),
                    k2_layer("Dense", "first", dense_config(2), {k2_node({{"ix", 0, 0}})})}},
                  {"input_layers", {{"ix", 0, 0}}},
                  {"output_layers", {{"first", 0, 0}}}}},
                {"inbound_nodes", {k2_node({{"x", 0, 0}})}}};
  json outer = keras2_two_dense_functional();
  outer["config"]["layers"][1] = inner;
  outer["config"]["layers"][2]["inbound_nodes"] = json::array({k2_node({{"inner", 1, 0}})});
  Model m = Model::load_json(outer.dump(), slurp(path), "nested2.json");
  expect_near(predict_one(m, kX), two_dense_ref());
  std::filesystem::remove_all(dir);
}

// One Dense called on two inputs shares its weights; the second call is "name@1".
TEST(Format, SharedLayerCalledTwice) {
  auto dir = temp_dir("shared");
  std::string path = (dir / "w.h5").string();
  {
    H5Writer w(path);
    w.floats("layers/dense/vars/0", {3, 2}, kK1);
    w.floats("layers/dense/vars/1", {2}, kB1);
  }
  json model = {{"module", "keras.src.models.functional"},
                {"class_name", "Functional"},
                {"config",
                 {{"name", "shared"},
                  {"layers",
                   {k3_input("a", {nullptr, 3}), k3_input("b", {nullptr, 3}),
                    k3_layer("Dense", "twice", dense_config(2),
                             {k3_call({k3_tensor("a")}), k3_call({k3_tensor("b")})})}},
                  {"input_layers", {{"a", 0, 0}, {"b", 0, 0}}},
                  {"output_layers", {{"twice", 0, 0}, {"twice", 1, 0}}}}}};
  Model m = Model::load_json(model.dump(), slurp(path), "shared.json");
  Tensor b({2, 3}, {0.f, 1.f, 2.f, -1.f, -2.f, 4.f});
  auto out = m.predict({{"a", kX}, {"b", b}}, {"twice@1"});
  ASSERT_EQ(m.outputs().size(), 2u);
  EXPECT_EQ(m.outputs()[0].name, "twice");
  EXPECT_EQ(m.outputs()[1].name, "twice@1");  // the later call's output under the name predict() takes
  expect_near(out.at(m.outputs()[0].name).to_floats(), dense_ref(kX.to_floats(), 3, kK1, kB1));
  expect_near(out.at(m.outputs()[1].name).to_floats(), dense_ref(b.to_floats(), 3, kK1, kB1));
  expect_near(out.at("twice@1").to_floats(), dense_ref(b.to_floats(), 3, kK1, kB1));
  EXPECT_EQ(m.layers().size(), 3u);  // two inputs and the one layer
  // Listed the other way round, each output keeps its call's name.
  model["config"]["output_layers"] = {{"twice", 1, 0}, {"twice", 0, 0}};
  Model swapped = Model::load_json(model.dump(), slurp(path), "shared.json");
  ASSERT_EQ(swapped.outputs().size(), 2u);
  EXPECT_EQ(swapped.outputs()[0].name, "twice@1");
  EXPECT_EQ(swapped.outputs()[1].name, "twice");
  auto swapped_out = swapped.predict({{"a", kX}, {"b", b}});
  expect_near(swapped_out.at("twice@1").to_floats(), dense_ref(b.to_floats(), 3, kK1, kB1));
  std::filesystem::remove_all(dir);
}

// ---- weights that do not fit -------------------------------------------------------------------------

TEST(Format, WeightsOfAnotherModelAreRefused) {
  auto dir = temp_dir("other");
  // The file has a third layer the model lacks.
  std::string path = (dir / "w.h5").string();
  {
    H5Writer w(path);
    w.floats("layers/dense/vars/0", {3, 2}, kK1);
    w.floats("layers/dense/vars/1", {2}, kB1);
    w.floats("layers/dense_1/vars/0", {2, 4}, kK2);
    w.floats("layers/dense_1/vars/1", {4}, kB2);
    w.floats("layers/dense_2/vars/0", {4, 1}, {1, 1, 1, 1});
  }
  try {
    Model::load_json(keras3_two_dense_functional().dump(), slurp(path), "m.json");
    ADD_FAILURE() << "loaded weights of another model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layers/dense_2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("m.json (weights)"), std::string::npos) << e.what();
  }
  // Legacy weights with a layer more than the model has.
  std::string legacy = (dir / "three.h5").string();
  {
    H5Writer w(legacy);
    w.floats("first/first/kernel:0", {3, 2}, kK1);
    w.floats("first/first/bias:0", {2}, kB1);
    w.floats("second/second/kernel:0", {2, 4}, kK2);
    w.floats("second/second/bias:0", {4}, kB2);
    w.floats("third/third/kernel:0", {4, 1}, {1, 1, 1, 1});
    w.fixed_strings("/", "keras_version", {"2.2.4"});
    w.fixed_strings("/", "layer_names", {"first", "second", "third"});
    w.fixed_strings("/first", "weight_names", {"first/kernel:0", "first/bias:0"});
    w.fixed_strings("/second", "weight_names", {"second/kernel:0", "second/bias:0"});
    w.fixed_strings("/third", "weight_names", {"third/kernel:0"});
  }
  try {
    Model::load_json(keras2_two_dense_functional().dump(), slurp(legacy), "m2.json");
    ADD_FAILURE() << "loaded weights of another model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'third'"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

// ---- memory buffers ---------------------------------------------------------------------------------

TEST(Format, MemoryLoadsMatchPathLoads) {
  KERASRT_REQUIRE_CORPUS();
  auto dir = corpus_dir();
  for (const std::string& name : {std::string("nested_twice"), std::string("shared_submodel")}) {
    std::map<std::string, Tensor> inputs;
    for (auto& [k, a] : io::read_npz((dir / (name + ".inputs.npz")).string())) inputs[k] = a.tensor;
    auto keras = (dir / (name + ".keras")).string(), h5 = (dir / (name + ".h5")).string();
    auto cfg = (dir / (name + ".config.json")).string(), w = (dir / (name + ".weights.h5")).string();
    auto reference = Model::load(keras).predict(inputs);
    auto cfg_bytes = slurp(cfg);
    std::vector<Model> from_memory = {
        Model::load_keras(slurp(keras), name + ".keras"), Model::load_h5(slurp(h5), name + ".h5"),
        Model::load_json(std::string(cfg_bytes.begin(), cfg_bytes.end()), slurp(w), name + ".json")};
    std::vector<Model> from_paths = {Model::load(h5), Model::load(cfg, w)};
    for (const Model& m : from_memory) {
      auto got = m.predict(inputs);
      ASSERT_EQ(got.size(), reference.size());
      for (auto& [k, t] : reference) EXPECT_EQ(compare(t, got.at(k), 0, 0), "") << name << " " << k;
    }
    for (const Model& m : from_paths)
      for (auto& [k, t] : reference) EXPECT_EQ(compare(t, m.predict(inputs).at(k), 0, 0), "") << name << " " << k;
  }
}

// A legacy HDF5 model named .keras is still read (by content, not by name).
TEST(Format, HdfFileNamedKerasIsRead) {
  KERASRT_REQUIRE_CORPUS();
  auto dir = temp_dir("named");
  std::filesystem::copy_file(corpus_dir() / "nested_twice.h5", dir / "really_h5.keras");
  Model m = Model::load((dir / "really_h5.keras").string());
  EXPECT_EQ(m.inputs().size(), 1u);
  Model mem = Model::load_keras(slurp(dir / "really_h5.keras"), "mem.keras");
  EXPECT_EQ(mem.outputs().size(), 1u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kerasrt::testing

namespace kerasrt::testing {
namespace {

// An architecture alone (config.json without its weights file), like model_from_json(...).summary():
// every corpus case whose weighted layers kerasrt can size from the config gives the same layers and
// parameter counts as with its weights, and refuses to run.
TEST(Format, ArchitectureAloneHasTheSummaryOfTheModel) {
  KERASRT_REQUIRE_CORPUS();
  std::ifstream mf(corpus_dir() / "manifest.json");
  json manifest = json::parse(mf);
  int sized = 0, weighted = 0;
  for (const json& c : manifest["cases"]) {
    const std::string name = c["name"];
    const std::string status = c.value("status", "");
    if ((status != "ok" && status != "partial") || c.value("expect_unsupported", false)) continue;
    if (!std::filesystem::exists(corpus_dir() / (name + ".config.json"))) continue;
    std::ifstream cf(corpus_dir() / (name + ".config.json"));
    const std::string config((std::istreambuf_iterator<char>(cf)), std::istreambuf_iterator<char>());
    Model full = Model::load_json(config, slurp(corpus_dir() / (name + ".weights.h5")), name + ".json");
    int64_t params = 0;
    for (const auto& l : full.layers()) params += l.params;
    if (params == 0) continue;
    ++weighted;
    std::optional<Model> alone;
    try {
      alone.emplace(Model::load_json(config, {}, name + ".json"));
    } catch (const Error& e) {
      // A class it cannot size says which layer lacks weights.
      EXPECT_NE(std::string(e.what()).find("weight"), std::string::npos) << name << ": " << e.what();
      continue;
    }
    ++sized;
    auto a = alone->layers(), f = full.layers();
    ASSERT_EQ(a.size(), f.size()) << name;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].name, f[i].name) << name;
      EXPECT_EQ(a[i].params, f[i].params) << name << ", layer " << a[i].name;
      EXPECT_EQ(a[i].output_shapes, f[i].output_shapes) << name << ", layer " << a[i].name;
    }
    EXPECT_NE(alone->summary().find("Weights: not loaded"), std::string::npos) << name;
    std::vector<Tensor> zeros;
    for (const auto& in : alone->inputs()) {
      Shape s = in.shape;
      for (auto& d : s) d = d < 0 ? 1 : d;
      zeros.emplace_back(s, in.dtype);
    }
    EXPECT_THROW(alone->predict(zeros), Error) << name;
  }
  // Most weighted cases are dense, conv, normalization and recurrent models.
  EXPECT_GT(sized, weighted / 2) << sized << " of " << weighted;
  std::cout << "architecture alone: " << sized << " of " << weighted << " weighted corpus cases summarised\n";
}

}  // namespace
}  // namespace kerasrt::testing
