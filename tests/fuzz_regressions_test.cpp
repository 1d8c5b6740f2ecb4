// Inputs the fuzz targets (fuzz/) found crashing, hanging or exhausting memory, kept in
// tests/regressions/ and replayed the way their target ran them: each must now give an Error (or
// load) without a crash; under scripts/sanitize.sh, without ASan or UBSan findings either.
#include <fstream>

#include "harness.hpp"
#include "io/hdf5.hpp"

namespace kerasrt::testing {
namespace {

std::vector<uint8_t> slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Loads (and for small models runs) one regression file by its extension; "" or the error.
std::string replay(const std::filesystem::path& p) {
  const std::vector<uint8_t> bytes = slurp(p);
  const std::string ext = p.extension().string();
  try {
    if (ext == ".h5") {  // every dataset read, as fuzz_hdf5 does
      io::H5File f = io::H5File::open_memory(bytes, p.filename().string());
      std::vector<io::H5Group> todo{f.root()};
      while (!todo.empty() && todo.size() < 10000) {
        io::H5Group g = todo.back();
        todo.pop_back();
        for (const auto& c : g.children()) {
          if (g.has_group(c)) todo.push_back(g.group(c));
          if (g.has_dataset(c)) g.read(c);
        }
      }
      return "";
    }
    std::optional<Model> m;
    if (ext == ".keras") m.emplace(Model::load_keras(bytes, p.filename().string()));
    if (ext == ".json")  // the fuzz target's fixed weights
      m.emplace(Model::load_json(std::string(bytes.begin(), bytes.end()),
                                 slurp(corpus_dir() / "dense_act_elu.weights.h5"), p.filename().string()));
    if (!m) return "unknown kind";
    std::vector<Tensor> zeros;
    for (const auto& in : m->inputs()) {
      Shape s = in.shape;
      for (auto& d : s) d = d < 0 ? 2 : d;
      zeros.emplace_back(s, in.dtype);
    }
    m->predict(zeros);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(FuzzRegressions, EveryFindingGivesAnError) {
  KERASRT_REQUIRE_CORPUS();
  const auto dir = std::filesystem::path(KERASRT_SOURCE_DIR) / "tests" / "regressions";
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string msg = replay(e.path());
    // Each of these files is broken: it must be refused with a message naming it.
    EXPECT_NE(msg.find(e.path().filename().string()), std::string::npos) << e.path() << ": " << msg;
    ++files;
  }
  EXPECT_GE(files, 4);
}

}  // namespace
}  // namespace kerasrt::testing
