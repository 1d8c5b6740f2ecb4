// How keras.ops nodes of functional configs bind to their calls, and the Masking layer. The op
// families have their own tests (op_nodes_<family>_test.cpp).
#include <cmath>

#include "op_nodes_harness.hpp"

namespace kerasrt::testing {
namespace {

// ---- binding ----------------------------------------------------------------------------------

TEST(OpNodes, BindingChecksTheCall) {
  // A tensor keyword the op does not take.
  EXPECT_THROW(
      make_node("Relu", json::object(), json::array({tensor_arg(0)}), 2, {{"mask", tensor_arg(1)}}, {"", "mask"}),
      Error);
  // A missing operand.
  EXPECT_THROW(make_node("Add", json::object(), json::array({tensor_arg(0)})), Error);
  // Keyword operands are accepted by name.
  auto kw = make_node("Subtract", json::object(), json::array({tensor_arg(0)}), 2, {{"x2", tensor_arg(1)}}, {"", "x2"});
  expect_values(run_op(*kw, {Tensor({1}, {5}), Tensor({1}, {2})})[0], {1}, {3});
}

TEST(OpNodes, OpKeysDoNotShadowLayerClasses) {
  // Without the ops module the entry is the Add merge layer, which takes a list of tensors.
  json layer = {{"class_name", "Add"}, {"config", {{"name", "add"}, {"trainable", true}}}};
  auto merge = make_op(layer, {}, positional_call(2));
  expect_values(run_op(*merge, {Tensor({1, 2}, {1, 2}), Tensor({1, 2}, {3, 4})})[0], {1, 2}, {4, 6});
  auto node = make_node("Add", json::object(), json::array({tensor_arg(0), 1.0}));
  expect_values(run_op(*node, {Tensor({1, 2}, {1, 2})})[0], {1, 2}, {2, 3});
}

TEST(OpNodes, LegacyEntryWithoutModuleIsAnOpNodeByItsConfig) {
  // Keras 3's legacy .h5 keeps no "module"; the op's config has a name and no layer keys.
  json entry = {{"class_name", "Reshape"}, {"config", {{"name", "reshape"}, {"newshape", {-1, 4}}}}};
  Call call = positional_call(1);
  call.args = json::array({tensor_arg(0)});
  auto op = make_op(entry, {}, call);
  EXPECT_EQ(op->output_shapes(std::vector<Shape>{{-1, 2, 2}})[0], (Shape{-1, 4}));
  json layer = {{"class_name", "Reshape"},
                {"config", {{"name", "reshape"}, {"trainable", true}, {"dtype", "float32"}, {"target_shape", {4}}}}};
  EXPECT_EQ(make_op(layer)->output_shapes(std::vector<Shape>{{-1, 2, 2}})[0], (Shape{-1, 4}));
}

// ---- Masking ----------------------------------------------------------------------------------

TEST(Masking, ZeroesTimestepsThatEqualTheMaskValue) {
  auto op = make_op({{"class_name", "Masking"}, {"config", {{"name", "masking"}, {"mask_value", 0.5}}}});
  Tensor x({1, 3, 2}, {0.5f, 0.5f, 0.5f, 1, 2, 0.5f});
  expect_values(run_op(*op, {x})[0], {1, 3, 2}, {0, 0, 0.5f, 1, 2, 0.5f});
  auto zero = make_op({{"class_name", "Masking"}, {"config", {{"name", "masking"}}}});
  expect_values(run_op(*zero, {Tensor({2, 2}, {0, 0, 0, -1})})[0], {2, 2}, {0, 0, 0, -1});
  EXPECT_THROW(make_op({{"class_name", "Masking"}, {"config", {{"mask_value", "x"}}}}), Error);
}

}  // namespace
}  // namespace kerasrt::testing
