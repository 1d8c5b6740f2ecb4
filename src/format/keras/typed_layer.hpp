// Keras layers read into typed ir nodes. Each layer family has one file here that parses its Keras
// config and stored weights once (the TypedLayer) and emits ir nodes for each call of the layer.
// Layers registered with kerasrt::register_layer run through their kerasrt::Op instead (layer_registry.hpp).
#pragma once

#include <kerasrt/op.hpp>

#include <span>

#include "ir/graph.hpp"

namespace kerasrt::format {

// Where a layer call's nodes go. add() infers the new node's output types (errors name the call).
class NodeSink {
 public:
  virtual ~NodeSink() = default;
  virtual std::vector<int> add(ir::OpKind kind, ir::Attrs attrs, std::vector<ir::Weight> weights,
                               std::vector<int> inputs) = 0;
  virtual const ir::TensorType& type(int value) const = 0;
  // `value` as `to`: itself when it already is, else through a cast node.
  int cast(int value, DType to);
};

// A NodeSink that appends to a graph; type errors are prefixed with `where` (unless they already
// name a file, i.e. start with `where`'s file part).
class GraphSink : public NodeSink {
 public:
  GraphSink(ir::Graph& graph, std::string where, std::string layer)
      : graph_(graph), where_(std::move(where)), layer_(std::move(layer)) {}
  std::vector<int> add(ir::OpKind kind, ir::Attrs attrs, std::vector<ir::Weight> weights,
                       std::vector<int> inputs) override;
  const ir::TensorType& type(int value) const override { return graph_.values[value].type; }

 private:
  ir::Graph& graph_;
  std::string where_, layer_;
};

class TypedLayer {
 public:
  virtual ~TypedLayer() = default;
  virtual int64_t param_count() const { return 0; }
  // Emits the nodes of one call whose tensors are `inputs` (in the call's order, see Call::roles);
  // returns the values the call yields.
  virtual std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const = 0;
  // Throws Error for a call the layer cannot take whatever its input shapes (a missing argument, a
  // tensor it does not use); for wrappers that bind a call before they see shapes.
  virtual void check_call(const Call&) const {}
};

// Refuses a call that passes a tensor as a keyword argument: what most layers take is positional.
void positional_only(const Call& call);
// Refuses a call with other than one input tensor; `cls` names the layer class in the message.
void expect_one_input(const Call& call, std::span<const int> inputs, const std::string& cls);

// A layer that is one node taking the call's positional tensors.
class SingleNodeLayer : public TypedLayer {
 public:
  SingleNodeLayer(ir::OpKind kind, ir::Attrs attrs, std::vector<ir::Weight> weights = {});
  int64_t param_count() const override;
  void check_call(const Call& call) const override;
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override;

