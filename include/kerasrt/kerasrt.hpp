// kerasrt: run trained Keras models from C++.
//
//   auto model = kerasrt::Model::load("model.keras");
//   auto out = model.predict({{"x", kerasrt::Tensor{{1, 4}, {0.f, 1.f, 2.f, 3.f}}}});
//
// A loaded Model is immutable; predict() may be called from several threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace kerasrt {

using Shape = std::vector<int64_t>;  // -1 marks a dimension unknown until a call (Keras's None)

// Every failure on bad or unsupported input is reported as an Error whose message names the
// file, the layer (where there is one) and what is wrong.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A dense, row-major float32 array.
struct Tensor {
  Shape shape;
  std::vector<float> data;

  Tensor() = default;
  Tensor(Shape s, std::vector<float> d) : shape(std::move(s)), data(std::move(d)) {}
  explicit Tensor(Shape s);  // zero-filled
  int64_t size() const { return static_cast<int64_t>(data.size()); }
};

// Element count of a fully known shape.
int64_t element_count(std::span<const int64_t> shape);
std::string shape_to_string(std::span<const int64_t> shape);  // "(None, 8, 8, 1)"

struct TensorInfo {
  std::string name;
  Shape shape;        // batch first; -1 where Keras says None
  std::string dtype;  // as declared by the model ("float32", "int32", ...); values travel as float32
};

struct LayerSummary {
  std::string name;
  std::string class_name;
  std::vector<Shape> output_shapes;
  int64_t params = 0;
};

namespace detail {
struct ModelImpl;
}

class Model {
 public:
  // Loads a `.keras` archive, a legacy `.h5`/`.hdf5` model, or an architecture `.json` (then
  // `weights_path` names the `.weights.h5` or Keras 2 `save_weights` file).
  static Model load(const std::string& path, const std::string& weights_path = "");
  // The same from memory. `name` is used in error messages.
  static Model load_keras(std::span<const uint8_t> archive, const std::string& name = "<memory>.keras");
  static Model load_h5(std::span<const uint8_t> file, const std::string& name = "<memory>.h5");
  static Model load_json(const std::string& json, std::span<const uint8_t> weights_h5,
                         const std::string& name = "<memory>.json");

  const std::string& name() const;
  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  // Names that predict() accepts in `layers`: every layer (and `name@k` for the k-th extra call of a
  // shared layer, `name:i` for the i-th output of a layer with several).
  std::vector<std::string> layer_names() const;

  // Runs the model. Inputs are keyed by input name; the result holds every model output (keyed by
  // output layer name, `name:i` when a layer yields several) plus each layer named in `layers`.
  std::map<std::string, Tensor> predict(const std::map<std::string, Tensor>& inputs,
                                        const std::vector<std::string>& layers = {}) const;
  // Positional form: inputs in model order, outputs in model order.
  std::vector<Tensor> predict(const std::vector<Tensor>& inputs) const;

  std::vector<LayerSummary> layers() const;
  std::string summary() const;  // like Keras's model.summary()

 private:
  explicit Model(std::shared_ptr<const detail::ModelImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const detail::ModelImpl> impl_;
};

}  // namespace kerasrt
