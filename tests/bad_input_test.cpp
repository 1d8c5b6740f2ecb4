// Bad input never crashes: truncated or corrupted files of every form, archives without a config,
// configs that name missing weights or weights of the wrong shape, wrong inputs, the weights of
// another model. The library throws a kerasrt::Error naming the file (and the layer where there is
// one); the CLI prints one line on stderr and exits with code 2.
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include <fstream>
#include <sstream>

#include "h5_writer.hpp"
#include "harness.hpp"
#include "io/npy.hpp"
#include "io/zip.hpp"
#include "zip_edit.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

std::vector<uint8_t> slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void spit(const std::filesystem::path& p, std::span<const uint8_t> bytes) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::string text(const std::filesystem::path& p) {
  auto b = slurp(p);
  return std::string(b.begin(), b.end());
}

// A scratch copy of one corpus case's files.
class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    KERASRT_REQUIRE_CORPUS();
    dir_ = std::filesystem::temp_directory_path() / ("kerasrt_bad_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    for (const char* ext : {".keras", ".h5", ".config.json", ".weights.h5", ".inputs.npz"})
      std::filesystem::copy_file(corpus_dir() / (std::string(kCase) + ext), dir_ / (std::string("m") + ext),
                                 std::filesystem::copy_options::overwrite_existing);
    for (auto& [k, a] : io::read_npz(path(".inputs.npz"))) inputs_[k] = a.tensor;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string path(const std::string& ext) const { return (dir_ / ("m" + ext)).string(); }
  std::string scratch(const std::string& name) const { return (dir_ / name).string(); }

  // Loads a form (and runs it); "" when that worked, else the Error's message.
  std::string attempt(const std::string& model, const std::string& weights = "") const {
    try {
      Model m = Model::load(model, weights);
      m.predict(inputs_);
      return "";
    } catch (const Error& e) {
      std::string msg = e.what();
      return msg.empty() ? "(empty message)" : msg;
    }
  }

  static constexpr const char* kCase = "nested_twice";
  std::filesystem::path dir_;
  std::map<std::string, Tensor> inputs_;
};

bool only_whitespace(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t c) { return std::isspace(c); });
}

std::vector<size_t> cut_points(size_t size) {
  std::vector<size_t> cuts = {0, 1, 4, 8, 16, 64, 200, 512};
  for (size_t i = 1; i < 24; ++i) cuts.push_back(size * i / 24);
  for (size_t back : {64, 16, 4, 1}) cuts.push_back(size - back);
  std::erase_if(cuts, [&](size_t c) { return c >= size; });
  return cuts;
}

