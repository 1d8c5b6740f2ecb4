// The Keras release that saved a file, and the behaviours that changed between releases. The file
// says which release wrote it (metadata.json's keras_version in a .keras archive, the keras_version
// and backend attributes of an .h5, the keras_version/backend keys of a Keras 2 JSON config); the
// parsers in format/keras turn the differences below into ir attributes, so a file computes what
// the release that saved it computed. The README lists them.
#pragma once

#include <kerasrt/op.hpp>

#include <string>

namespace kerasrt::format {

// The release and backend a file records ("" when it does not).
struct SavedBy {
  std::string keras_version;
  std::string backend;
};
inline SavedBy saved_by(const LayerSpec& spec) { return {spec.keras_version, spec.keras_backend}; }

struct KerasVersion {
  int major = 0, minor = 0, patch = 0;  // 0.0.0: the file does not say
  bool known() const { return major > 0; }
  // Known and older than major.minor.patch.
  bool before(int ma, int mi, int pa = 0) const;
};

// "3.15.1", "2.2.4-tf", "1.2.0" -> the numbers; anything else -> unknown.
KerasVersion parse_keras_version(const std::string& text);

struct KerasSemantics {
  // keras.activations.hard_sigmoid: clip(slope * x + 0.5, 0, 1). Keras 1/2 and tf.keras: 0.2;
  // Keras 3: relu6(x + 3) / 6.
  float hard_sigmoid_slope = 1.f / 6.f;
  // An LSTM/GRU config without recurrent_activation: Keras 1/2 defaulted to hard_sigmoid.
  const char* recurrent_activation_default = "sigmoid";
  // sparsemax's threshold. Keras 3 before 3.16 summed every cumulative sum inside the support,
  // tau = (sum_{i<=k} cumsum_i - 1) / k (keras-team/keras#23425); later, tau = (cumsum_k - 1) / k.
  bool sparsemax_summed_threshold = false;
  // Keras 3.0-3.15's Functional.call handed its own training argument (predict: False) to every
  // layer, over the value a node recorded; 3.15 also recorded the signature default training=True
  // of every augmentation layer and Pipeline. From 3.16 (keras-team/keras#23364) a recorded
  // training=True holds.
  bool training_from_outer_call = false;
  // Keras 3.0-3.15 on the torch backend: average pooling with "same" padding that is uneven on some
  // axis pads every axis by repeating the edge cells and averages whole windows (replicated cells
  // count); even padding averages the cells inside the input (keras-team/keras#23233 fixed it).
  bool avg_pool_same_replicates_edges = false;
};

// `keras_version` and `backend` as the file records them ("" when it does not). A file that says
// nothing gets the newest behaviour.
KerasSemantics keras_semantics(const std::string& keras_version, const std::string& backend);
inline KerasSemantics keras_semantics(const LayerSpec& spec) { return keras_semantics(spec.keras_version, spec.keras_backend); }

}  // namespace kerasrt::format
