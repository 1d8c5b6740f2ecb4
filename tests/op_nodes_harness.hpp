// Helpers of the op node tests (op_nodes*_test.cpp): op node entries as Keras 3 writes them, bound
// to a call, and value checks.
#pragma once

#include <cmath>

#include "harness.hpp"

namespace kerasrt::testing {

using nlohmann::json;

inline json slice(json start, json stop, json step) {
  return {{"class_name", "__slice__"}, {"config", {{"start", start}, {"stop", stop}, {"step", step}}}};
}
inline const json kAll = slice(nullptr, nullptr, nullptr);
inline const json kEllipsis = {{"class_name", "__ellipsis__"}, {"config", json::object()}};

// An op node entry as Keras 3 writes it, bound to a call with `args` holding `tensors` tensors.
inline std::shared_ptr<const Op> make_node(const std::string& cls, json config, json args, int tensors = 1,
                                    json kwargs = json::object(), std::vector<std::string> roles = {}) {
  config["name"] = "node";
  json entry = {{"module", "keras.src.ops.numpy"}, {"class_name", cls}, {"config", config}};
  Call call = positional_call(tensors);
  if (!roles.empty()) call.roles = roles;
  call.args = std::move(args);
  call.kwargs = std::move(kwargs);
  return make_op(entry, {}, call);
}

// One-tensor ops called as op(x).
inline std::shared_ptr<const Op> make_unary(const std::string& cls, json config = json::object()) {
  return make_node(cls, std::move(config), json::array({tensor_arg(0)}));
}

inline Tensor iota_tensor(Shape shape, float start = 0.f, float step = 1.f) {
  Tensor t(std::move(shape));
  for (size_t i = 0; i < t.floats().size(); ++i) t.floats()[i] = start + step * static_cast<float>(i);
  return t;
}

inline void expect_values(const Tensor& got, const Shape& shape, const std::vector<float>& want) {
  ASSERT_EQ(got.shape, shape);
  ASSERT_EQ(got.floats().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(got.floats()[i])) << "element " << i;
    else if (std::isinf(want[i]))
      EXPECT_EQ(got.floats()[i], want[i]) << "element " << i;
    else
      EXPECT_NEAR(got.floats()[i], want[i], 1e-6 + 1e-6 * std::fabs(want[i])) << "element " << i;
  }
}

}  // namespace kerasrt::testing
