// The layer interface: how kerasrt (and your own code) implements a Keras layer in C++.
//
// A layer class is registered under its Keras class name (or its registered name, "package>Class")
// with a factory that turns the layer's config and stored weights into an Op:
//
//   kerasrt::register_layer("MyPkg>ScaledDense", [](const kerasrt::LayerSpec& spec) {
//     return std::make_shared<MyScaledDense>(spec);
//   });
//
// The same Op serves every call of a shared layer; bind() lets a call with its own arguments
// (a mask, initial states, slice bounds of an op node) get a specialised copy.
#pragma once

#include <kerasrt/kerasrt.hpp>

#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>

namespace kerasrt {

using Json = nlohmann::json;

struct ConstView {
  const float* data = nullptr;
  std::span<const int64_t> shape;
  int64_t size() const { return element_count(shape); }
};
struct MutView {
  float* data = nullptr;
  std::span<const int64_t> shape;
  int64_t size() const { return element_count(shape); }
};

// How one node of the graph calls its layer. Tensors are numbered in the order they appear in the
// call's positional args, then its keyword args; `roles[i]` is "" for a positional tensor and the
// keyword's name otherwise ("mask", "initial_state", "key", ...). `args`/`kwargs` hold the call's
// raw arguments with each tensor replaced by {"__tensor__": i}.
struct Call {
  std::vector<std::string> roles;
  Json args = Json::array();
  Json kwargs = Json::object();
  std::string where;  // "file, layer 'name'" for error messages

  int positional_count() const;
  std::vector<int> tensors_with_role(std::string_view role) const;
};

class Op : public std::enable_shared_from_this<Op> {
 public:
  virtual ~Op() = default;
  // Specialise for one call. The default accepts positional tensors only and returns this Op.
  virtual std::shared_ptr<const Op> bind(const Call& call) const;
  // Shapes of the outputs for these input shapes. Dimensions may be -1 (unknown) when the summary
  // asks; at run time all are known. Throws Error for shapes the layer cannot take.
  virtual std::vector<Shape> output_shapes(std::span<const Shape> inputs) const = 0;
  // Computes the outputs; their buffers are allocated with the shapes output_shapes() gave.
  virtual void run(std::span<const ConstView> inputs, std::span<const MutView> outputs) const = 0;
  virtual int64_t param_count() const { return 0; }
};

// Stored weights of one layer, in Keras's order (layer.weights), taken one at a time.
class Weights {
 public:
  struct Entry {
    std::string name;
    Shape shape;
    std::vector<float> data;
    // Readers that load in place (Keras 3 files) set this instead of `data`: the array already in
    // the model's memory, so a layer that keeps it as stored copies nothing (take_tensor).
    std::shared_ptr<const Tensor> tensor = nullptr;
  };
  Weights() = default;
  Weights(std::vector<Entry> entries, std::string where)
      : entries_(std::move(entries)), where_(std::move(where)) {}

  // The next array; throws unless its shape is `expected` (-1 entries match anything).
  std::vector<float> take(std::string_view what, const Shape& expected);
  // The same as a float32 tensor of the stored shape, shared rather than copied where it can be.
  std::shared_ptr<const Tensor> take_tensor(std::string_view what, const Shape& expected);
  Entry take_entry(std::string_view what);  // with `data` filled
  const Entry* peek() const { return next_ < entries_.size() ? &entries_[next_] : nullptr; }
  size_t remaining() const { return entries_.size() - next_; }
  int64_t taken_values() const { return taken_values_; }
  const std::string& where() const { return where_; }

 private:
  Entry take_checked(std::string_view what, const Shape& expected);
  std::vector<Entry> entries_;
  size_t next_ = 0;
  int64_t taken_values_ = 0;
  std::string where_;
};

struct LayerSpec;
using LayerFactory = std::function<std::shared_ptr<Op>(const LayerSpec&)>;

struct LayerSpec {
  std::string class_name;
  std::string registered_name;  // "package>Class" for custom classes, else empty
  std::string name;
  const Json& config;           // the layer's own "config" object, Keras 3 key names
  Weights& weights;
  std::string where;            // "file, layer 'name' (Class)" for error messages
  // The Keras release that saved the file and its backend, as the file records them ("" when it
  // does not): behaviours that changed between releases follow the release that saved the file.
  std::string keras_version = "";
  std::string keras_backend = "";

  // Builds a wrapped layer (TimeDistributed, Bidirectional, RNN cells) from its
  // {"class_name", "config"} object, taking its weights from the same stream.
  std::shared_ptr<Op> make_sublayer(const Json& layer_json) const;
  [[noreturn]] void fail(const std::string& what) const;
};

// Registers a factory for a class name or a registered name; later registrations win, and a
// registration under a built-in class name replaces the built-in.
void register_layer(const std::string& class_or_registered_name, LayerFactory factory);
// Removes a registration made with register_layer (a replaced built-in comes back).
void unregister_layer(const std::string& class_or_registered_name);

}  // namespace kerasrt
