// kerasrt: run trained Keras models from C++.
//
//   auto model = kerasrt::Model::load("model.keras");
//   auto out = model.predict({{"x", kerasrt::Tensor{{1, 4}, {0.f, 1.f, 2.f, 3.f}}}});
//
// A loaded Model is immutable; predict() may be called from several threads at once. For repeated
// calls at fixed shapes, a Session runs without copies or allocations.
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

// Element types of tensors. Values keep their type end to end: int64 indices above 2^24 stay exact.
enum class DType : uint8_t { kFloat32, kInt32, kInt64, kUInt8, kBool };

const char* dtype_name(DType t);       // "float32", "int32", "int64", "uint8", "bool"
size_t dtype_size(DType t);            // bytes per element
// Keras/NumPy dtype names to DType ("float16"/"bfloat16"/"float64" map to float32, the type kerasrt
// computes those in; "int8"/"int16"/"uint16" to int32; "uint32"/"uint64" to int64). False if unknown.
bool parse_dtype(const std::string& name, DType& out);

// The C++ type behind each DType (bool is stored as one byte, 0 or 1).
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kInt32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kUInt8; }

// Element count of a fully known shape.
int64_t element_count(std::span<const int64_t> shape);
std::string shape_to_string(std::span<const int64_t> shape);  // "(None, 8, 8, 1)"

// A view of memory the caller owns: pointer, shape and element type. Used to run a Session without
// copies; the memory and the shape array must outlive the call.
struct TensorView {
  void* data = nullptr;
  std::span<const int64_t> shape;
  DType dtype = DType::kFloat32;
};
struct ConstTensorView {
  const void* data = nullptr;
  std::span<const int64_t> shape;
  DType dtype = DType::kFloat32;
  ConstTensorView() = default;
  ConstTensorView(const void* d, std::span<const int64_t> s, DType t) : data(d), shape(s), dtype(t) {}
  ConstTensorView(const TensorView& v) : data(v.data), shape(v.shape), dtype(v.dtype) {}  // NOLINT
};

// A dense, row-major array that owns its values.
namespace detail {
// Where tensor values live: the heap, or, for tensors made while a model loads, that model's
// TensorArena (src/api/tensor_arena.hpp): a few blocks of huge pages instead of thousands of fresh
// 4 KiB pages, whose faults cost more than the rest of a load on common virtual machines.
class TensorArena;
std::shared_ptr<TensorArena> current_tensor_arena();  // the calling thread's, or null
void* tensor_storage_allocate(TensorArena* arena, size_t n, size_t size);  // n elements of `size` bytes
void tensor_storage_free(TensorArena* arena, void* p) noexcept;

template <class T>
struct TensorStorageAllocator {
  using value_type = T;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  std::shared_ptr<TensorArena> arena = current_tensor_arena();

  TensorStorageAllocator() = default;
  template <class U>
  TensorStorageAllocator(const TensorStorageAllocator<U>& o) noexcept : arena(o.arena) {}
  T* allocate(size_t n) { return static_cast<T*>(tensor_storage_allocate(arena.get(), n, sizeof(T))); }
  void deallocate(T* p, size_t) noexcept { tensor_storage_free(arena.get(), p); }
  // A copy lives where tensors made now live, not where its source does.
  TensorStorageAllocator select_on_container_copy_construction() const { return {}; }
  template <class U>
  bool operator==(const TensorStorageAllocator<U>& o) const { return arena == o.arena; }
};
}  // namespace detail

class Tensor {
 public:
  Shape shape;
  DType dtype = DType::kFloat32;

  Tensor() : storage_(1, 0) {}  // a float32 scalar 0
  explicit Tensor(Shape s, DType t = DType::kFloat32);  // zero-filled
  Tensor(Shape s, std::vector<float> values);
  static Tensor int32(Shape s, std::vector<int32_t> values);
  static Tensor int64(Shape s, std::vector<int64_t> values);
  static Tensor uint8(Shape s, std::vector<uint8_t> values);
  static Tensor boolean(Shape s, std::vector<uint8_t> values);  // nonzero is true

  int64_t size() const { return element_count(shape); }
  size_t nbytes() const { return static_cast<size_t>(size()) * dtype_size(dtype); }
  void* raw() { return storage_.data(); }
  const void* raw() const { return storage_.data(); }

  // The values as T; throws Error unless T is the tensor's type (uint8_t serves bool too).
  template <class T> std::span<T> values() { check(dtype_of<T>()); return {static_cast<T*>(raw()), static_cast<size_t>(size())}; }
  template <class T> std::span<const T> values() const {
    check(dtype_of<T>());
    return {static_cast<const T*>(raw()), static_cast<size_t>(size())};
  }
  std::span<float> floats() { return values<float>(); }
  std::span<const float> floats() const { return values<float>(); }

  // A copy of the values as float32, converted from any dtype.
  std::vector<float> to_floats() const;
  // A copy converted to `t` (float to int truncates toward zero, as a C cast and NumPy's astype do).
  Tensor cast(DType t) const;
  // Views check that the shape matches the values held.
  TensorView view() {
    check(dtype == DType::kBool ? DType::kUInt8 : dtype);
    return {raw(), shape, dtype};
  }
  ConstTensorView view() const {
    check(dtype == DType::kBool ? DType::kUInt8 : dtype);
    return {raw(), shape, dtype};
  }

 private:
  void check(DType asked) const;
  using Storage = std::vector<uint64_t, detail::TensorStorageAllocator<uint64_t>>;
  Storage storage_;  // 8-byte words: aligned for every element type
};