 private:
  ir::OpKind kind_;
  ir::Attrs attrs_;
  std::vector<ir::Weight> weights_;
};

// A parser may return null for a configuration it leaves to the class's kerasrt::Op (it must not
// have taken weights then).
using TypedParser = std::shared_ptr<const TypedLayer> (*)(const LayerSpec& spec);

// The parser for a layer class, or for a keras.ops node under its op node key ("ops:Add"); null
// when the class has none yet.
TypedParser typed_parser(const std::string& key);

// Weights of a layer as ir weights (float32, shared between its calls).
ir::Weight weight(std::string name, std::vector<float> values, Shape shape);
// The layer's next stored array (`what`, of `shape`) as weight `name`, as stored: no copy when the
// reader loaded it in place.
ir::Weight stored_weight(Weights& weights, std::string name, std::string_view what, const Shape& shape);

// Parsers, one group per family file.
std::shared_ptr<const TypedLayer> parse_dense(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_activation_layer(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_leaky_relu(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_elu(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_relu(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_prelu(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_masking(const LayerSpec& spec);  // masking.cpp
template <int Rank> std::shared_ptr<const TypedLayer> parse_conv(const LayerSpec& spec);
template <int Rank> std::shared_ptr<const TypedLayer> parse_depthwise_conv(const LayerSpec& spec);
template <int Rank> std::shared_ptr<const TypedLayer> parse_separable_conv(const LayerSpec& spec);
template <int Rank> std::shared_ptr<const TypedLayer> parse_conv_transpose(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_pooling(const LayerSpec& spec);       // pooling.cpp: every pooling class
std::shared_ptr<const TypedLayer> parse_batch_norm(const LayerSpec& spec);    // normalization.cpp
std::shared_ptr<const TypedLayer> parse_layer_norm(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_rms_norm(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_unit_norm(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_group_norm(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_inference_noop(const LayerSpec& spec);  // core.cpp
std::shared_ptr<const TypedLayer> parse_flatten(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_reshape(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_permute(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_repeat_vector(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_embedding(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_merge(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_rnn(const LayerSpec& spec);  // recurrent.cpp: SimpleRNN, LSTM, GRU, CuDNN*, RNN, ConvLSTM*
std::shared_ptr<const TypedLayer> parse_head_attention(const LayerSpec& spec);  // attention.cpp
// wrappers.cpp
std::shared_ptr<const TypedLayer> parse_bidirectional(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_time_distributed(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_spectral_norm(const LayerSpec& spec);
// The parser of a keras.ops element-wise node by its op node key ("ops:Add"), or null.
TypedParser elementwise_op_parser(const std::string& key);
std::shared_ptr<const TypedLayer> parse_concatenate(const LayerSpec& spec);  // concat.cpp
TypedParser concat_op_parser(const std::string& key);
std::shared_ptr<const TypedLayer> parse_softmax(const LayerSpec& spec);  // softmax.cpp
TypedParser softmax_op_parser(const std::string& key);
TypedParser reduce_op_parser(const std::string& key);  // reduce.cpp
// TFOpLambda, SlicingOpLambda and TensorFlowOpLayer: tf.keras's saved TensorFlow calls (tf_op_layers.cpp)
TypedParser tf_op_layer_parser(const std::string& key);
std::shared_ptr<const TypedLayer> parse_rescaling(const LayerSpec& spec);  // core.cpp
std::shared_ptr<const TypedLayer> parse_zero_padding(const LayerSpec& spec);  // spatial.cpp: 1D/2D/3D
std::shared_ptr<const TypedLayer> parse_cropping(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_upsampling(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_dot(const LayerSpec& spec);             // linalg.cpp
std::shared_ptr<const TypedLayer> parse_einsum_dense(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_ternary_dense(const LayerSpec& spec);
TypedParser linalg_op_parser(const std::string& key);                            // ops:Matmul, ops:Einsum
std::shared_ptr<const TypedLayer> parse_reversible_embedding(const LayerSpec& spec);  // embedding.cpp
std::shared_ptr<const TypedLayer> parse_sequence_attention(const LayerSpec& spec);    // sequence_attention.cpp
std::shared_ptr<const TypedLayer> parse_augmentation(const LayerSpec& spec);  // preprocessing.cpp: the random layers
std::shared_ptr<const TypedLayer> parse_normalization(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_category_encoding(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_discretization(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_pipeline(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_resizing(const LayerSpec& spec);  // image_preprocessing.cpp
std::shared_ptr<const TypedLayer> parse_center_crop(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_auto_contrast(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_equalization(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_clahe(const LayerSpec& spec);
std::shared_ptr<const TypedLayer> parse_stft_spectrogram(const LayerSpec& spec);  // audio.cpp
std::shared_ptr<const TypedLayer> parse_mel_spectrogram(const LayerSpec& spec);
// keras.ops Reshape, ExpandDims, Squeeze, Transpose, Swapaxes, Moveaxis, GetItem (op_nodes_shape.cpp)
std::shared_ptr<const TypedLayer> parse_shape_op(const LayerSpec& spec);

// keras.activations by name or serialized object, as an ir activation with the semantics of the
// release that saved the file (keras_version.hpp); errors name the layer.
ir::Activation parse_activation(const Json& j, const LayerSpec& spec);

}  // namespace kerasrt::format