// Every form cut short at many offsets: always an Error naming the cut file.
TEST_F(BadInput, TruncatedFilesOfEveryForm) {
  struct Form {
    std::string ext;
    bool is_weights, is_inputs;
  };
  for (const Form& form : {Form{".keras", false, false}, Form{".h5", false, false}, Form{".config.json", false, false},
                           Form{".weights.h5", true, false}, Form{".inputs.npz", false, true}}) {
    auto bytes = slurp(path(form.ext));
    std::string cut_path = scratch("cut" + form.ext);
    for (size_t cut : cut_points(bytes.size())) {
      spit(cut_path, std::span(bytes).first(cut));
      std::string msg;
      if (form.is_weights) msg = attempt(path(".config.json"), cut_path);
      else if (form.ext == ".config.json") msg = attempt(cut_path, path(".weights.h5"));
      else if (form.is_inputs) {
        try {
          io::read_npz(cut_path);
        } catch (const Error& e) {
          msg = e.what();
        }
      } else {
        msg = attempt(cut_path);
      }
      if (msg.empty() && form.ext == ".config.json" && only_whitespace(std::span(bytes).subspan(cut))) continue;
      EXPECT_NE(msg, "") << form.ext << " cut at " << cut << " of " << bytes.size() << " was accepted";
      EXPECT_NE(msg.find(cut_path), std::string::npos) << form.ext << " cut at " << cut << ": " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

// Random bytes overwritten anywhere: the model loads (a weight changed) or an Error names the file.
TEST_F(BadInput, CorruptedBytesNeverCrash) {
  std::mt19937 rng(20240611);
  for (const std::string ext : {".keras", ".h5", ".weights.h5", ".config.json"}) {
    auto bytes = slurp(path(ext));
    std::string bad_path = scratch("bad" + ext);
    int errors = 0;
    for (int round = 0; round < 30; ++round) {
      auto copy = bytes;
      int flips = 1 + static_cast<int>(rng() % 12);
      for (int k = 0; k < flips; ++k) copy[rng() % copy.size()] = static_cast<uint8_t>(rng());
      spit(bad_path, copy);
      std::string msg = ext == ".weights.h5" ? attempt(path(".config.json"), bad_path)
                        : ext == ".config.json" ? attempt(bad_path, path(".weights.h5"))
                                                : attempt(bad_path);
      if (msg.empty()) continue;
      ++errors;
      EXPECT_NE(msg.find(bad_path), std::string::npos) << ext << ": " << msg;
    }
    EXPECT_GT(errors, 0) << ext;
  }
}

// ---- archives rewritten with libzip --------------------------------------------------------------

TEST_F(BadInput, ArchiveWithoutConfigJson) {
  std::string p = scratch("noconfig.keras");
  ASSERT_EQ(rewrite_entry(path(".keras"), p, "config.json", "", true), "");
  std::string msg = attempt(p);
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  // An empty zip, and a zip of something else entirely.
  std::vector<uint8_t> end_record = {'P', 'K', 5, 6};  // an archive with nothing in it
  end_record.resize(22, 0);
  spit(scratch("empty.keras"), end_record);
  EXPECT_NE(attempt(scratch("empty.keras")).find("config.json"), std::string::npos);
  io::write_zip(scratch("other.keras"), {{"readme.txt", {'h', 'i'}}});
  EXPECT_NE(attempt(scratch("other.keras")).find("config.json"), std::string::npos);
}

TEST_F(BadInput, ConfigJsonRewrittenInsideTheArchive) {
  json cfg = json::parse(text(path(".config.json")));
  // The innermost Dense ("deep" model's "dense") with another size: its stored kernel no longer fits.
  json wrong_units = cfg;
  json& mid = wrong_units["config"]["layers"][1];
  json& deep = mid["config"]["layers"][1];
  ASSERT_EQ(deep["class_name"], "Functional");
  ASSERT_EQ(deep["config"]["layers"][1]["class_name"], "Dense");
  deep["config"]["layers"][1]["config"]["units"] = 5;
  std::string p = scratch("units.keras");
  ASSERT_EQ(rewrite_entry(path(".keras"), p, "config.json", wrong_units.dump()), "");
  std::string msg = attempt(p);
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer 'mid/deep/dense'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("shape"), std::string::npos) << msg;

  // Not JSON at all, JSON that is not a model, a model of an unknown class.
  for (const std::string& bad : {std::string("{\"class_name\": \"Functional\", \"config\": {"), std::string("[1, 2, 3]"),
                                 std::string("{\"class_name\": \"Functional\", \"config\": {\"layers\": 7}}"),
                                 std::string("{\"class_name\": \"Graph\", \"config\": {}}"),
                                 std::string(3000, '[') + std::string(3000, ']')}) {
    ASSERT_EQ(rewrite_entry(path(".keras"), p, "config.json", bad), "");
    msg = attempt(p);
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
  }

  // The archive without its weights: the first layer with weights says what is missing.
  std::string no_weights = scratch("noweights.keras");
  ASSERT_EQ(rewrite_entry(path(".keras"), no_weights, "model.weights.h5", "", true), "");
  msg = attempt(no_weights);
  EXPECT_NE(msg.find(no_weights), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer '"), std::string::npos) << msg;
  EXPECT_NE(msg.find("weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.weights.h5"), std::string::npos) << msg;
}

// ---- HDF5 edited with the C library ----------------------------------------------------------------

TEST_F(BadInput, DroppedDatasets) {
  // Keras 3 weights: the inner Dense's kernel removed.
  std::string w = scratch("dropped.weights.h5");
  std::filesystem::copy_file(path(".weights.h5"), w);
  {
    H5Writer h5(w, true);
    ASSERT_TRUE(h5.ok());
    ASSERT_TRUE(h5.remove("layers/functional/layers/functional/layers/dense/vars/1"));
  }
  std::string msg = attempt(path(".config.json"), w);
  EXPECT_NE(msg.find("layer 'mid/deep/dense'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(w), std::string::npos) << msg;

  // Legacy .h5: a dataset listed in weight_names that is not there.
  std::string h = scratch("dropped.h5");
  std::filesystem::copy_file(path(".h5"), h);
  {
    H5Writer h5(h, true);
    ASSERT_TRUE(h5.remove("model_weights/mid/dense_1/kernel"));
  }
  msg = attempt(h);
  EXPECT_NE(msg.find(h), std::string::npos) << msg;
  EXPECT_NE(msg.find("dense_1/kernel"), std::string::npos) << msg;

  // Legacy .h5 without its model_config.
  std::string nc = scratch("noconfig.h5");
  std::filesystem::copy_file(path(".h5"), nc);
  {
    H5Writer h5(nc, true);
    ASSERT_TRUE(h5.remove_attr("/", "model_config"));
  }
  msg = attempt(nc);
  EXPECT_NE(msg.find(nc), std::string::npos) << msg;
  EXPECT_NE(msg.find("model_config"), std::string::npos) << msg;
}

// Small files made from scratch: each names what is wrong.
TEST_F(BadInput, TinyHdf5Files) {
  const std::string dense_seq =
      R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)"
      R"({"class_name": "InputLayer", "config": {"batch_shape": [null, 3], "name": "x"}},)"
      R"({"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "linear", "use_bias": true}}]}})";
  auto make = [&](const std::string& name, auto&& fill) {
    std::string p = scratch(name);
    H5Writer h5(p);
    fill(h5);
    return p;
  };
  std::string empty = make("empty.h5", [](H5Writer&) {});
  EXPECT_NE(attempt(empty).find("not a Keras model"), std::string::npos) << attempt(empty);
  std::string notjson = make("notjson.h5", [](H5Writer& h) { h.vlen_string("/", "model_config", "{not json"); });
  EXPECT_NE(attempt(notjson).find("JSON"), std::string::npos) << attempt(notjson);
  std::string numeric = make("numeric.h5", [](H5Writer& h) { h.number_attr("/", "model_config", 1.0); });
  EXPECT_NE(attempt(numeric).find(numeric), std::string::npos) << attempt(numeric);
  auto legacy_dense = [&](H5Writer& h, const std::vector<hsize_t>& kernel_dims, size_t values) {
    h.vlen_string("/", "model_config", dense_seq);
    h.group("model_weights/d");
    h.fixed_strings("/model_weights", "layer_names", {"d"});
    h.fixed_strings("/model_weights", "keras_version", {"3.16.0"});
    h.fixed_strings("/model_weights/d", "weight_names", {"d/kernel", "d/bias"});
    h.floats("model_weights/d/d/kernel", kernel_dims, std::vector<float>(values, 0.5f));
    h.floats("model_weights/d/d/bias", {2}, {0.f, 1.f});
  };
  std::string good = make("good.h5", [&](H5Writer& h) { legacy_dense(h, {3, 2}, 6); });
  EXPECT_NO_THROW(Model::load(good));
  std::string wrong = make("wrong_shape.h5", [&](H5Writer& h) { legacy_dense(h, {2, 3}, 6); });
  std::string msg = attempt(wrong);
  EXPECT_NE(msg.find(wrong), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer 'd'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(2, 3)"), std::string::npos) << msg;
  // A dataset whose header claims billions of values but stores none: refused, nothing allocated.
  std::string huge = make("huge.h5", [&](H5Writer& h) {
    h.vlen_string("/", "model_config", dense_seq);
    h.fixed_strings("/", "layer_names", {"d"});
    h.group("model_weights/d");
    h.fixed_strings("/model_weights", "layer_names", {"d"});
    h.fixed_strings("/model_weights/d", "weight_names", {"d/kernel", "d/bias"});
    hsize_t dims[2] = {1u << 18, 1u << 10}, chunk[2] = {64, 64};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Dclose(H5Dcreate2(h.id(), "model_weights/d/d/kernel", H5T_NATIVE_FLOAT, space, lcpl, dcpl, H5P_DEFAULT));
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
    h.floats("model_weights/d/d/bias", {2}, {0.f, 1.f});
  });
  msg = attempt(huge);
  EXPECT_NE(msg.find(huge), std::string::npos) << msg;
  EXPECT_NE(msg.find("d/kernel"), std::string::npos) << msg;
  // A weights-only file given as a model.
  msg = attempt(path(".weights.h5"));
  EXPECT_NE(msg.find("weights only"), std::string::npos) << msg;
}

