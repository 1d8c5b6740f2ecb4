// Behaviours that changed between Keras releases follow the release that saved the file
// (format/keras/keras_version.hpp): corpus files with their version field edited, and hand-written
// configs, against values computed by hand.
#include <fstream>

#include "format/keras/keras_version.hpp"
#include "h5_writer.hpp"
#include "harness.hpp"
#include "io/npy.hpp"
#include "zip_edit.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("kerasrt_versions_" + std::to_string(::getpid()) + "_" + name);
}

std::map<std::string, Tensor> inputs_of(const std::string& name) {
  std::map<std::string, Tensor> in;
  for (auto& [k, a] : io::read_npz((corpus_dir() / (name + ".inputs.npz")).string())) in[k] = a.tensor;
  return in;
}

Tensor output_of(const std::string& name) {
  auto out = io::read_npz((corpus_dir() / (name + ".outputs.npz")).string());
  return out.at(0).second.tensor;
}

// A copy of a corpus .keras archive whose metadata.json names another release.
Model keras_saved_by(const std::string& name, const std::string& version) {
  auto path = temp_path(name + "_" + version + ".keras");
  json meta = {{"keras_version", version}, {"date_saved", "2026-01-01@00:00:00"}};
  EXPECT_EQ(rewrite_entry((corpus_dir() / (name + ".keras")).string(), path.string(), "metadata.json", meta.dump()), "");
  Model m = Model::load(path.string());
  std::filesystem::remove(path);
  return m;
}

// A copy of a corpus legacy .h5 whose keras_version attribute names another release.
Model h5_saved_by(const std::string& name, const std::string& version) {
  auto path = temp_path(name + "_" + version + ".h5");
  std::filesystem::copy_file(corpus_dir() / (name + ".h5"), path, std::filesystem::copy_options::overwrite_existing);
  {
    H5Writer w(path.string(), true);
    w.remove_attr("/", "keras_version");
    w.vlen_string("/", "keras_version", version);
  }
  Model m = Model::load(path.string());
  std::filesystem::remove(path);
  return m;
}

TEST(KerasVersions, ParsesReleaseStrings) {
  using format::parse_keras_version;
  auto v = parse_keras_version("3.15.1");
  EXPECT_EQ(v.major, 3);
  EXPECT_EQ(v.minor, 15);
  EXPECT_EQ(v.patch, 1);
  EXPECT_TRUE(v.before(3, 16));
  EXPECT_FALSE(v.before(3, 15, 1));
  EXPECT_EQ(parse_keras_version("2.2.4-tf").minor, 2);
  EXPECT_EQ(parse_keras_version("3.16.0.dev2026082203").minor, 16);
  EXPECT_FALSE(parse_keras_version("").known());
  EXPECT_FALSE(parse_keras_version("unknown").known());
  EXPECT_FALSE(parse_keras_version("").before(3, 16));  // a file that says nothing gets the newest behaviour
}

// Keras 3.0-3.15 gave every layer predict's training=False whatever its node recorded; 3.16 keeps a
// recorded training=True. The corpus case (saved by 3.16) equalizes inside its Pipeline.
TEST(KerasVersions, RecordedTrainingFollowsTheRelease) {
  KERASRT_REQUIRE_CORPUS();
  const std::string name = "equalization_pipeline_training";
  auto in = inputs_of(name);
  const Tensor& x = in.begin()->second;
  Tensor equalized = output_of(name);
  ASSERT_NE(compare(x, equalized, 1e-4, 1e-4), "");  // the case does change its input
  EXPECT_EQ(compare(equalized, keras_saved_by(name, "3.16.0").predict(in).begin()->second, 1e-4, 1e-4), "");
  EXPECT_EQ(compare(x, keras_saved_by(name, "3.15.1").predict(in).begin()->second, 0, 0), "");
  EXPECT_EQ(compare(x, h5_saved_by(name, "3.15.0").predict(in).begin()->second, 0, 0), "");
  EXPECT_EQ(compare(equalized, h5_saved_by(name, "3.16.0").predict(in).begin()->second, 1e-4, 1e-4), "");
}

