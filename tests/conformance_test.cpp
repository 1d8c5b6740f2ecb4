// Every corpus case, in every form it ships (.keras, legacy .h5, config.json + weights.h5), must
// match the outputs Keras computed: |got - ref| <= atol + rtol*|ref| with 1e-4 (2e-3 for app_*).
#include <fstream>
#include <map>
#include <set>

#include "harness.hpp"
#include "io/npy.hpp"

namespace kerasrt::testing {
namespace {

using nlohmann::json;

// Cases whose layers are outside what kerasrt implements so far. Each must be refused with a
// clean Error naming the file and the layer; moving a case out of this list is how a new layer
// family lands.
const std::map<std::string, std::string>& expected_unsupported() {
  static const std::map<std::string, std::string> m = {
      {"lambda_layer", "Lambda holds Python bytecode, never run"},
      {"custom_layer", "ScaledDense is a custom class (see custom_layer_test.cpp for registration)"},
  };
  return m;
}

struct FormCase {
  std::string name, form, group;
  bool keras_reloads = true;
  std::string test_name() const {
    std::string s = name + "_" + form;
    for (char& c : s)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return s;
  }
};

std::vector<FormCase> corpus_forms() {
  std::vector<FormCase> out;
  std::ifstream f(corpus_dir() / "manifest.json");
  if (!f) return out;
  json m = json::parse(f);
  for (const json& c : m["cases"]) {
    std::string status = c.value("status", "");
    if (status != "ok" && status != "partial") continue;
    std::string name = c["name"];
    std::set<std::string> files;
    for (const json& fi : c["files"]) files.insert(fi["file"].get<std::string>());
    const json reload = c.value("reload_max_abs_diff", json::object());
    auto reloads = [&](const std::string& key) { return !(reload.contains(key) && reload[key].is_string()); };
    if (files.count(name + ".keras")) out.push_back({name, "keras", c["group"], reloads(name + ".keras")});
    if (files.count(name + ".h5")) out.push_back({name, "h5", c["group"], reloads(name + ".h5")});
    if (files.count(name + ".config.json") && files.count(name + ".weights.h5"))
      out.push_back({name, "json", c["group"], reloads("config.json+weights.h5")});
  }
  return out;
}

void PrintTo(const FormCase& fc, std::ostream* os) { *os << fc.name << " [" << fc.form << "]"; }

Model load_form(const FormCase& fc, const LoadOptions& options = {}) {
  auto dir = corpus_dir();
  if (fc.form == "keras") return Model::load((dir / (fc.name + ".keras")).string(), "", options);
  if (fc.form == "h5") return Model::load((dir / (fc.name + ".h5")).string(), "", options);
  return Model::load((dir / (fc.name + ".config.json")).string(), (dir / (fc.name + ".weights.h5")).string(), options);
}

class Conformance : public ::testing::TestWithParam<FormCase> {};

// Every case in every form, with the default (fastest) kernels and with the reference kernels.
void check_form(const FormCase& fc, const LoadOptions& options) {
  auto unsupported = expected_unsupported().find(fc.name);
  if (unsupported != expected_unsupported().end()) {
    try {
      load_form(fc);
      FAIL() << fc.name << " is listed as unsupported (" << unsupported->second << ") but loaded";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(fc.name), std::string::npos) << "error should name the file: " << msg;
      EXPECT_NE(msg.find("layer '"), std::string::npos) << "error should name the layer: " << msg;
    }
    return;
  }
  auto run = [&]() -> std::string {
    Model model = load_form(fc, options);
    std::map<std::string, Tensor> inputs;
    for (auto& [k, a] : io::read_npz((corpus_dir() / (fc.name + ".inputs.npz")).string())) inputs[k] = a.tensor;
    auto got = model.predict(inputs);
    // Outputs made by typed nodes carry real dtypes: an integer or bool one must have Keras's.
    std::map<std::string, std::string> producer_op;
    {
      nlohmann::json ir = nlohmann::json::parse(model.ir_json());
      std::map<int, std::string> op_of_value;
      for (const auto& n : ir["nodes"])
        for (const auto& v : n["outputs"]) op_of_value[v.get<int>()] = n["op"].get<std::string>();
      for (const auto& o : ir["outputs"]) producer_op[o["name"].get<std::string>()] = op_of_value[o["value"].get<int>()];
    }
    double tol = fc.group == "applications" ? 2e-3 : 1e-4;
    std::string problems;
    auto refs = io::read_npz((corpus_dir() / (fc.name + ".outputs.npz")).string());
    if (refs.empty()) return "no reference outputs";
    for (auto& [k, ref] : refs) {
      auto it = got.find(k);
      if (it == got.end()) {
        problems += "missing output '" + k + "'; ";
        continue;
      }
      if (ref.tensor.dtype != DType::kFloat32 && producer_op[k] != "custom" && it->second.dtype != ref.tensor.dtype)
        problems += "output '" + k + "': dtype " + dtype_name(it->second.dtype) + " != Keras's " +
                    dtype_name(ref.tensor.dtype) + "; ";
      std::string diff = compare(ref.tensor, it->second, tol, tol);
      if (!diff.empty()) problems += "output '" + k + "': " + diff + "; ";
    }
    return problems;
  };
  std::string problems;
  try {
    problems = run();
  } catch (const Error& e) {
    problems = std::string("error: ") + e.what();
  }
  if (!fc.keras_reloads && !problems.empty())
    GTEST_SKIP() << "bonus form (Keras itself cannot reload it) does not match: " << problems;
  EXPECT_EQ(problems, "");
}

TEST_P(Conformance, MatchesKeras) {
  KERASRT_REQUIRE_CORPUS();
  check_form(GetParam(), LoadOptions{});
}

TEST_P(Conformance, MatchesKerasWithReferenceKernels) {
  KERASRT_REQUIRE_CORPUS();
  LoadOptions reference;
  reference.reference_kernels = true;
  check_form(GetParam(), reference);
}

INSTANTIATE_TEST_SUITE_P(Corpus, Conformance, ::testing::ValuesIn(corpus_forms()),
                         [](const ::testing::TestParamInfo<FormCase>& i) { return i.param.test_name(); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Conformance);

TEST(Corpus, IsPresent) {
  KERASRT_REQUIRE_CORPUS();
  EXPECT_GT(corpus_forms().size(), 100u);
}

// Every form of every case the manifest lists is a test of this run (tests are listed when ctest
// runs, so a corpus that appears after the build is not silently left out).
TEST(Corpus, EveryManifestCaseIsATest) {
  KERASRT_REQUIRE_CORPUS();
  std::ifstream f(corpus_dir() / "manifest.json");
  const json m = json::parse(f);
  size_t forms = 0;
  for (const json& c : m["cases"]) {
    const std::string status = c.value("status", "");
    if (status != "ok" && status != "partial") continue;
    for (const json& fi : c["files"]) {
      const std::string file = fi["file"], name = c["name"];
      forms += file == name + ".keras" || file == name + ".h5" || file == name + ".config.json";
    }
  }
  size_t registered = 0;
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& suite = *unit.GetTestSuite(i);
    if (std::string(suite.name()) != "Corpus/Conformance") continue;
    for (int k = 0; k < suite.total_test_count(); ++k)
      registered += std::string(suite.GetTestInfo(k)->name()).rfind("MatchesKeras/", 0) == 0;
  }
  EXPECT_GT(forms, 600u);
  EXPECT_EQ(registered, forms) << "conformance tests registered vs forms in the manifest";
  // And ctest's own list (made by gtest_discover_tests) holds them all: a list made before the
  // corpus appeared would run none of them and still pass.
  const auto listing = std::filesystem::path(KERASRT_BINARY_DIR) / "kerasrt_tests[1]_tests.cmake";
  if (std::filesystem::exists(listing)) {
    std::ifstream lf(listing);
    size_t listed = 0;
    for (std::string line; std::getline(lf, line);)
      listed += line.rfind("add_test([=[Corpus/Conformance.MatchesKeras/", 0) == 0;
    EXPECT_EQ(listed, forms) << listing << " is stale: delete it (scripts/test.sh does) and run ctest again";
  }
}

}  // namespace
}  // namespace kerasrt::testing