// ---- inputs and pairing ------------------------------------------------------------------------------

TEST_F(BadInput, WrongInputs) {
  Model m = Model::load(path(".keras"));
  const std::string name = m.inputs().at(0).name;
  auto refuses = [&](std::map<std::string, Tensor> in, const std::string& why) {
    try {
      m.predict(in);
      ADD_FAILURE() << "accepted " << why;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("input"), std::string::npos) << e.what();
    }
  };
  refuses({{name, Tensor({3, 5})}}, "wrong last dimension");
  refuses({{name, Tensor({3})}}, "wrong rank");
  refuses({{name, Tensor({3, 4, 1})}}, "extra axis");
  refuses({}, "no input");
  refuses({{name, Tensor({3, 4})}, {"extra", Tensor({1})}}, "an unknown input");
  EXPECT_THROW(Tensor(Shape{3, 4}, std::vector<float>(5)), Error) << "too few values for the shape";
  Tensor claims_more(Shape{1, 4});
  claims_more.shape = {3, 4};
  refuses({{name, claims_more}}, "a shape that claims more values than the tensor holds");
  EXPECT_THROW(m.predict(std::vector<Tensor>{}), Error);
  // An input array of a dtype numpy can hold but kerasrt cannot take.
  std::string complex_npz = scratch("complex.npz");
  std::string header = "{'descr': '<c8', 'fortran_order': False, 'shape': (3, 4), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> npy = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<uint8_t>(header.size()), 0};
  npy.insert(npy.end(), header.begin(), header.end());
  npy.resize(npy.size() + 3 * 4 * 8, 0);
  io::write_zip(complex_npz, {{"x.npy", npy}});
  try {
    io::read_npz(complex_npz);
    ADD_FAILURE() << "a complex array was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(complex_npz), std::string::npos) << e.what();
  }
}