// A Keras 3.15 file records training=True on its augmentation layers (their call's default); at
// inference they pass their input through. From 3.16 a recorded True means random augmentation,
// which kerasrt refuses.
TEST(KerasVersions, AugmentationRecordedTrainingIn315) {
  json model = {
      {"class_name", "Functional"},
      {"config",
       {{"name", "aug"},
        {"layers",
         {{{"module", "keras.layers"},
           {"class_name", "InputLayer"},
           {"name", "x"},
           {"config", {{"batch_shape", {nullptr, 4, 4, 1}}, {"dtype", "float32"}, {"name", "x"}}},
           {"inbound_nodes", json::array()}},
          {{"module", "keras.layers"},
           {"class_name", "RandomFlip"},
           {"name", "flip"},
           {"config", {{"name", "flip"}, {"mode", "horizontal"}, {"seed", nullptr}}},
           {"inbound_nodes",
            {{{"args", {{{"class_name", "__keras_tensor__"},
                         {"config", {{"shape", {nullptr, 4, 4, 1}}, {"dtype", "float32"}, {"keras_history", {"x", 0, 0}}}}}}},
              {"kwargs", {{"training", true}}}}}}}}},
        {"input_layers", {{"x", 0, 0}}},
        {"output_layers", {{"flip", 0, 0}}}}}};
  model["keras_version"] = "3.15.0";
  std::mt19937 rng(3);
  Tensor x = random_tensor({1, 4, 4, 1}, rng);
  Model m = Model::load_json(model.dump(), {}, "aug315.json");
  EXPECT_EQ(compare(x, m.predict(std::vector<Tensor>{x}).at(0), 0, 0), "");
  model["keras_version"] = "3.16.0";
  EXPECT_THROW(Model::load_json(model.dump(), {}, "aug316.json"), Error);
}

// A Sequential Keras 2 config: one Activation layer.
json keras2_activation(const std::string& activation, const std::string& version) {
  return {{"class_name", "Sequential"},
          {"keras_version", version},
          {"backend", "tensorflow"},
          {"config",
           {{"name", "seq"},
            {"layers",
             {{{"class_name", "Activation"},
               {"config", {{"name", "act"}, {"activation", activation}, {"batch_input_shape", {nullptr, 5}}}}}}}}}};
}

// hard_sigmoid: clip(0.2 x + 0.5) in Keras 1/2 and tf.keras, relu6(x + 3) / 6 in Keras 3.
TEST(KerasVersions, HardSigmoidSlope) {
  Tensor x({1, 5}, {-3.f, -1.f, 0.f, 1.f, 2.f});
  Tensor k2 = Model::load_json(keras2_activation("hard_sigmoid", "2.2.4-tf").dump(), {}, "k2.json")
                  .predict(std::vector<Tensor>{x})
                  .at(0);
  Tensor k3 = Model::load_json(keras2_activation("hard_sigmoid", "3.8.0").dump(), {}, "k3.json")
                  .predict(std::vector<Tensor>{x})
                  .at(0);
  EXPECT_EQ(compare(Tensor({1, 5}, {0.f, 0.3f, 0.5f, 0.7f, 0.9f}), k2, 1e-6, 1e-6), "");
  EXPECT_EQ(compare(Tensor({1, 5}, {0.f, 1.f / 3, 0.5f, 2.f / 3, 5.f / 6}), k3, 1e-6, 1e-6), "");
}

// A Keras 3 functional config: sparsemax over `axis` (an ops node) of a (rows, n) input.
json sparsemax_model(int64_t n, int axis, const std::string& version) {
  json kt = {{"class_name", "__keras_tensor__"},
             {"config", {{"shape", {nullptr, n}}, {"dtype", "float32"}, {"keras_history", {"x", 0, 0}}}}};
  json m = {{"class_name", "Functional"},
            {"config",
             {{"name", "sm"},
              {"layers",
               {{{"module", "keras.layers"},
                 {"class_name", "InputLayer"},
                 {"name", "x"},
                 {"config", {{"batch_shape", {nullptr, n}}, {"dtype", "float32"}, {"name", "x"}}},
                 {"inbound_nodes", json::array()}},
                {{"module", "keras.src.ops.nn"},
                 {"class_name", "Sparsemax"},
                 {"name", "sparsemax"},
                 {"config", {{"name", "sparsemax"}, {"axis", axis}}},
                 {"inbound_nodes", {{{"args", {kt}}, {"kwargs", json::object()}}}}}}},
              {"input_layers", {{"x", 0, 0}}},
              {"output_layers", {{"sparsemax", 0, 0}}}}}};
  if (!version.empty()) m["keras_version"] = version;
  return m;
}

