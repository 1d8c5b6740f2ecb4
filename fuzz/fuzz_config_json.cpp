// libFuzzer target: a model config JSON with fixed weights ($KERASRT_FUZZ_WEIGHTS, a .weights.h5;
// none when unset), loaded and summarised.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <kerasrt/kerasrt.hpp>
#include <string>
#include <vector>

namespace {
const std::vector<uint8_t>& weights() {
  static const std::vector<uint8_t> w = [] {
    const char* p = std::getenv("KERASRT_FUZZ_WEIGHTS");
    if (!p) return std::vector<uint8_t>{};
    std::ifstream f(p, std::ios::binary);
    return std::vector<uint8_t>{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  }();
  return w;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kerasrt::Model m = kerasrt::Model::load_json(std::string(reinterpret_cast<const char*>(data), size), weights(),
                                                 "fuzz.json");
    (void)m.summary();
  } catch (const kerasrt::Error&) {
  }
  return 0;
}
