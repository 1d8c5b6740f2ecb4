// `kerasrt bench`: how long a model takes to load, to run once cold and to run warm, through a
// Session bound to the benchmark's shapes (the path a latency-minded user takes: no copies, no
// allocation per call). Times are wall-clock; the caller runs it on a quiet machine or compares
// side by side (scripts/bench_vs_ort.py).
#include "bench.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>

#include "io/npy.hpp"

namespace kerasrt::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux reports kilobytes
}

// The first sample of `t` repeated `batch` times along axis 0.
Tensor tile_first_sample(const Tensor& t, int64_t batch, const std::string& what) {
  if (t.shape.empty() || t.shape[0] < 1) throw Error(what + ": needs a batch axis with at least one sample");
  Shape shape = t.shape;
  shape[0] = batch;
  Tensor out(shape, t.dtype);
  const size_t sample_bytes = t.nbytes() / static_cast<size_t>(t.shape[0]);
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t b = 0; b < batch; ++b) std::copy(src, src + sample_bytes, dst + static_cast<size_t>(b) * sample_bytes);
  return out;
}

// Random data of the declared dtype: floats uniform in [-1, 1); integers 0 or 1, valid indices for
// any Embedding or CategoryEncoding, so the run exercises the real path rather than an error.
Tensor random_input(const TensorInfo& info, int64_t batch, std::mt19937& rng) {
  Shape shape = info.shape;
  if (!shape.empty()) shape[0] = batch;
  for (size_t i = 1; i < shape.size(); ++i)
    if (shape[i] < 0)
      throw Error("input '" + info.name + "' has unknown size " + shape_to_string(info.shape) +
                  " beyond the batch; give --input IN.npz to fix its shape");
  Tensor t(shape, info.dtype);
  if (info.dtype == DType::kFloat32) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float& v : t.floats()) v = u(rng);
  } else {
    Tensor f(shape);
    std::bernoulli_distribution coin(0.5);
    for (float& v : f.floats()) v = coin(rng) ? 1.0f : 0.0f;
    t = f.cast(info.dtype);
  }
  return t;
}

// Runs the session `runs` more times with per-step timing on and prints the slowest steps and the
// totals per op kind and kernel, as a share of the summed step time.
void print_profile(Session& session, std::span<const ConstTensorView> in, std::span<const TensorView> out, int runs,
                   int top) {
  session.set_profiling(true);
  for (int i = 0; i < runs; ++i) session.run(in, out);
  std::vector<StepTime> steps = session.profile();
  session.set_profiling(false);
  double total = 0;
  std::map<std::pair<std::string, std::string>, std::pair<double, int>> by_kind;
  for (const StepTime& s : steps) {
    total += s.ms;
    auto& [ms, count] = by_kind[{s.op, s.kernel}];
    ms += s.ms;
    ++count;
  }
  if (total <= 0) return;
  const double per_call = 1.0 / runs;
  std::printf("profile      %d calls, steps sum to %.3f ms per call\n", runs, total * per_call);
  std::vector<std::pair<double, std::string>> kinds;
  for (const auto& [key, v] : by_kind)
    kinds.push_back({v.first, key.first + "/" + key.second + " x" + std::to_string(v.second)});
  std::sort(kinds.rbegin(), kinds.rend());
  std::printf("  by op/kernel (steps):\n");
  for (const auto& [ms, what] : kinds)
    std::printf("    %6.1f%%  %9.3f ms  %s\n", 100.0 * ms / total, ms * per_call, what.c_str());
  std::sort(steps.begin(), steps.end(), [](const StepTime& a, const StepTime& b) { return a.ms > b.ms; });
  std::printf("  slowest steps:\n");
  for (size_t i = 0; i < std::min<size_t>(steps.size(), static_cast<size_t>(top)); ++i)
    std::printf("    %6.1f%%  %9.3f ms  %s (%s/%s)\n", 100.0 * steps[i].ms / total, steps[i].ms * per_call,
                steps[i].layer.c_str(), steps[i].op.c_str(), steps[i].kernel.c_str());
}

}  // namespace

