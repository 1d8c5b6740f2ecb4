// The neutral model: a graph of layer calls over float32 tensors. Knows nothing of files.
#pragma once

#include <kerasrt/op.hpp>

#include <string>
#include <vector>

namespace kerasrt::model {

struct Node {
  std::shared_ptr<const Op> op;
  std::vector<int> inputs;   // tensor ids
  std::vector<int> outputs;  // tensor ids
  std::string layer;         // the Keras layer (or op) name, for errors and profiling
};

struct TensorSlot {
  Shape shape;        // static shape, -1 where unknown
  int producer = -1;  // node index, -1 for a model input
};

// One row of the summary: a top-level layer (a nested model is one row).
struct LayerRow {
  std::string name;
  std::string class_name;
  std::vector<int> outputs;  // tensors of its first call (empty for an unused layer)
  int64_t params = 0;
};

struct Graph {
  std::string name;
  std::vector<TensorSlot> tensors;
  std::vector<Node> nodes;  // in a valid execution order
  std::vector<TensorInfo> inputs;
  std::vector<int> input_tensors;
  std::vector<TensorInfo> outputs;
  std::vector<int> output_tensors;
  std::vector<std::pair<std::string, int>> named_tensors;  // layer output names accepted by predict()
  std::vector<LayerRow> rows;

  int add_tensor(Shape shape, int producer) {
    tensors.push_back({std::move(shape), producer});
    return static_cast<int>(tensors.size()) - 1;
  }
};

}  // namespace kerasrt::model
