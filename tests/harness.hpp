// Shared test helpers: where the corpus is, element-wise comparison, reference data, and building
// and calling single layers.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <kerasrt/kerasrt.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace kerasrt::testing {

// The shared Keras corpus: $KERASRT_CORPUS, else ../shared/keras-corpus beside the repo.
inline std::filesystem::path corpus_dir() {
  if (const char* env = std::getenv("KERASRT_CORPUS"); env && *env) return env;
  return std::filesystem::path(KERASRT_SOURCE_DIR) / ".." / "shared" / "keras-corpus";
}

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

// Skips (or, under CI=true, fails) a test that needs the corpus when it is absent.
#define KERASRT_REQUIRE_CORPUS()                                                              \
  do {                                                                                        \
    if (!std::filesystem::exists(::kerasrt::testing::corpus_dir() / "manifest.json")) {       \
      if (::kerasrt::testing::in_ci()) FAIL() << "corpus missing at " << ::kerasrt::testing::corpus_dir(); \
      GTEST_SKIP() << "corpus not found at " << ::kerasrt::testing::corpus_dir();            \
    }                                                                                         \
  } while (0)

// Float references: |got - ref| <= atol + rtol * |ref| everywhere. Integer and bool references:
// exactly equal (compared as int64, so values above 2^24 count). Returns the worst miss or "".
inline std::string compare(const Tensor& ref, const Tensor& got, double atol, double rtol) {
  if (ref.shape != got.shape)
    return "shape " + shape_to_string(got.shape) + " != expected " + shape_to_string(ref.shape);
  if (ref.dtype != DType::kFloat32) {
    Tensor r = ref.cast(DType::kInt64), g = got.cast(DType::kInt64);
    for (int64_t i = 0; i < ref.size(); ++i)
      if (r.values<int64_t>()[i] != g.values<int64_t>()[i])
        return "element " + std::to_string(i) + ": got " + std::to_string(g.values<int64_t>()[i]) + ", expected " +
               std::to_string(r.values<int64_t>()[i]);
    return "";
  }
  std::vector<float> rv = ref.to_floats(), gv = got.to_floats();
  double worst = 0;
  int64_t worst_at = -1;
  for (size_t i = 0; i < rv.size(); ++i) {
    double r = rv[i], g = gv[i];
    if (std::isnan(r) && std::isnan(g)) continue;
    if (std::isinf(r) && r == g) continue;
    double err = std::fabs(r - g), bound = atol + rtol * std::fabs(r);
    if (!(err <= bound) && (err - bound > worst || worst_at < 0)) {
      worst = err - bound;
      worst_at = static_cast<int64_t>(i);
    }
  }
  if (worst_at < 0) return "";
  return "element " + std::to_string(worst_at) + ": got " + std::to_string(gv[worst_at]) + ", expected " +
         std::to_string(rv[worst_at]);
}

inline Tensor random_tensor(Shape shape, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> d(lo, hi);
  Tensor t(std::move(shape));
  for (auto& v : t.floats()) v = d(rng);
  return t;
}

}  // namespace kerasrt::testing

// ---- single-layer harness: build one layer from its Keras config and run it ------------------
#include "format/keras/typed_layer.hpp"
#include "format/keras/layer_registry.hpp"
#include "format/keras/typed_op.hpp"

namespace kerasrt::testing {

// `layer_json` is {"class_name": ..., "config": {...}}; weights in Keras's order. Built as a model
// would build it: typed when format/keras parses the class, else through its kerasrt::Op.
// (support/harness.cpp, so that tests do not depend on the ir headers.)
std::shared_ptr<const Op> make_op(const nlohmann::json& layer_json, std::vector<Weights::Entry> weights = {},
                                  const Call& call = Call{});

// Runs a bound op on concrete inputs and returns its outputs.
inline std::vector<Tensor> run_op(const Op& op, const std::vector<Tensor>& inputs) {
  std::vector<Shape> shapes;
  for (const auto& t : inputs) shapes.push_back(t.shape);
  std::vector<Shape> out_shapes = op.output_shapes(shapes);
  std::vector<Tensor> outs;
  for (auto& s : out_shapes) outs.emplace_back(s);
  std::vector<ConstView> in_views;
  for (const auto& t : inputs) in_views.push_back({t.floats().data(), t.shape});
  std::vector<MutView> out_views;
  for (auto& t : outs) out_views.push_back({t.floats().data(), t.shape});
  op.run(in_views, out_views);
  return outs;
}

inline Call positional_call(int n) {
  Call c;
  c.roles.assign(static_cast<size_t>(n), "");
  c.where = "test";
  return c;
}

// {"class_name": cls, "config": config}, the form make_op takes.
inline nlohmann::json layer(const std::string& cls, nlohmann::json config) {
  return {{"class_name", cls}, {"config", std::move(config)}};
}

// What a call's args/kwargs hold in place of its i-th tensor.
inline nlohmann::json tensor_arg(int i) { return {{"__tensor__", i}}; }

// op(x, training=training).
inline Call training_call(bool training) {
  Call c = positional_call(1);
  c.args = nlohmann::json::array({tensor_arg(0)});
  c.kwargs["training"] = training;
  return c;
}

// A recurrent call with the sequence positional and `states` initial_state / a mask as keywords.
inline Call keyword_call(int states, bool mask) {
  Call c;
  c.where = "test";
  c.roles = {""};
  c.args = nlohmann::json::array({tensor_arg(0)});
  if (states > 0) {
    nlohmann::json list = nlohmann::json::array();
    for (int i = 0; i < states; ++i) {
      list.push_back(tensor_arg(static_cast<int>(c.roles.size())));
      c.roles.push_back("initial_state");
    }
    c.kwargs["initial_state"] = list;
  }
  if (mask) {
    c.kwargs["mask"] = tensor_arg(static_cast<int>(c.roles.size()));
    c.roles.push_back("mask");
  }
  return c;
}

inline void expect_close(const Tensor& got, const Tensor& want, double tol = 1e-5) {
  std::string miss = compare(want, got, tol, tol);
  EXPECT_TRUE(miss.empty()) << miss;
}

// (batch, spatial..., channels) -> (batch, channels, spatial...)
inline Tensor to_channels_first(const Tensor& t) {
  const Shape& s = t.shape;
  int64_t b = s[0], c = s.back(), inner = t.size() / (b * c);
  Shape out{b, c};
  out.insert(out.end(), s.begin() + 1, s.end() - 1);
  Tensor r(out);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t p = 0; p < inner; ++p)
      for (int64_t k = 0; k < c; ++k) r.floats()[(i * c + k) * inner + p] = t.floats()[(i * inner + p) * c + k];
  return r;
}

}  // namespace kerasrt::testing