Tensor sparsemax(const Tensor& x, int axis, const std::string& version) {
  return Model::load_json(sparsemax_model(x.shape[1], axis, version).dump(), {}, "sparsemax.json")
      .predict(std::vector<Tensor>{x})
      .at(0);
}

// Rows worked by hand: z sorted descending, support = {i : 1 + i z_i > cumsum_i}, k its size,
// tau = (cumsum_k - 1) / k; Keras before 3.16 took tau = (sum of the support's cumsums - 1) / k.
TEST(KerasVersions, SparsemaxByHand) {
  // [0, .5, 1]: cumsums 1, 1.5, 1.5; k = 2; tau = .25 (before 3.16: (1 + 1.5 - 1) / 2 = .75).
  // ties [1, 1, 0]: cumsums 1, 2, 2; k = 2; tau = .5 (before: (1 + 2 - 1) / 2 = 1).
  // large [1000, 0, -1000]: k = 1; tau = 999 either way.
  Tensor x({3, 3}, {0.f, 0.5f, 1.f, 1.f, 1.f, 0.f, 1000.f, 0.f, -1000.f});
  EXPECT_EQ(compare(Tensor({3, 3}, {0.f, 0.25f, 0.75f, 0.5f, 0.5f, 0.f, 1.f, 0.f, 0.f}), sparsemax(x, -1, ""), 1e-6, 1e-6), "");
  EXPECT_EQ(compare(Tensor({3, 3}, {0.f, 0.f, 0.25f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f}), sparsemax(x, -1, "3.15.1"), 1e-6, 1e-6), "");
  EXPECT_EQ(compare(Tensor({3, 3}, {0.f, 0.25f, 0.75f, 0.5f, 0.5f, 0.f, 1.f, 0.f, 0.f}), sparsemax(x, 1, "3.16.0"), 1e-6, 1e-6), "");
  // all equal [2, 2, 2, 2]: every entry in the support, tau = (8 - 1) / 4, each 1/4 (before 3.16:
  // tau = (2 + 4 + 6 + 8 - 1) / 4 = 4.75, all zero). [.1 .. .5]: k = 4, tau = .1.
  Tensor eq({2, 5}, {2.f, 2.f, 2.f, 2.f, -5.f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f});
  EXPECT_EQ(compare(Tensor({2, 5}, {0.25f, 0.25f, 0.25f, 0.25f, 0.f, 0.f, 0.1f, 0.2f, 0.3f, 0.4f}), sparsemax(eq, -1, ""), 1e-6, 1e-6), "");
  EXPECT_EQ(compare(Tensor({2, 5}, {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}), sparsemax(eq, -1, "3.15.1"), 1e-6, 1e-6), "");
  // Over axis 0 (columns of the [3, 3] x): [0, 1, 1000] -> [0, 0, 1]; [.5, 1, 0] -> cumsums 1, 1.5,
  // 1.5, k = 2, tau = .25 -> [.25, .75, 0]; [1, 0, -1000] -> [1, 0, 0].
  EXPECT_EQ(compare(Tensor({3, 3}, {0.f, 0.25f, 1.f, 0.f, 0.75f, 0.f, 1.f, 0.f, 0.f}), sparsemax(x, 0, ""), 1e-6, 1e-6), "");
}

}  // namespace
}  // namespace kerasrt::testing

