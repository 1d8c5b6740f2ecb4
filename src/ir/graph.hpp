// The ir: kerasrt's neutral, typed model. A graph of nodes, each an op kind with typed attributes
// and weights, over values (tensors) that carry a shape, a dtype and the Keras names they answer to.
// Built by a format reader, immutable afterwards; knows nothing of files or kernels.
#pragma once

#include <kerasrt/kerasrt.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ir/attrs.hpp"

namespace kerasrt::ir {

struct TensorType {
  Shape shape;  // -1 where a dimension is unknown until a call
  DType dtype = DType::kFloat32;
  bool operator==(const TensorType&) const = default;
};

// A constant array of a node, already in the layout its kernels read. Shared between the calls of a
// shared layer.
struct Weight {
  std::string name;  // what it is to the op ("kernel", "bias", "gamma", ...)
  std::shared_ptr<const Tensor> value;
};

struct Node {
  OpKind kind = OpKind::kCustom;
  Attrs attrs;
  std::vector<Weight> weights;
  std::vector<int> inputs;   // value ids
  std::vector<int> outputs;  // value ids
  std::string layer;         // the Keras layer this call belongs to ("outer/inner" inside nested models)

  template <class A> const A& as() const { return std::get<A>(attrs); }
  const Tensor& weight(size_t i) const { return *weights.at(i).value; }
};

struct Value {
  TensorType type;
  int producer = -1;  // node index; -1 for a model input
};

// One row of the summary: a top-level Keras layer (a nested model is one row).
struct LayerRow {
  std::string name;
  std::string class_name;
  std::vector<int> outputs;  // values of its first call (empty for an unused layer)
  int64_t params = 0;
};

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;  // in a valid execution order
  std::vector<TensorInfo> inputs;
  std::vector<int> input_values;
  std::vector<TensorInfo> outputs;
  std::vector<int> output_values;
  std::vector<std::pair<std::string, int>> named_values;  // every name predict() accepts for a layer output
  std::vector<LayerRow> rows;
  // Non-empty when the graph was built from an architecture alone (zero weights, for its structure
  // and parameter count): why there are no weights. Such a graph refuses to run.
  std::string missing_weights;

  int add_value(TensorType type, int producer) {
    values.push_back({std::move(type), producer});
    return static_cast<int>(values.size()) - 1;
  }
};

}  // namespace kerasrt::ir