TEST_F(BadInput, WeightsFileOfAnotherModel) {
  std::string other = scratch("other.weights.h5");
  std::filesystem::copy_file(corpus_dir() / "sequential_mlp.weights.h5", other);
  std::string msg = attempt(path(".config.json"), other);
  EXPECT_NE(msg, "");
  EXPECT_NE(msg.find(other), std::string::npos) << msg;
  // And the other way round: a smaller model given this file.
  std::string seq_cfg = scratch("seq.config.json");
  std::filesystem::copy_file(corpus_dir() / "sequential_mlp.config.json", seq_cfg);
  msg = attempt(seq_cfg, path(".weights.h5"));
  EXPECT_NE(msg, "");
  EXPECT_NE(msg.find(path(".weights.h5")), std::string::npos) << msg;
  // A full-model file given extra weights, a JSON given a model file as weights.
  EXPECT_NE(attempt(path(".keras"), path(".weights.h5")).find("drop --weights"), std::string::npos);
  EXPECT_NE(attempt(path(".config.json"), path(".keras")), "");
}

// Values of the config mutated at random: loads, or an Error naming the file.
TEST_F(BadInput, MutatedConfigValues) {
  json cfg = json::parse(text(path(".config.json")));
  std::vector<json::json_pointer> leaves;
  std::function<void(const json&, const json::json_pointer&)> walk = [&](const json& j, const json::json_pointer& at) {
    if (j.is_object())
      for (auto it = j.begin(); it != j.end(); ++it) walk(it.value(), at / it.key());
    else if (j.is_array())
      for (size_t i = 0; i < j.size(); ++i) walk(j[i], at / i);
    else
      leaves.push_back(at);
  };
  walk(cfg, json::json_pointer());
  const std::vector<json> values = {0, -1, 1, 1000000000, 1e300, "", "x", nullptr, true, json::array(), json::object(),
                                    json::array({-5, -5})};
  std::mt19937 rng(7);
  std::string p = scratch("mutated.config.json");
  for (int round = 0; round < 40; ++round) {
    json copy = cfg;
    for (int k = 0; k < 2; ++k) copy[leaves[rng() % leaves.size()]] = values[rng() % values.size()];
    std::ofstream(p) << copy.dump();
    std::string msg = attempt(p, path(".weights.h5"));
    if (!msg.empty()) EXPECT_NE(msg.find(p), std::string::npos) << msg;
  }
}