struct TensorInfo {
  std::string name;
  Shape shape;  // batch first; -1 where Keras says None
  DType dtype = DType::kFloat32;
};

struct LayerSummary {
  std::string name;
  std::string class_name;
  std::vector<Shape> output_shapes;
  int64_t params = 0;
};

// Where a session's time goes: one entry per step of its plan, in execution order (a step that
// absorbed the element-wise layers after it counts their time too).
struct StepTime {
  std::string layer;   // the Keras layer the step computes
  std::string op;      // its ir op kind ("conv", "dense", ...)
  std::string kernel;  // the kernel that ran it ("gemm", "ref", ...)
  double ms = 0;       // total over the profiled calls
};

namespace detail {
struct ModelImpl;
struct SessionImpl;
}  // namespace detail

// What a model file may make kerasrt allocate: each is checked before the memory is taken, and
// exceeding one is an Error naming the file or layer and the limit (the CLI sets them with --max-*).
struct LoadLimits {
  uint64_t max_entry_bytes = uint64_t{8} << 30;    // one archive entry (config, weights, .npz array), decompressed
  uint64_t max_archive_bytes = uint64_t{16} << 30;  // all entries read from one archive together
  double max_compression_ratio = 100;                // decompressed / compressed, for entries over 1 MiB
  uint64_t max_tensor_bytes = uint64_t{512} << 20;  // one intermediate tensor of a plan
  uint64_t max_plan_bytes = uint64_t{2} << 30;      // all intermediate memory of a plan (its arena)
  int64_t max_graph_nodes = int64_t{1} << 18;       // ir nodes (a nested model called n times counts n times)
  int max_model_depth = 32;                         // models nested in models
};

struct LoadOptions {
  int threads = 0;          // intra-op threads of each call; 0 = the machine's physical cores
  bool reference_kernels = false;  // run the plain reference kernels only (also: KERASRT_KERNELS=ref)
  LoadLimits limits;
};

// A model bound to one set of input shapes: its plan and arena are made once, and run() writes
// straight into buffers the caller owns, without copies, locks or heap allocations. One Session
// serves one thread at a time; make one per thread (they share the model's weights).
class Session {
 public:
  // What run() takes and gives, with concrete shapes.
  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;  // model outputs, then the layers asked for
  // Inputs in model order, outputs in outputs() order; shapes and dtypes must be exactly those.
  void run(std::span<const ConstTensorView> inputs, std::span<const TensorView> outputs);
  // Convenience: allocates the outputs.
  std::vector<Tensor> run(std::span<const Tensor> inputs);
  size_t arena_bytes() const;  // intermediate memory of this plan
  // Profiling: while on, each run() adds every step's wall time to profile(). Off by default (two
  // clock reads per step). Turning it on clears the totals.
  void set_profiling(bool on);
  std::vector<StepTime> profile() const;

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

 private:
  friend class Model;
  explicit Session(std::unique_ptr<detail::SessionImpl> impl);
  std::unique_ptr<detail::SessionImpl> impl_;
};

class Model {
 public:
  // Loads a `.keras` archive, a legacy `.h5`/`.hdf5` model, or an architecture `.json` (then
  // `weights_path` names the `.weights.h5` or Keras 2 `save_weights` file).
  static Model load(const std::string& path, const std::string& weights_path = "", const LoadOptions& options = {});
  // The same from memory. `name` is used in error messages.
  static Model load_keras(std::span<const uint8_t> archive, const std::string& name = "<memory>.keras",
                          const LoadOptions& options = {});
  static Model load_h5(std::span<const uint8_t> file, const std::string& name = "<memory>.h5",
                       const LoadOptions& options = {});
  static Model load_json(const std::string& json, std::span<const uint8_t> weights_h5,
                         const std::string& name = "<memory>.json", const LoadOptions& options = {});

  const std::string& name() const;
  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  int threads() const;  // intra-op threads each call uses (LoadOptions::threads, or the default)
  // Names that predict() accepts in `layers`: every layer (and `name@k` for the k-th extra call of a
  // shared layer, `name:i` for the i-th output of a layer with several).
  std::vector<std::string> layer_names() const;

  // Runs the model. Inputs are keyed by input name and converted to the dtype each input declares,
  // as Keras does; the result holds every model output (keyed by output layer name, `name:i` when a
  // layer yields several, `name@k` for a shared layer's k-th later call when several of its calls are
  // outputs) plus each layer named in `layers`.
  std::map<std::string, Tensor> predict(const std::map<std::string, Tensor>& inputs,
                                        const std::vector<std::string>& layers = {}) const;
  // Positional form: inputs in model order, outputs in model order.
  std::vector<Tensor> predict(const std::vector<Tensor>& inputs) const;

  // A session for these input shapes (model order), returning the model outputs and then `layers`.
  Session session(const std::vector<Shape>& input_shapes, const std::vector<std::string>& layers = {}) const;

  std::vector<LayerSummary> layers() const;
  std::string summary() const;  // like Keras's model.summary()
  // The typed ir as JSON: nodes, op kinds, attributes, weights, values with shapes and dtypes, and
  // the Keras names each value answers to; `kernels_for` adds the kernel each node would run with
  // at these input shapes (empty: leave kernels out).
  std::string ir_json(const std::vector<Shape>& kernels_for = {}) const;

 private:
  explicit Model(std::shared_ptr<const detail::ModelImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const detail::ModelImpl> impl_;
};

}  // namespace kerasrt