namespace kerasrt::testing {
namespace {

// A Keras 3 functional config: one AveragePooling layer ("same" padding) on a (1, dims..., 1) input.
json avg_pool_model(const std::string& cls, json dims, json pool, json strides, const std::string& version,
                    const std::string& backend) {
  json shape = {nullptr};
  for (auto& d : dims) shape.push_back(d);
  shape.push_back(1);
  json kt = {{"class_name", "__keras_tensor__"},
             {"config", {{"shape", shape}, {"dtype", "float32"}, {"keras_history", {"x", 0, 0}}}}};
  json m = {{"class_name", "Functional"},
            {"keras_version", version},
            {"config",
             {{"name", "pool"},
              {"layers",
               {{{"module", "keras.layers"},
                 {"class_name", "InputLayer"},
                 {"name", "x"},
                 {"config", {{"batch_shape", shape}, {"dtype", "float32"}, {"name", "x"}}},
                 {"inbound_nodes", json::array()}},
                {{"module", "keras.layers"},
                 {"class_name", cls},
                 {"name", "p"},
                 {"config", {{"name", "p"}, {"pool_size", pool}, {"strides", strides}, {"padding", "same"},
                             {"data_format", "channels_last"}}},
                 {"inbound_nodes", {{{"args", {kt}}, {"kwargs", json::object()}}}}}}},
              {"input_layers", {{"x", 0, 0}}},
              {"output_layers", {{"p", 0, 0}}}}}};
  if (!backend.empty()) m["backend"] = backend;
  return m;
}

Tensor pool(const json& model, const Tensor& x) {
  return Model::load_json(model.dump(), {}, "pool.json").predict(std::vector<Tensor>{x}).at(0);
}

// Keras 3.0-3.15 on torch: uneven "same" padding replicates the edges and averages whole windows.
TEST(KerasVersions, AveragePoolingSamePaddingBefore316) {
  // 1-D, length 4, pool 3, stride 2: padding 1, all at the end. Windows [1 2 3] and [3 4 (4)]:
  // 2 and 11/3 before 3.16 (torch), 2 and 3.5 (the cells inside the input) otherwise.
  Tensor x1({1, 4, 1}, {1, 2, 3, 4});
  json m1 = avg_pool_model("AveragePooling1D", {4}, {3}, {2}, "3.15.1", "");
  EXPECT_EQ(compare(Tensor({1, 2, 1}, {2.f, 11.f / 3}), pool(m1, x1), 1e-6, 1e-6), "");
  m1["keras_version"] = "3.16.0";
  EXPECT_EQ(compare(Tensor({1, 2, 1}, {2.f, 3.5f}), pool(m1, x1), 1e-6, 1e-6), "");
  m1["keras_version"] = "3.15.1";
  m1["backend"] = "tensorflow";  // only torch replicated
  EXPECT_EQ(compare(Tensor({1, 2, 1}, {2.f, 3.5f}), pool(m1, x1), 1e-6, 1e-6), "");
  // 2-D 3x4, pool 3x3, strides (1, 2): rows pad 1 + 1 (even), columns 0 + 1 (uneven), so every axis
  // replicates. Output (0, 1) covers rows {0, 0, 1} and columns {2, 3, 3}:
  // (3 + 4 + 4) * 2 + (7 + 8 + 8) = 45 over 9 cells = 5.
  Tensor x2({1, 3, 4, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  Tensor legacy = pool(avg_pool_model("AveragePooling2D", {3, 4}, {3, 3}, {1, 2}, "3.15.0", "torch"), x2);
  ASSERT_EQ(legacy.shape, (Shape{1, 3, 2, 1}));
  EXPECT_NEAR(legacy.floats()[1], 5.f, 1e-5);
  // The same cell from the cells inside the input: rows {0, 1} x columns {2, 3} = (3+4+7+8)/4 = 5.5.
  Tensor now = pool(avg_pool_model("AveragePooling2D", {3, 4}, {3, 3}, {1, 2}, "3.16.0", "torch"), x2);
  EXPECT_NEAR(now.floats()[1], 5.5f, 1e-5);
  // Even padding everywhere (3x3 pool, stride 1 on 3x3): the same either way.
  Tensor x3({1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(compare(pool(avg_pool_model("AveragePooling2D", {3, 3}, {3, 3}, {1, 1}, "3.16.0", ""), x3),
                    pool(avg_pool_model("AveragePooling2D", {3, 3}, {3, 3}, {1, 1}, "3.15.1", ""), x3), 0, 0),
            "");
}

}  // namespace
}  // namespace kerasrt::testing
