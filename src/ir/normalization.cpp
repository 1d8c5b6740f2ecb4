#include "ir/normalization.hpp"

#include "ir/attrs.hpp"
#include "ir/rules.hpp"

namespace kerasrt::ir {
namespace {

void expect_float(const TensorType& t, const char* op) {
  if (t.dtype != DType::kFloat32) throw Error(std::string(op) + " takes float32, got " + dtype_name(t.dtype));
}

// The weight's shape must be the input's dims at `axes` (unknown dims pass).
void check_axes_weight(const Node& node, size_t i, const Shape& x, const std::vector<int>& axes, const char* op) {
  const Shape& w = node.weight(i).shape;
  bool ok = w.size() == axes.size();
  for (size_t j = 0; ok && j < axes.size(); ++j) ok = axes[j] >= 0 && axes[j] < static_cast<int>(x.size()) &&
                                                      (x[axes[j]] < 0 || x[axes[j]] == w[j]);
  if (!ok)
    throw Error(std::string(op) + ": weights of shape " + shape_to_string(w) + " do not fit input " +
                shape_to_string(x) + " on the normalized axes");
}

}  // namespace

const char* normalize_mode_name(NormalizeMode m) {
  switch (m) {
    case NormalizeMode::kLayer: return "layer";
    case NormalizeMode::kRms: return "rms";
    case NormalizeMode::kUnit: return "unit";
  }
  return "?";
}

std::vector<TensorType> infer_batch_norm(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  expect_float(in[0], "batch_norm");
  const auto& a = node.as<BatchNormAttrs>();
  const Shape& x = in[0].shape;
  int64_t count = 1;
  bool known = true;
  for (int ax : a.axes) {
    if (ax < 0 || ax >= static_cast<int>(x.size())) throw Error("batch_norm axis out of range");
    known = known && x[ax] >= 0;
    if (x[ax] >= 0) count *= x[ax];
  }
  // The weights hold one value per feature, row-major over the axes.
  for (const Weight& w : node.weights)
    if (known && w.value->size() != count)
      throw Error("BatchNormalization: input " + shape_to_string(x) + " has " + std::to_string(count) +
                  " features on the normalized axes, the weights have " + std::to_string(w.value->size()));
  return {in[0]};
}

std::vector<TensorType> infer_normalize(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  expect_float(in[0], "normalize");
  const auto& a = node.as<NormalizeAttrs>();
  for (int ax : a.axes)
    if (ax < 0 || ax >= static_cast<int>(in[0].shape.size())) throw Error("normalize axis out of range");
  for (size_t i = 0; i < node.weights.size(); ++i) check_axes_weight(node, i, in[0].shape, a.axes, "normalize");
  return {in[0]};
}

std::vector<TensorType> infer_group_norm(const Node& node, std::span<const TensorType> in) {
  expect_inputs(in, 1);
  expect_float(in[0], "group_norm");
  const auto& a = node.as<GroupNormAttrs>();
  const Shape& x = in[0].shape;
  if (a.axis < 1 || a.axis >= static_cast<int>(x.size())) throw Error("group_norm axis out of range");
  const int64_t ch = x[a.axis];
  if (ch >= 0) {
    for (const Weight& w : node.weights)
      if (w.value->size() != ch)
        throw Error("GroupNormalization: input " + shape_to_string(x) + " has " + std::to_string(ch) +
                    " channels, the weights have " + std::to_string(w.value->size()));
    const int64_t groups = a.groups == -1 ? ch : a.groups;
    if (ch < groups || ch % groups != 0)
      throw Error("GroupNormalization: " + std::to_string(ch) + " channels cannot be split into " +
                  std::to_string(groups) + " equal groups");
  }
  return {in[0]};
}

}  // namespace kerasrt::ir
