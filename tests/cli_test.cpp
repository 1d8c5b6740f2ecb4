// The CLI contract on the bundled example: info, run (with --layer and .npy input), example, and
// the one-line error with exit code 2.
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "harness.hpp"
#include "io/npy.hpp"
#include <nlohmann/json.hpp>

namespace kerasrt::testing {
namespace {

struct Result {
  int code;
  std::string out, err;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result cli(const std::string& args) {
  auto tmp = std::filesystem::temp_directory_path() / ("kerasrt_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  std::string cmd = std::string(KERASRT_CLI_PATH) + " " + args + " >" + (tmp / "out").string() + " 2>" + (tmp / "err").string();
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(tmp / "out"), slurp(tmp / "err")};
}

std::string example(const std::string& file) { return std::string(KERASRT_SOURCE_DIR) + "/examples/" + file; }

TEST(Cli, InfoPrintsSummary) {
  Result r = cli("info " + example("digits_cnn.keras"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("conv1 (Conv2D)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Total params"), std::string::npos) << r.out;
}

TEST(Cli, RunWritesOutputsAndRequestedLayers) {
  auto out = std::filesystem::temp_directory_path() / ("kerasrt_run_" + std::to_string(::getpid()) + ".npz");
  Result r = cli("run " + example("digits_cnn.keras") + " --input " + example("digits_cnn.inputs.npz") + " --output " +
                 out.string() + " --layer conv1 --layer gap");
  ASSERT_EQ(r.code, 0) << r.err;
  auto arrays = io::read_npz(out.string());
  ASSERT_EQ(arrays.size(), 3u);
  EXPECT_EQ(arrays[0].first, "probs");
  EXPECT_EQ(arrays[1].first, "conv1");
  EXPECT_EQ(arrays[2].second.tensor.shape, (Shape{297, 32}));
  EXPECT_EQ(compare(io::read_npz(example("digits_cnn.outputs.npz")).at(0).second.tensor, arrays[0].second.tensor,
                    1e-4, 1e-4),
            "");
  std::filesystem::remove(out);
}

TEST(Cli, SingleInputModelTakesNpy) {
  auto tmp = std::filesystem::temp_directory_path() / ("kerasrt_npy_" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  Tensor x = io::read_npz(example("digits_cnn.inputs.npz")).at(0).second.tensor;
  auto bytes = io::encode_npy(x);
  std::ofstream((tmp / "x.npy").string(), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  Result r = cli("run " + example("digits_cnn.keras") + " --input " + (tmp / "x.npy").string() + " --output " +
                 (tmp / "y.npz").string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(tmp / "y.npz"));
  std::filesystem::remove_all(tmp);
}

TEST(Cli, ExampleShowsAccuracy) {
  Result r = cli("example --dir " + std::string(KERASRT_SOURCE_DIR) + "/examples");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("accuracy: 297/297"), std::string::npos) << r.out;
}

// The report's contract (the side-by-side script reads the JSON line); no timing is asserted.
TEST(Cli, BenchPrintsReportAndJson) {
  Result r = cli("bench " + example("digits_cnn.keras") + " --input " + example("digits_cnn.inputs.npz") +
                 " --batch 3 --threads 1 --runs 4 --warmup 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("latency      median"), std::string::npos) << r.out;
  std::string last = r.out.substr(r.out.rfind('{'));
  auto json = nlohmann::json::parse(last);
  for (const char* key : {"load_s", "first_ms", "median_ms", "min_ms", "max_ms", "items_per_s", "peak_rss_mb",
                          "arena_mb", "threads", "batch"})
    EXPECT_TRUE(json.contains(key)) << key << " missing in " << last;
  EXPECT_EQ(json["batch"], 3);
  EXPECT_EQ(json["threads"], 1);
  EXPECT_LE(json["min_ms"].get<double>(), json["median_ms"].get<double>());
  EXPECT_LE(json["median_ms"].get<double>(), json["max_ms"].get<double>());
  EXPECT_GT(json["arena_mb"].get<double>(), 0.0);
  EXPECT_NE(r.err.find("run 4/4"), std::string::npos) << r.err;  // the progress line
}

TEST(Cli, BenchMakesRandomInputs) {
  Result r = cli("bench " + example("digits_cnn.keras") + " --runs 2 --json --no-progress");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out.substr(r.out.rfind('{')))["batch"], 1);
  EXPECT_EQ(r.err, "");
}

TEST(Cli, BenchProfileShowsWhereTimeGoes) {
  Result r = cli("bench " + example("digits_cnn.keras") + " --runs 2 --threads 1 --no-progress --profile");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("by op/kernel"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("conv1 (conv/"), std::string::npos) << r.out;  // a step named by its layer
}

// An input array's header is checked against the model (rank, fixed sizes) and the tensor limit
// before its values are decoded, naming the file, the array and the input.
TEST(Cli, InputArraysAreCheckedBeforeDecoding) {
  auto tmp = std::filesystem::temp_directory_path() / ("kerasrt_npzcheck_" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  const std::string wrong = (tmp / "wrong.npz").string(), big = (tmp / "big.npz").string();
  io::write_npz(wrong, {{"digits", Tensor({1, 9, 8, 1})}});
  io::write_npz(big, {{"digits", Tensor({8192, 8, 8, 1})}});  // 2 MiB of float32
  const std::string run = "run " + example("digits_cnn.keras") + " --output " + (tmp / "y.npz").string() + " --input ";
  Result r = cli(run + wrong);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("wrong.npz: array 'digits' has shape (1, 9, 8, 1), the model input 'digits' expects (None, 8, 8, 1)"),
            std::string::npos) << r.err;
  r = cli(run + big + " --max-tensor-mb 1");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("big.npz: array 'digits' of shape (8192, 8, 8, 1) is larger than the limit of 1 MiB"), std::string::npos)
      << r.err;
  r = cli(run + big);  // within the default limit it runs
  EXPECT_EQ(r.code, 0) << r.err;
  std::filesystem::remove_all(tmp);
}

TEST(Cli, ErrorsAreOneLineWithExitCode2) {
  for (const std::string& args : {std::string("run /nonexistent.keras --input x.npz --output y.npz"),
                                  "run " + example("digits_cnn.keras") + " --input /nonexistent.npz --output /tmp/y.npz",
                                  "info " + example("digits_cnn.inputs.npz"),
                                  "run " + example("digits_cnn.keras") + " --input " + example("digits_cnn.inputs.npz") +
                                      " --output /tmp/kerasrt_y.npz --layer nope"}) {
    Result r = cli(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace kerasrt::testing
