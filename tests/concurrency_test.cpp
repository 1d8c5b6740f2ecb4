// Many threads loading and predicting at once, in one process: results bit-identical to a single
// thread's, and no file descriptors left open. scripts/sanitize.sh also runs this under
// ThreadSanitizer.
#include <dirent.h>

#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include "harness.hpp"
#include "io/npy.hpp"

namespace kerasrt::testing {
namespace {

std::vector<uint8_t> slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The process's open descriptors and what each is (a failure then says which leaked).
std::set<std::string> open_fds() {
  std::set<std::string> fds;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || name == std::to_string(dirfd(d))) continue;
      char target[512] = {};
      ssize_t n = readlink(("/proc/self/fd/" + name).c_str(), target, sizeof target - 1);
      fds.insert(name + " -> " + (n > 0 ? std::string(target, static_cast<size_t>(n)) : "?"));
    }
    closedir(d);
  }
  return fds;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && a.dtype == b.dtype && a.nbytes() == b.nbytes() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(Concurrency, LoadAndPredictFromManyThreads) {
  KERASRT_REQUIRE_CORPUS();
  struct Case {
    std::string name;
    std::vector<uint8_t> keras, h5, config, weights;
    std::map<std::string, Tensor> inputs;
    std::map<std::string, Tensor> expected;
  };
  std::vector<Case> cases;
  for (const char* name : {"digits_cnn", "lstm_activations", "mha_self", "embedding_mask_lstm"}) {
    Case c{name, slurp(corpus_dir() / (std::string(name) + ".keras")), slurp(corpus_dir() / (std::string(name) + ".h5")),
           slurp(corpus_dir() / (std::string(name) + ".config.json")),
           slurp(corpus_dir() / (std::string(name) + ".weights.h5")), {}, {}};
    for (auto& [k, a] : io::read_npz((corpus_dir() / (std::string(name) + ".inputs.npz")).string())) c.inputs[k] = a.tensor;
    c.expected = Model::load_keras(c.keras, c.name + ".keras").predict(c.inputs);
    cases.push_back(std::move(c));
  }
  const std::set<std::string> fds_before = open_fds();
  constexpr int kThreads = 8, kRounds = 6;
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        const Case& c = cases[static_cast<size_t>(t + r) % cases.size()];
        try {
          const int form = (t + r) % 3;
          Model m = form == 0   ? Model::load_keras(c.keras, c.name + ".keras")
                    : form == 1 ? Model::load_h5(c.h5, c.name + ".h5")
                                : Model::load_json(std::string(c.config.begin(), c.config.end()), c.weights, c.name + ".json");
          auto got = m.predict(c.inputs);
          for (const auto& [k, want] : c.expected)
            if (!got.count(k) || !bit_identical(want, got.at(k))) ++mismatches;
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(open_fds(), fds_before);
}

// One model shared by many threads, each predicting on its own inputs.
TEST(Concurrency, OneModelManyCallers) {
  KERASRT_REQUIRE_CORPUS();
  Model m = Model::load((corpus_dir() / "digits_cnn.keras").string());
  std::map<std::string, Tensor> in;
  for (auto& [k, a] : io::read_npz((corpus_dir() / "digits_cnn.inputs.npz").string())) in[k] = a.tensor;
  const auto expected = m.predict(in);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int r = 0; r < 10; ++r) {
        auto got = m.predict(in);
        for (const auto& [k, want] : expected)
          if (!bit_identical(want, got.at(k))) ++mismatches;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace kerasrt::testing