// ---- the CLI ---------------------------------------------------------------------------------------

struct CliResult {
  int code;
  std::string err;
};

CliResult cli(const std::string& args, const std::filesystem::path& dir) {
  std::string cmd = std::string(KERASRT_CLI_PATH) + " " + args + " >/dev/null 2>" + (dir / "stderr.txt").string();
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text(dir / "stderr.txt")};
}

TEST_F(BadInput, CliPrintsOneLineAndExits2) {
  auto keras = slurp(path(".keras"));
  spit(scratch("cut.keras"), std::span(keras).first(keras.size() / 2));
  auto h5 = slurp(path(".h5"));
  spit(scratch("cut.h5"), std::span(h5).first(h5.size() / 3));
  auto w = slurp(path(".weights.h5"));
  for (size_t i = 600; i < w.size(); i += 997) w[i] ^= 0x5a;
  spit(scratch("flipped.weights.h5"), w);
  ASSERT_EQ(rewrite_entry(path(".keras"), scratch("noconfig.keras"), "config.json", "", true), "");
  io::write_npz(scratch("wrong_shape.npz"), {{"x", Tensor({3, 7})}});
  spit(scratch("garbage.npz"), std::vector<uint8_t>(100, 'z'));
  std::filesystem::copy_file(corpus_dir() / "sequential_mlp.weights.h5", scratch("other.weights.h5"));

  const std::string in = " --input " + path(".inputs.npz") + " --output " + scratch("out.npz");
  struct Case {
    std::string args, must_name;
  };
  const std::vector<Case> cases = {
      {"run " + scratch("cut.keras") + in, scratch("cut.keras")},
      {"run " + scratch("cut.h5") + in, scratch("cut.h5")},
      {"info " + scratch("noconfig.keras"), scratch("noconfig.keras")},
      {"run " + path(".config.json") + " --weights " + scratch("other.weights.h5") + in, scratch("other.weights.h5")},
      {"run " + path(".keras") + " --input " + scratch("garbage.npz") + " --output " + scratch("o.npz"),
       scratch("garbage.npz")},
      {"run " + path(".keras") + " --input " + scratch("wrong_shape.npz") + " --output " + scratch("o.npz"),
       scratch("wrong_shape.npz")},
      {"info " + scratch("missing.keras"), scratch("missing.keras")},
  };
  for (const Case& c : cases) {
    CliResult r = cli(c.args, dir_);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.must_name), std::string::npos) << c.args << "\n" << r.err;
  }
  // Flipped weight bytes may still load; if not, the same contract holds.
  CliResult r = cli("run " + path(".config.json") + " --weights " + scratch("flipped.weights.h5") + in, dir_);
  EXPECT_TRUE(r.code == 0 || (r.code == 2 && std::count(r.err.begin(), r.err.end(), '\n') == 1)) << r.err;
}

}  // namespace
}  // namespace kerasrt::testing

