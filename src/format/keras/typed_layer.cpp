#include "format/keras/typed_layer.hpp"

#include <map>

#include "ir/infer.hpp"

namespace kerasrt::format {

int NodeSink::cast(int value, DType to) {
  if (type(value).dtype == to) return value;
  return add(ir::OpKind::kCast, ir::CastAttrs{to}, {}, {value}).at(0);
}

std::vector<int> GraphSink::add(ir::OpKind kind, ir::Attrs attrs, std::vector<ir::Weight> weights,
                                std::vector<int> inputs) {
  ir::Node node{kind, std::move(attrs), std::move(weights), std::move(inputs), {}, layer_};
  std::vector<ir::TensorType> in_types;
  for (int v : node.inputs) in_types.push_back(graph_.values[v].type);
  std::vector<ir::TensorType> out_types;
  try {
    out_types = ir::infer_types(node, in_types);
  } catch (const Error& e) {
    std::string msg = e.what();
    std::string file = where_.substr(0, where_.find(", layer"));
    if (!file.empty() && msg.rfind(file, 0) == 0) throw;
    throw Error(where_ + ": " + msg);
  }
  int index = static_cast<int>(graph_.nodes.size());
  for (auto& t : out_types) node.outputs.push_back(graph_.add_value(std::move(t), index));
  graph_.nodes.push_back(std::move(node));
  return graph_.nodes.back().outputs;
}

SingleNodeLayer::SingleNodeLayer(ir::OpKind kind, ir::Attrs attrs, std::vector<ir::Weight> weights)
    : kind_(kind), attrs_(std::move(attrs)), weights_(std::move(weights)) {}

int64_t SingleNodeLayer::param_count() const {
  int64_t n = 0;
  for (const ir::Weight& w : weights_) n += w.value->size();
  return n;
}

void SingleNodeLayer::check_call(const Call& call) const { positional_only(call); }

void positional_only(const Call& call) {
  for (const auto& r : call.roles)
    if (!r.empty())
      throw Error(call.where + ": keyword argument '" + r + "' with a tensor is not supported by this layer");
}

void expect_one_input(const Call& call, std::span<const int> inputs, const std::string& cls) {
  if (inputs.size() != 1)
    throw Error(call.where + ": " + cls + " takes 1 input(s), got " + std::to_string(inputs.size()));
}

std::vector<int> SingleNodeLayer::call(NodeSink& sink, const Call& call, std::span<const int> inputs) const {
  check_call(call);
  return sink.add(kind_, attrs_, weights_, {inputs.begin(), inputs.end()});
}

ir::Weight weight(std::string name, std::vector<float> values, Shape shape) {
  return {std::move(name), std::make_shared<const Tensor>(std::move(shape), std::move(values))};
}

ir::Weight stored_weight(Weights& weights, std::string name, std::string_view what, const Shape& shape) {
  return {std::move(name), weights.take_tensor(what, shape)};
}

TypedParser typed_parser(const std::string& key) {
  static const std::map<std::string, TypedParser> parsers = {
      {"Dense", parse_dense},
      {"Activation", parse_activation_layer},
      {"LeakyReLU", parse_leaky_relu},
      {"ELU", parse_elu},
      {"ReLU", parse_relu},
      {"Conv1D", parse_conv<1>},
      {"Conv2D", parse_conv<2>},
      {"Conv3D", parse_conv<3>},
      {"DepthwiseConv1D", parse_depthwise_conv<1>},
      {"DepthwiseConv2D", parse_depthwise_conv<2>},
      {"SeparableConv1D", parse_separable_conv<1>},
      {"SeparableConv2D", parse_separable_conv<2>},
      {"Conv1DTranspose", parse_conv_transpose<1>},
      {"Conv2DTranspose", parse_conv_transpose<2>},
      {"Conv3DTranspose", parse_conv_transpose<3>},
      {"MaxPooling1D", parse_pooling},
      {"MaxPool1D", parse_pooling},
      {"AveragePooling1D", parse_pooling},
      {"AvgPool1D", parse_pooling},
      {"GlobalMaxPooling1D", parse_pooling},
      {"GlobalMaxPool1D", parse_pooling},
      {"GlobalAveragePooling1D", parse_pooling},
      {"GlobalAvgPool1D", parse_pooling},
      {"AdaptiveMaxPooling1D", parse_pooling},
      {"AdaptiveAveragePooling1D", parse_pooling},
      {"MaxPooling2D", parse_pooling},
      {"MaxPool2D", parse_pooling},
      {"AveragePooling2D", parse_pooling},
      {"AvgPool2D", parse_pooling},
      {"GlobalMaxPooling2D", parse_pooling},
      {"GlobalMaxPool2D", parse_pooling},
      {"GlobalAveragePooling2D", parse_pooling},
      {"GlobalAvgPool2D", parse_pooling},
      {"AdaptiveMaxPooling2D", parse_pooling},
      {"AdaptiveAveragePooling2D", parse_pooling},
      {"MaxPooling3D", parse_pooling},
      {"MaxPool3D", parse_pooling},
      {"AveragePooling3D", parse_pooling},
      {"AvgPool3D", parse_pooling},
      {"GlobalMaxPooling3D", parse_pooling},
      {"GlobalMaxPool3D", parse_pooling},
      {"GlobalAveragePooling3D", parse_pooling},
      {"GlobalAvgPool3D", parse_pooling},
      {"AdaptiveMaxPooling3D", parse_pooling},
      {"AdaptiveAveragePooling3D", parse_pooling},
      {"BatchNormalization", parse_batch_norm},
      {"LayerNormalization", parse_layer_norm},
      {"RMSNormalization", parse_rms_norm},
      {"UnitNormalization", parse_unit_norm},
      {"GroupNormalization", parse_group_norm},
      {"Dropout", parse_inference_noop},
      {"SpatialDropout1D", parse_inference_noop},
      {"SpatialDropout2D", parse_inference_noop},
      {"SpatialDropout3D", parse_inference_noop},
      {"GaussianNoise", parse_inference_noop},
      {"GaussianDropout", parse_inference_noop},
      {"AlphaDropout", parse_inference_noop},
      {"ActivityRegularization", parse_inference_noop},
      {"Identity", parse_inference_noop},
      {"Flatten", parse_flatten},
      {"Reshape", parse_reshape},
      {"Permute", parse_permute},
      {"RepeatVector", parse_repeat_vector},
      {"Embedding", parse_embedding},
      {"Add", parse_merge},
      {"Subtract", parse_merge},
      {"Multiply", parse_merge},
      {"Average", parse_merge},
      {"Maximum", parse_merge},
      {"Minimum", parse_merge},
      {"SimpleRNN", parse_rnn},
      {"LSTM", parse_rnn},
      {"GRU", parse_rnn},
      {"CuDNNLSTM", parse_rnn},
      {"CuDNNGRU", parse_rnn},
      {"RNN", parse_rnn},
      {"ConvLSTM1D", parse_rnn},
      {"ConvLSTM2D", parse_rnn},
      {"ConvLSTM3D", parse_rnn},
      {"Bidirectional", parse_bidirectional},
      {"TimeDistributed", parse_time_distributed},
      {"SpectralNormalization", parse_spectral_norm},
      {"MultiHeadAttention", parse_head_attention},
      // Keras exports the GroupedQueryAttention class as "GroupQueryAttention"; files use either name.
      {"GroupedQueryAttention", parse_head_attention},
      {"GroupQueryAttention", parse_head_attention},
      {"Concatenate", parse_concatenate},
      {"Softmax", parse_softmax},
      {"Rescaling", parse_rescaling},
      {"ZeroPadding1D", parse_zero_padding},
      {"ZeroPadding2D", parse_zero_padding},
      {"ZeroPadding3D", parse_zero_padding},
      {"Cropping1D", parse_cropping},
      {"Cropping2D", parse_cropping},
      {"Cropping3D", parse_cropping},
      {"UpSampling1D", parse_upsampling},
      {"UpSampling2D", parse_upsampling},
      {"UpSampling3D", parse_upsampling},
      {"Dot", parse_dot},
      {"EinsumDense", parse_einsum_dense},
      {"TernaryDense", parse_ternary_dense},
      {"ReversibleEmbedding", parse_reversible_embedding},
      {"Attention", parse_sequence_attention},
      {"AdditiveAttention", parse_sequence_attention},
      {"RandomFlip", parse_augmentation},
      {"RandomRotation", parse_augmentation},
      {"RandomZoom", parse_augmentation},
      {"RandomTranslation", parse_augmentation},
      {"RandomContrast", parse_augmentation},
      {"RandomBrightness", parse_augmentation},
      {"RandomCrop", parse_augmentation},
      {"RandomErasing", parse_augmentation},
      {"RandomGaussianBlur", parse_augmentation},
      {"RandomPerspective", parse_augmentation},
      {"RandomShear", parse_augmentation},
      {"RandomElasticTransform", parse_augmentation},
      {"RandomColorDegeneration", parse_augmentation},
      {"RandomColorJitter", parse_augmentation},
      {"RandomGrayscale", parse_augmentation},
      {"RandomHue", parse_augmentation},
      {"RandomInvert", parse_augmentation},
      {"RandomPosterization", parse_augmentation},
      {"RandomSaturation", parse_augmentation},
      {"RandomSharpness", parse_augmentation},
      {"AugMix", parse_augmentation},
      {"RandAugment", parse_augmentation},
      {"CutMix", parse_augmentation},
      {"MixUp", parse_augmentation},
      {"Solarization", parse_augmentation},
      {"Normalization", parse_normalization},
      {"CategoryEncoding", parse_category_encoding},
      {"Discretization", parse_discretization},
      {"Pipeline", parse_pipeline},
      {"Resizing", parse_resizing},
      {"CenterCrop", parse_center_crop},
      {"AutoContrast", parse_auto_contrast},
      {"Equalization", parse_equalization},
      {"ContrastLimitedAdaptiveHistogramEqualization", parse_clahe},
      {"STFTSpectrogram", parse_stft_spectrogram},
      {"MelSpectrogram", parse_mel_spectrogram},
      {"ops:Reshape", parse_shape_op},
      {"ops:ExpandDims", parse_shape_op},
      {"ops:Squeeze", parse_shape_op},
      {"ops:Transpose", parse_shape_op},
      {"ops:Swapaxes", parse_shape_op},
      {"ops:Moveaxis", parse_shape_op},
      {"ops:GetItem", parse_shape_op},
      {"PReLU", parse_prelu},
      {"Masking", parse_masking},
  };
  auto it = parsers.find(key);
  if (it == parsers.end()) {
    for (TypedParser (*ops)(const std::string&) : {elementwise_op_parser, concat_op_parser, softmax_op_parser, reduce_op_parser,
                                                         linalg_op_parser, tf_op_layer_parser})
      if (TypedParser p = ops(key)) return p;
    return nullptr;
  }
  return it->second;
}

}  // namespace kerasrt::format
