// `kerasrt bench`: load time, first-call time and warm latency of one model (tools/cli/bench.cpp).
#pragma once

#include <kerasrt/kerasrt.hpp>

#include <string>

namespace kerasrt::cli {

struct BenchOptions {
  std::string model, weights, input;  // input: an .npz whose first sample is tiled to the batch
  int64_t batch = 1;
  int runs = 20, warmup = 3;
  bool json = false;      // also print one JSON object as the last line of stdout
  bool progress = true;   // a progress line on stderr
  bool profile = false;   // after the timed runs, time `runs` more per step and print where it goes
  int profile_top = 15;   // slowest steps listed
  LoadOptions load;
};

int cmd_bench(const BenchOptions& options);

// `s` as the inside of a JSON string literal.
std::string json_escape(const std::string& s);

}  // namespace kerasrt::cli