namespace kerasrt::testing {
namespace {

std::string load_error(const nlohmann::json& model) {
  try {
    Model::load_json(model.dump(), {}, "small.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

nlohmann::json two_layer_functional(const std::string& first, const std::string& second, nlohmann::json shape) {
  using nlohmann::json;
  auto node = [](const std::string& from) {
    return json::array({json::array({json::array({from, 0, 0, json::object()})})});
  };
  return {{"class_name", "Functional"},
          {"config",
           {{"name", "m"},
            {"layers",
             {{{"class_name", "InputLayer"}, {"name", "x"}, {"config", {{"batch_input_shape", shape}, {"name", "x"}}},
               {"inbound_nodes", json::array()}},
              {{"class_name", "Activation"}, {"name", first}, {"config", {{"name", first}, {"activation", "relu"}, {"trainable", true}}},
               {"inbound_nodes", node("x")}},
              {{"class_name", "Activation"}, {"name", second}, {"config", {{"name", second}, {"activation", "tanh"}, {"trainable", true}}},
               {"inbound_nodes", node(first)}}}},
            {"input_layers", {{"x", 0, 0}}},
            {"output_layers", {{second, 0, 0}}}}}};
}

// Two layers of one name are reported as such (not as a cycle); a negative input dimension names its
// layer; names with control characters print without them.
TEST(BadConfig, NamesAndDimensionsFromTheConfig) {
  EXPECT_NE(load_error(two_layer_functional("a", "a", {nullptr, 3})).find("two layers of model 'm' are named 'a'"),
            std::string::npos);
  EXPECT_NE(load_error(two_layer_functional("a", "b", {nullptr, -3})).find("layer 'x': the input shape has a negative"),
            std::string::npos);
  Model m = Model::load_json(two_layer_functional("evil\x1b[2J", "b", {nullptr, 3}).dump(), {}, "esc.json");
  const std::string summary = m.summary();
  EXPECT_EQ(summary.find('\x1b'), std::string::npos);
  EXPECT_NE(summary.find("evil?[2J"), std::string::npos);
}

}  // namespace
}  // namespace kerasrt::testing

namespace kerasrt::testing {
namespace {

// A zip of one deflated entry of `n` zero bytes (compresses about 1000:1).
std::vector<uint8_t> zip_of_zeros(const std::string& entry, size_t n, const std::filesystem::path& where) {
  int err = 0;
  zip_t* z = zip_open(where.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  void* zeros = std::calloc(n, 1);
  zip_source_t* src = zip_source_buffer(z, zeros, n, 1);
  const zip_int64_t idx = zip_file_add(z, entry.c_str(), src, ZIP_FL_OVERWRITE);
  zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_DEFLATE, 9);
  zip_close(z);
  std::ifstream f(where, std::ios::binary);
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  std::filesystem::remove(where);
  return bytes;
}

// Small files that would expand to huge memory are refused by the limits before they allocate.
TEST(Limits, CompressionBombsAreRefused) {
  const auto tmp = std::filesystem::temp_directory_path() / ("kerasrt_bomb_" + std::to_string(::getpid()) + ".zip");
  std::vector<uint8_t> keras = zip_of_zeros("model.weights.h5", size_t{64} << 20, tmp);
  ASSERT_LT(keras.size(), size_t{1} << 20);
  try {
    Model::load_keras(keras, "bomb.keras");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    // The archive has no config.json either; what matters is that nothing expanded.
    EXPECT_NE(std::string(e.what()).find("bomb.keras"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> npz = zip_of_zeros("x.npy", size_t{64} << 20, tmp);
  try {
    io::read_npz(npz, "bomb.npz");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("compression ratio above the limit"), std::string::npos) << e.what();
  }
  io::ZipReader zip = io::ZipReader::from_memory(npz, "bomb.npz", io::ZipLimits{uint64_t{16} << 30, 2000, 1 << 20});
  EXPECT_EQ(zip.read("x.npy", uint64_t{1} << 30).size(), size_t{64} << 20);  // allowed when the limit is raised
  EXPECT_THROW(io::ZipReader::from_memory(npz, "b.npz", io::ZipLimits{uint64_t{32} << 20, 2000, 1 << 20})
                   .read("x.npy", uint64_t{1} << 30),
               Error);  // over the archive total
}

// A tiny config whose ZeroPadding2D makes a 6 GB tensor: refused when planned, naming the layer.
TEST(Limits, HugeIntermediateTensorsAreRefused) {
  using nlohmann::json;
  json model = {{"class_name", "Sequential"},
                {"config",
                 {{"name", "pad"},
                  {"layers",
                   {{{"class_name", "ZeroPadding2D"},
                     {"config", {{"name", "zp"}, {"padding", {20000, 20000}}, {"batch_input_shape", {nullptr, 8, 8, 1}}}}},
                    {{"class_name", "Activation"}, {"config", {{"name", "act"}, {"activation", "relu"}}}}}}}}};
  Model m = Model::load_json(model.dump(), {}, "pad.json");
  try {
    m.predict(std::vector<Tensor>{Tensor({1, 8, 8, 1})});
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("layer 'zp'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("max_tensor_bytes"), std::string::npos) << msg;
  }
  // The intermediate (padded) tensor lives in the plan's arena: its limit holds too.
  LoadOptions small;
  small.limits.max_plan_bytes = 1024;
  model["config"]["layers"][0]["config"]["padding"] = json::array({2, 2});
  Model modest = Model::load_json(model.dump(), {}, "pad.json", small);
  EXPECT_THROW(modest.predict(std::vector<Tensor>{Tensor({64, 8, 8, 1})}), Error);  // 64*12*12*4 bytes > 1 KiB
}

// Graph size and model nesting are bounded (LoadLimits::max_graph_nodes, max_model_depth), with the
// limit named; within the limits the same models load.
TEST(Limits, GraphSizeAndNestingAreBounded) {
  using nlohmann::json;
  auto relu = [](const std::string& name) {
    return json{{"class_name", "Activation"}, {"config", {{"name", name}, {"activation", "relu"}}}};
  };
  // Sequential models nested `depth` deep around one activation.
  auto nested = [&](int depth) {
    json inner = relu("act");
    for (int d = depth; d >= 1; --d)
      inner = {{"class_name", "Sequential"}, {"config", {{"name", "s" + std::to_string(d)}, {"layers", {inner}}}}};
    inner["config"]["layers"][0]["config"]["batch_input_shape"] = {nullptr, 4};
    return json{{"class_name", "Sequential"},
                {"config", {{"name", "top"}, {"layers", {{{"class_name", "InputLayer"}, {"config", {{"name", "in"}, {"batch_input_shape", {nullptr, 4}}}}}, inner}}}}};
  };
  EXPECT_NO_THROW(Model::load_json(nested(8).dump(), {}, "nested.json"));
  try {
    Model::load_json(nested(40).dump(), {}, "deep.json");
    ADD_FAILURE() << "40 nested models accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_model_depth"), std::string::npos) << e.what();
  }
  json wide = {{"class_name", "Sequential"}, {"config", {{"name", "wide"}, {"layers", json::array()}}}};
  for (int i = 0; i < 6; ++i) wide["config"]["layers"].push_back(relu("a" + std::to_string(i)));
  wide["config"]["layers"][0]["config"]["batch_input_shape"] = {nullptr, 4};
  EXPECT_NO_THROW(Model::load_json(wide.dump(), {}, "wide.json"));
  LoadOptions few;
  few.limits.max_graph_nodes = 3;
  try {
    Model::load_json(wide.dump(), {}, "wide.json", few);
    ADD_FAILURE() << "a 6-node graph accepted under a 3-node limit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("wide.json: the graph grows past 3 nodes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kerasrt::testing

namespace kerasrt::testing {
namespace {

nlohmann::json one_layer_sequential(nlohmann::json layer, nlohmann::json batch_shape) {
  layer["config"]["batch_input_shape"] = batch_shape;
  return {{"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", {layer}}}}};
}

// Shape arithmetic on sizes from the file cannot overflow (UBSan runs this in scripts/sanitize.sh),
// and zero-sized dimensions are computed, not dereferenced.
TEST(BadConfig, OverflowingAndEmptyShapes) {
  using nlohmann::json;
  json reshape = {{"class_name", "Reshape"}, {"config", {{"name", "r"}, {"target_shape", {int64_t{1} << 40, int64_t{1} << 40}}}}};
  EXPECT_THROW(Model::load_json(one_layer_sequential(reshape, {nullptr, 4}).dump(), {}, "r.json"), Error);
  json big_in = {{"class_name", "Reshape"}, {"config", {{"name", "r"}, {"target_shape", {-1}}}}};
  EXPECT_THROW(Model::load_json(one_layer_sequential(big_in, {nullptr, int64_t{1} << 40, int64_t{1} << 40}).dump(), {}, "r.json"),
               Error);
  json pad = {{"class_name", "ZeroPadding2D"}, {"config", {{"name", "p"}, {"padding", {1, 1}}}}};
  Model m = Model::load_json(one_layer_sequential(pad, {nullptr, 0, 3, 2}).dump(), {}, "p.json");
  Tensor y = m.predict(std::vector<Tensor>{Tensor({1, 0, 3, 2})}).at(0);
  EXPECT_EQ(y.shape, (Shape{1, 2, 5, 2}));
  for (float v : y.to_floats()) EXPECT_EQ(v, 0.f);
}

}  // namespace
}  // namespace kerasrt::testing
