// kerasrt command-line tool: `info` prints a model's summary, `run` runs it on .npz/.npy inputs,
// `bench` times it (bench.cpp), `example` runs the bundled digits model and shows its predictions.
#include <kerasrt/kerasrt.hpp>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "bench.hpp"
#include "io/text.hpp"  // printable: names from files shown without control characters
#include "io/npy.hpp"  // the CLI's .npz/.npy reader and writer

namespace {

// Each array's header is checked before its values are decoded: an array for an input must have the
// input's rank and fixed sizes, and no array may decode to more than one tensor may hold.
void check_input_array(const kerasrt::Model& model, const std::string& path, const std::string& key,
                       const kerasrt::Shape& shape, const std::string& dtype, uint64_t max_tensor_bytes) {
  const int64_t count = kerasrt::element_count(shape);
  // What the array decodes to (io/npy.hpp): float32, int32 or int64, or bytes.
  const char kind = dtype.size() > 2 ? dtype[1] : 'f';
  const int stored = dtype.size() > 2 ? std::atoi(dtype.c_str() + 2) : 4;
  const uint64_t width = (kind == 'u' || kind == 'b') && stored == 1 ? 1
                         : (kind == 'i' && stored == 8) || (kind == 'u' && stored >= 4) ? 8 : 4;
  if (static_cast<uint64_t>(count) > max_tensor_bytes / width)
    throw kerasrt::Error(path + ": array '" + key + "' of shape " + kerasrt::shape_to_string(shape) +
                         " is larger than the limit of " + std::to_string(max_tensor_bytes >> 20) +
                         " MiB for one tensor (LoadLimits::max_tensor_bytes, --max-tensor-mb)");
  for (const auto& info : model.inputs()) {
    if (info.name != key) continue;
    bool fits = shape.size() == info.shape.size();
    for (size_t i = 0; fits && i < shape.size(); ++i) fits = info.shape[i] < 0 || info.shape[i] == shape[i];
    if (!fits)
      throw kerasrt::Error(path + ": array '" + key + "' has shape " + kerasrt::shape_to_string(shape) +
                           ", the model input '" + info.name + "' expects " + kerasrt::shape_to_string(info.shape));
  }
}

std::map<std::string, kerasrt::Tensor> read_inputs(const kerasrt::Model& model, const std::string& path,
                                                   uint64_t max_tensor_bytes) {
  std::map<std::string, kerasrt::Tensor> inputs;
  if (path.ends_with(".npy")) {
    if (model.inputs().size() != 1)
      throw kerasrt::Error(path + ": a .npy holds one array, the model takes " + std::to_string(model.inputs().size()) +
                           " inputs; use an .npz keyed by input name");
    const std::string& name = model.inputs()[0].name;
    inputs[name] = kerasrt::io::read_npy(path, [&](const kerasrt::Shape& shape, const std::string& dtype) {
      check_input_array(model, path, name, shape, dtype, max_tensor_bytes);
    }).tensor;
    return inputs;
  }
  auto arrays = kerasrt::io::read_npz(path, [&](const std::string& key, const kerasrt::Shape& shape, const std::string& dtype) {
    check_input_array(model, path, key, shape, dtype, max_tensor_bytes);
  });
  for (auto& [key, arr] : arrays) inputs[key] = std::move(arr.tensor);
  // A single-input model also takes an .npz whose only array has another name.
  if (model.inputs().size() == 1 && arrays.size() == 1 && !inputs.count(model.inputs()[0].name)) {
    auto t = std::move(inputs.begin()->second);
    inputs.clear();
    inputs[model.inputs()[0].name] = std::move(t);
  }
  for (const auto& info : model.inputs())
    if (!inputs.count(info.name)) throw kerasrt::Error(path + ": no array for the model input '" + info.name + "'");
  return inputs;
}

// The declared input shapes with unknown dimensions (the batch) set to 1.
std::vector<kerasrt::Shape> unit_shapes(const kerasrt::Model& model) {
  std::vector<kerasrt::Shape> shapes;
  for (const auto& i : model.inputs()) {
    kerasrt::Shape s = i.shape;
    for (auto& d : s) d = d < 0 ? 1 : d;
    shapes.push_back(s);
  }
  return shapes;
}

int cmd_info(const std::string& model_path, const std::string& weights, bool ir, const kerasrt::LoadOptions& options) {
  auto model = kerasrt::Model::load(model_path, weights, options);
  if (ir) {
    std::vector<kerasrt::Shape> shapes = unit_shapes(model);
    try {
      std::cout << model.ir_json(shapes) << "\n";
    } catch (const kerasrt::Error&) {
      std::cout << model.ir_json() << "\n";  // no plan at batch 1 (inputs with unknown sizes): no kernels
    }
    return 0;
  }
  std::cout << model.summary();
  std::cout << "Inputs:\n";
  for (const auto& i : model.inputs())
    std::cout << "  " << kerasrt::io::printable(i.name) << " " << kerasrt::shape_to_string(i.shape) << " " << kerasrt::dtype_name(i.dtype) << "\n";
  std::cout << "Outputs:\n";
  for (const auto& o : model.outputs())
    std::cout << "  " << kerasrt::io::printable(o.name) << " " << kerasrt::shape_to_string(o.shape) << " " << kerasrt::dtype_name(o.dtype) << "\n";
  try {
    auto session = model.session(unit_shapes(model));
    std::printf("Arena at batch 1: %.2f MB\n", static_cast<double>(session.arena_bytes()) / 1e6);
  } catch (const kerasrt::Error&) {
    // Inputs with unknown sizes besides the batch: there is no plan without a call's shapes.
  }
  return 0;
}

int cmd_run(const std::string& model_path, const std::string& weights, const std::string& input,
            const std::string& output, const std::vector<std::string>& layers, const kerasrt::LoadOptions& options) {
  auto model = kerasrt::Model::load(model_path, weights, options);
  auto inputs = read_inputs(model, input, options.limits.max_tensor_bytes);
  std::map<std::string, kerasrt::Tensor> used;  // extra arrays in the file are ignored
  for (const auto& info : model.inputs()) used[info.name] = std::move(inputs[info.name]);
  std::map<std::string, kerasrt::Tensor> result;
  try {
    result = model.predict(used, layers);
  } catch (const kerasrt::Error& e) {
    throw kerasrt::Error(input + " on " + model_path + ": " + e.what());  // name the files involved
  }
  std::vector<std::pair<std::string, kerasrt::Tensor>> arrays;
  for (const auto& o : model.outputs()) arrays.emplace_back(o.name, std::move(result[o.name]));
  for (const auto& l : layers)
    if (std::none_of(arrays.begin(), arrays.end(), [&](const auto& a) { return a.first == l; }))
      arrays.emplace_back(l, std::move(result[l]));
  kerasrt::io::write_npz(output, arrays);
  return 0;
}

// The bundled example: a small CNN trained on scikit-learn's 8x8 digits.
int cmd_example(const std::string& dir) {
  auto model = kerasrt::Model::load(dir + "/digits_cnn.keras");
  std::cout << model.summary() << "\n";
  auto inputs = read_inputs(model, dir + "/digits_cnn.inputs.npz", kerasrt::LoadLimits{}.max_tensor_bytes);
  auto labels = kerasrt::io::read_npz(dir + "/digits_cnn.labels.npz");
  const kerasrt::Tensor truth = labels.at(0).second.tensor.cast(kerasrt::DType::kFloat32);
  auto out = model.predict(inputs);
  const kerasrt::Tensor& probs = out.begin()->second;
  int64_t n = probs.shape[0], classes = probs.shape[1], correct = 0;
  std::cout << "digit  predicted  true  confidence\n";
  for (int64_t i = 0; i < n; ++i) {
    const float* p = probs.floats().data() + i * classes;
    int64_t best = std::max_element(p, p + classes) - p;
    int64_t label = static_cast<int64_t>(truth.floats()[i]);
    correct += best == label;
    if (i < 20 || best != label)
      std::printf("%5lld  %9lld  %4lld  %9.3f%s\n", static_cast<long long>(i), static_cast<long long>(best),
                  static_cast<long long>(label), p[best], best == label ? "" : "  <- wrong");
  }
  std::printf("...\naccuracy: %lld/%lld = %.2f%%\n", static_cast<long long>(correct), static_cast<long long>(n),
              100.0 * static_cast<double>(correct) / static_cast<double>(n));
  return 0;
}

// --max-* flags: what a model file may make kerasrt allocate (kerasrt::LoadLimits), in MiB.
struct LimitFlags {
  uint64_t entry_mb, archive_mb, tensor_mb, plan_mb;
  double ratio;
  int64_t nodes;
  int depth;
  explicit LimitFlags(const kerasrt::LoadLimits& d = {})
      : entry_mb(d.max_entry_bytes >> 20), archive_mb(d.max_archive_bytes >> 20), tensor_mb(d.max_tensor_bytes >> 20),
        plan_mb(d.max_plan_bytes >> 20), ratio(d.max_compression_ratio), nodes(d.max_graph_nodes), depth(d.max_model_depth) {}
  void add_to(CLI::App* app) {
    const auto mib = CLI::Range(uint64_t{1}, uint64_t{1} << 40);
    app->add_option("--max-entry-mb", entry_mb, "largest archive entry, decompressed (MiB)")->capture_default_str()->check(mib);
    app->add_option("--max-archive-mb", archive_mb, "all archive entries together (MiB)")->capture_default_str()->check(mib);
    app->add_option("--max-ratio", ratio, "largest compression ratio of an archive entry")->capture_default_str()->check(CLI::Range(1.0, 1e6));
    app->add_option("--max-tensor-mb", tensor_mb, "largest intermediate tensor (MiB)")->capture_default_str()->check(mib);
    app->add_option("--max-plan-mb", plan_mb, "all intermediate memory of one run (MiB)")->capture_default_str()->check(mib);
    app->add_option("--max-nodes", nodes, "largest graph (ir nodes)")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
    app->add_option("--max-depth", depth, "deepest nesting of models in models")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  }
  void apply(kerasrt::LoadLimits& l) const {
    l.max_entry_bytes = entry_mb << 20;
    l.max_archive_bytes = archive_mb << 20;
    l.max_tensor_bytes = tensor_mb << 20;
    l.max_plan_bytes = plan_mb << 20;
    l.max_compression_ratio = ratio;
    l.max_graph_nodes = nodes;
    l.max_model_depth = depth;
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kerasrt: run Keras models (.keras, .h5, .json + weights) without Python"};
  app.require_subcommand(1);
  std::string model_path, weights, input, output, dir = "examples";
  std::vector<std::string> layers;

  auto* info = app.add_subcommand("info", "print the model summary");
  info->add_option("MODEL", model_path, "model file")->required();
  info->add_option("--weights", weights, "weights file for a .json model");
  bool ir = false;
  info->add_flag("--ir", ir, "print the typed ir as JSON instead of the summary");
  LimitFlags info_limits, run_limits, bench_limits;
  info_limits.add_to(info);

  auto* run = app.add_subcommand("run", "run the model on inputs from an .npz (or .npy)");
  run->add_option("MODEL", model_path, "model file")->required();
  run->add_option("--weights", weights, "weights file for a .json model");
  run->add_option("--input", input, "input .npz keyed by input name, or .npy for one input")->required();
  run->add_option("--output", output, "output .npz")->required();
  run->add_option("--layer", layers, "also save this layer's output (repeatable)");
  kerasrt::LoadOptions options;
  run->add_option("--threads", options.threads, "intra-op threads (default: physical cores)")->check(CLI::Range(1, 256));
  run->add_flag("--reference-kernels", options.reference_kernels, "run the plain reference kernels only");
  run_limits.add_to(run);

  kerasrt::cli::BenchOptions bench_options;
  auto* bench = app.add_subcommand("bench", "time loading and running a model (batch, threads, runs)");
  bench->add_option("MODEL", bench_options.model, "model file")->required();
  bench->add_option("--weights", bench_options.weights, "weights file for a .json model");
  bench->add_option("--input", bench_options.input, "input .npz; its first sample is tiled to the batch (default: random)");
  bench->add_option("--batch", bench_options.batch, "batch size (default 1)")->check(CLI::Range(1, 1 << 20));
  bench->add_option("--threads", bench_options.load.threads, "intra-op threads (default: physical cores)")
      ->check(CLI::Range(1, 256));
  bench->add_option("--runs", bench_options.runs, "timed runs (default 20)")->check(CLI::Range(1, 1000000));
  bench->add_option("--warmup", bench_options.warmup, "untimed runs after the first call (default 3)")
      ->check(CLI::Range(0, 1000000));
  bench->add_flag("--reference-kernels", bench_options.load.reference_kernels, "run the plain reference kernels only");
  bench->add_flag("--json", bench_options.json, "also print one JSON object as the last line of stdout");
  bench->add_flag("!--no-progress", bench_options.progress, "no progress line on stderr");
  bench->add_flag("--profile", bench_options.profile, "then time each step: the slowest layers and time per op kind");
  bench->add_option("--profile-top", bench_options.profile_top, "slowest steps --profile lists (default 15)")
      ->check(CLI::Range(0, 1000000));
  bench_limits.add_to(bench);

  auto* example = app.add_subcommand("example", "run the bundled digits example");
  example->add_option("--dir", dir, "folder holding digits_cnn.keras and its .npz files");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  kerasrt::LoadOptions info_options;
  info_limits.apply(info_options.limits);
  run_limits.apply(options.limits);
  bench_limits.apply(bench_options.load.limits);
  try {
    if (*info) return cmd_info(model_path, weights, ir, info_options);
    if (*run) return cmd_run(model_path, weights, input, output, layers, options);
    if (*bench) return kerasrt::cli::cmd_bench(bench_options);
    if (*example) return cmd_example(dir);
  } catch (const kerasrt::Error& e) {
    std::cerr << "kerasrt: error: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "kerasrt: error: out of memory\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "kerasrt: error: " << e.what() << "\n";
    return 2;
  }
  return 2;
}
