// Implicit masks (format/keras/implicit_masks.cpp): the corpus's Keras 3 mask cases rewritten as
// Keras 2 / tf.keras configs (no mask nodes, the mask riding with its tensor) and as Keras 3
// Sequential models, run with the corpus weights against the corpus's outputs and layer outputs.
#include <fstream>

#include "h5_writer.hpp"
#include "harness.hpp"
#include "io/npy.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

json corpus_config(const std::string& name) {
  std::ifstream f(corpus_dir() / (name + ".config.json"));
  return json::parse(f);
}

std::vector<uint8_t> corpus_weights(const std::string& name) {
  std::ifstream f(corpus_dir() / (name + ".weights.h5"), std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::map<std::string, Tensor> corpus_npz(const std::string& name, const std::string& kind) {
  std::map<std::string, Tensor> out;
  for (auto& [k, a] : io::read_npz((corpus_dir() / (name + "." + kind + ".npz")).string())) out[k] = a.tensor;
  return out;
}

// The Keras 3 functional config as tf.keras would have written it: no keras.ops nodes (the mask
// nodes), inbound nodes as [[layer, node, tensor, kwargs]] lists without the mask argument, no
// "module" keys, and the release it names.
json as_keras2(json config, const std::string& version) {
  json layers = json::array();
  for (json& l : config["config"]["layers"]) {
    if (l.contains("module") && l["module"].get<std::string>().rfind("keras.src.ops", 0) == 0) continue;
    l.erase("module");
    l.erase("registered_name");
    json nodes = json::array();
    for (const json& n : l["inbound_nodes"]) {
      const json& history = n["args"][0]["config"]["keras_history"];
      nodes.push_back(json::array({json::array({history[0], history[1], history[2], json::object()})}));
    }
    l["inbound_nodes"] = nodes;
    layers.push_back(l);
  }
  config["config"]["layers"] = layers;
  config.erase("module");
  config["keras_version"] = version;
  config["backend"] = "tensorflow";
  return config;
}

// The Keras 3 functional config as a Keras 3 Sequential model of the same layers.
json as_sequential(const json& config) {
  json layers = json::array();
  for (const json& l : config["config"]["layers"]) {
    if (l.contains("module") && l["module"].get<std::string>().rfind("keras.src.ops", 0) == 0) continue;
    json e = l;
    e.erase("inbound_nodes");
    e.erase("name");
    layers.push_back(e);
  }
  return {{"module", "keras"}, {"class_name", "Sequential"}, {"config", {{"name", "sequential"}, {"layers", layers}}}};
}

// Embedding(mask_zero=True) -> LSTM: the mask of the padded ids reaches the LSTM.
TEST(ImplicitMasks, EmbeddingMaskZeroIntoLstm) {
  KERASRT_REQUIRE_CORPUS();
  const std::string name = "embedding_mask_lstm";
  auto in = corpus_npz(name, "inputs");
  const Tensor want = corpus_npz(name, "outputs").at("lstm");
  // The inputs do hold padding, so an unmasked LSTM would differ.
  const Tensor& ids = in.begin()->second;
  const Tensor ids64 = ids.cast(DType::kInt64);
  auto id_values = ids64.values<int64_t>();
  ASSERT_TRUE(std::any_of(id_values.begin(), id_values.end(), [](int64_t v) { return v == 0; }));
  for (const json& model : {as_keras2(corpus_config(name), "2.13.1"), as_sequential(corpus_config(name))}) {
    Model m = Model::load_json(model.dump(), corpus_weights(name), name + ".json");
    std::map<std::string, Tensor> feed{{m.inputs().at(0).name, ids}};
    EXPECT_EQ(compare(want, m.predict(feed).begin()->second, 1e-4, 1e-4), "") << model["class_name"];
  }
  // Without mask_zero the same weights give other values.
  json unmasked = as_keras2(corpus_config(name), "2.13.1");
  unmasked["config"]["layers"][1]["config"]["mask_zero"] = false;
  Model u = Model::load_json(unmasked.dump(), corpus_weights(name), name + ".json");
  EXPECT_NE(compare(want, u.predict(std::map<std::string, Tensor>{{"tokens", ids}}).begin()->second, 1e-4, 1e-4), "");
}

// Masking -> LSTM(return_sequences) -> GRU in tf.keras form: the LSTM takes the mask of the
// all-zero steps (its output matches the corpus's layer output), and, as tf.keras passed the
// LSTM's output mask on, the GRU skips those steps too. (The Keras 3 corpus model calls its GRU with
// mask=None, so its GRU output differs.) Skipped steps carry the state: moving each sample's kept
// steps to the front leaves the GRU's result unchanged.
TEST(ImplicitMasks, MaskingThroughLstmIntoGru) {
  KERASRT_REQUIRE_CORPUS();
  const std::string name = "masking_lstm";
  auto in = corpus_npz(name, "inputs");
  auto layers = corpus_npz(name, "layers");
  Model m = Model::load_json(as_keras2(corpus_config(name), "2.4.0").dump(), corpus_weights(name), name + ".json");
  auto got = m.predict(in, {"lstm", "gru"});
  EXPECT_EQ(compare(layers.at("lstm"), got.at("lstm"), 1e-4, 1e-4), "");
  EXPECT_NE(compare(layers.at("gru"), got.at("gru"), 1e-4, 1e-4), "");
  const Tensor& x = in.begin()->second;
  const int64_t batch = x.shape[0], steps = x.shape[1], feat = x.shape[2];
  Tensor front(x.shape);
  bool moved = false;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t to = 0;
    for (int64_t t = 0; t < steps; ++t) {
      const float* step = &x.floats()[(b * steps + t) * feat];
      if (std::all_of(step, step + feat, [](float v) { return v == 0.f; })) continue;
      moved = moved || to != t;
      std::copy(step, step + feat, &front.floats()[(b * steps + to++) * feat]);
    }
  }
  ASSERT_TRUE(moved) << "the corpus input has no masked step before a kept one";
  auto compacted = m.predict(std::map<std::string, Tensor>{{in.begin()->first, front}}, {"gru"});
  EXPECT_EQ(compare(got.at("gru"), compacted.at("gru"), 1e-5, 1e-5), "");
}

// Masks merge: Add keeps a step where both inputs keep it; Concatenate over the features likewise.
TEST(ImplicitMasks, MergedMasksReachTheRnn) {
  // Two Masking layers on one (1, 3, 1) input, with mask values 1 and 2, added, into a SimpleRNN
  // with unit weights: h_t = tanh(x_t + h_{t-1}) over the steps neither mask drops.
  auto layer = [](const std::string& cls, const std::string& name, json config, std::vector<std::string> from) {
    config["name"] = name;
    config["trainable"] = true;
    json node = json::array();
    for (auto& f : from) node.push_back(json::array({f, 0, 0, json::object()}));
    return json{{"class_name", cls}, {"name", name}, {"config", config}, {"inbound_nodes", json::array({node})}};
  };
  for (const char* merge : {"Add", "Concatenate"}) {
    json model = {{"class_name", "Functional"},
                  {"keras_version", "2.11.0"},
                  {"config",
                   {{"name", "m"},
                    {"layers",
                     {{{"class_name", "InputLayer"},
                       {"name", "x"},
                       {"config", {{"batch_input_shape", {nullptr, 3, 1}}, {"dtype", "float32"}, {"name", "x"}}},
                       {"inbound_nodes", json::array()}},
                      layer("Masking", "m1", {{"mask_value", 1.0}}, {"x"}),
                      layer("Masking", "m2", {{"mask_value", 2.0}}, {"x"}),
                      layer(merge, "merged", {{"axis", -1}}, {"m1", "m2"}),
                      layer("SimpleRNN", "rnn",
                            {{"units", 1}, {"activation", "tanh"}, {"use_bias", false}, {"return_sequences", false}},
                            {"merged"})}},
                    {"input_layers", {{"x", 0, 0}}},
                    {"output_layers", {{"rnn", 0, 0}}}}}};
    const std::string dir = (std::filesystem::temp_directory_path() / ("kerasrt_masks_" + std::string(merge))).string();
    // Weights as tf.keras's save_weights writes them: one group per layer, kernel and recurrent kernel.
    std::filesystem::create_directories(dir);
    const int64_t in_features = std::string(merge) == "Add" ? 1 : 2;
    std::vector<float> kernel(static_cast<size_t>(in_features), 1.f);
    {
      H5Writer w(dir + "/w.h5");
      w.fixed_strings("/", "layer_names", {"x", "m1", "m2", "merged", "rnn"});
      w.vlen_string("/", "keras_version", "2.11.0");
      for (const char* g : {"x", "m1", "m2", "merged"}) w.group(g);
      w.floats("rnn/rnn/simple_rnn_cell/kernel:0", {static_cast<hsize_t>(in_features), 1}, kernel);
      w.floats("rnn/rnn/simple_rnn_cell/recurrent_kernel:0", {1, 1}, {1.f});
      w.fixed_strings("/rnn", "weight_names", {"rnn/simple_rnn_cell/kernel:0", "rnn/simple_rnn_cell/recurrent_kernel:0"});
    }
    std::ifstream f(dir + "/w.h5", std::ios::binary);
    std::vector<uint8_t> weights{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    Model m = Model::load_json(model.dump(), weights, "merge.json");
    // x = [3, 1, 2]: step 1 masked by m1, step 2 by m2; only step 0 counts.
    Tensor y = m.predict(std::vector<Tensor>{Tensor({1, 3, 1}, {3.f, 1.f, 2.f})}).at(0);
    // Add: the merged value at step 0 is 3 + 3 = 6; Concatenate: [3, 3] with unit kernel = 6.
    EXPECT_NEAR(y.floats()[0], std::tanh(6.f), 1e-6) << merge;
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace kerasrt::testing