int cmd_bench(const BenchOptions& o) {
  const auto t_load = Clock::now();
  auto model = Model::load(o.model, o.weights, o.load);
  const double load_s = ms_since(t_load) / 1000.0;

  std::vector<Tensor> inputs;
  if (!o.input.empty()) {
    auto arrays = io::read_npz(o.input);
    for (const auto& info : model.inputs()) {
      auto it = std::find_if(arrays.begin(), arrays.end(), [&](const auto& a) { return a.first == info.name; });
      if (it == arrays.end() && model.inputs().size() == 1 && arrays.size() == 1) it = arrays.begin();
      if (it == arrays.end()) throw Error(o.input + ": no array for the model input '" + info.name + "'");
      inputs.push_back(tile_first_sample(it->second.tensor, o.batch, o.input + " '" + it->first + "'").cast(info.dtype));
    }
  } else {
    std::mt19937 rng(12345);
    for (const auto& info : model.inputs()) inputs.push_back(random_input(info, o.batch, rng));
  }
  std::vector<Shape> shapes;
  for (const auto& t : inputs) shapes.push_back(t.shape);

  // Plan and outputs first, so the timed calls measure only run().
  auto session = model.session(shapes);
  std::vector<Tensor> outputs;
  for (const auto& info : session.outputs()) outputs.emplace_back(info.shape, info.dtype);
  std::vector<ConstTensorView> in_views;
  for (const auto& t : inputs) in_views.push_back(t.view());
  std::vector<TensorView> out_views;
  for (auto& t : outputs) out_views.push_back(t.view());

  auto t_first = Clock::now();
  session.run(in_views, out_views);
  const double first_ms = ms_since(t_first);

  for (int i = 0; i < o.warmup; ++i) session.run(in_views, out_views);
  std::vector<double> times;
  times.reserve(static_cast<size_t>(o.runs));
  for (int i = 0; i < o.runs; ++i) {
    if (o.progress) std::fprintf(stderr, "\rbench: %s run %d/%d", o.model.c_str(), i + 1, o.runs);
    const auto t0 = Clock::now();
    session.run(in_views, out_views);
    times.push_back(ms_since(t0));
  }
  if (o.progress) std::fprintf(stderr, "\r\033[K");
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
  const double items_per_s = static_cast<double>(o.batch) * 1000.0 / median;
  const double arena_mb = static_cast<double>(session.arena_bytes()) / 1e6;
  const int threads = model.threads();

  std::printf("model        %s\n", o.model.c_str());
  std::printf("batch        %lld   threads %d   runs %d (after %d warm-up)\n", static_cast<long long>(o.batch),
              threads, o.runs, o.warmup);
  std::printf("load         %.3f s\n", load_s);
  std::printf("first call   %.3f ms\n", first_ms);
  std::printf("latency      median %.3f ms   min %.3f ms   max %.3f ms\n", median, sorted.front(), sorted.back());
  std::printf("throughput   %.1f items/s\n", items_per_s);
  std::printf("memory       peak RSS %.1f MB   arena %.2f MB\n", peak_rss_mb(), arena_mb);
  if (o.profile) print_profile(session, in_views, out_views, o.runs, o.profile_top);
  if (o.json)
    std::printf(
        "{\"model\": \"%s\", \"load_s\": %.6f, \"first_ms\": %.4f, \"median_ms\": %.4f, \"min_ms\": %.4f, "
        "\"max_ms\": %.4f, \"items_per_s\": %.3f, \"peak_rss_mb\": %.2f, \"arena_mb\": %.3f, \"threads\": %d, "
        "\"batch\": %lld, \"runs\": %d}\n",
        json_escape(o.model).c_str(), load_s, first_ms, median, sorted.front(), sorted.back(), items_per_s,
        peak_rss_mb(), arena_mb, threads, static_cast<long long>(o.batch), o.runs);
  return 0;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace kerasrt::cli
