// Where a layer's stored arrays come from, whatever the file layout.
#pragma once

#include <kerasrt/op.hpp>

#include <set>
#include <string>
#include <vector>

#include "io/hdf5.hpp"

namespace kerasrt::format {

struct LayerLocation {
  std::vector<std::string> names;  // layer names from the outermost model down, e.g. {"inner_seq", "dense"}
  std::string archive_path;        // the Keras 3 weights path, e.g. "layers/functional/layers/dense"
  std::string class_name;
};

// What a legacy (Keras 1/2) weights group says about its writer.
struct WriterInfo {
  bool legacy = false;  // Keras 1/2/tf.keras HDF5 layout
  int major_version = 0;  // 1, 2, 3; 0 when unknown
  std::string backend;    // "theano", "tensorflow", ... ("" when not recorded)
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The layer's arrays in Keras's layer.weights order; empty for a layer without weights.
  virtual std::vector<Weights::Entry> weights_for(const LayerLocation& loc) const = 0;
  // Stored layers that hold arrays but were never asked for (a weights file of another model).
  virtual std::vector<std::string> unused() const { return {}; }
  virtual WriterInfo writer() const { return {}; }
  virtual const std::string& file() const = 0;
  // Why there are no weights at all ("no weights file was given"), for a source without any.
  virtual std::string absence() const { return ""; }
  // A bare architecture: zero weights of the stored shapes may stand in, for a summary only.
  virtual bool architecture_only() const { return false; }
  // The model's top-level layers in config order, and which of them are InputLayers: Keras 2 loads
  // save_weights files by position, so a file whose layer names differ can still fit.
  virtual void set_model_layers(const std::vector<std::string>& names, const std::vector<bool>& is_input) const {
    (void)names;
    (void)is_input;
  }
};

// Keras 3 weights files (model.weights.h5 in a .keras archive, or save_weights output):
// arrays at <archive_path>/vars/<i> and in child groups of wrapped objects (cell, forward_layer...).
std::unique_ptr<WeightSource> keras3_weights(io::H5Group root, std::string file);

// Legacy HDF5 weights (model_weights group of a full .h5 model, or the root of a Keras 2
// save_weights file): one group per layer name with a `weight_names` attribute.
std::unique_ptr<WeightSource> legacy_weights(io::H5Group layers_group, std::string file);

// No weights at all (a model with no trainable state); `why` says why there are none.
// `architecture_only`: the file is a bare architecture (a JSON config given without weights), which
// may be built with zero weights for its summary (architecture_weights.hpp).
std::unique_ptr<WeightSource> no_weights(std::string file, std::string why, bool architecture_only = false);

// HDF5 splits attributes over 64 KiB into `name0`, `name1`, ...; this joins them back.
std::vector<std::string> chunked_attr_strings(const io::H5Group& g, const std::string& name);

}  // namespace kerasrt::format
