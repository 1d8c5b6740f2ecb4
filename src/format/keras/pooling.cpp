// Pooling layers: Max/Average, Global and Adaptive pooling 1D-3D (and their Keras aliases) to one
// pool node each.
#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config
#include "format/keras/keras_version.hpp"

namespace kerasrt::format {
namespace {

int64_t checked_positive(const Config& c, int64_t v, const char* key) {
  if (v < 1 || v > (int64_t{1} << 31))
    c.fail(std::string("'") + key + "' values must be between 1 and 2^31, got " + std::to_string(v));
  return v;
}

void copy_sizes(std::array<int64_t, 3>& to, const std::vector<int64_t>& from) {
  for (size_t i = 0; i < from.size(); ++i) to[i] = from[i];
}

// One pool node on the input as float32 (as every layer before the typed engine saw it).
// GlobalAveragePooling1D takes a (batch, steps) mask: masked steps are left out of the mean.
class PoolLayer : public TypedLayer {
 public:
  PoolLayer(ir::PoolAttrs a, std::string name) : attrs_(a), name_(std::move(name)) {}

  void check_call(const Call& call) const override { mask_of(call); }

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    const int mask = mask_of(call);
    if (mask < 0) return sink.add(ir::OpKind::kPool, attrs_, {}, {sink.cast(inputs[0], DType::kFloat32)});
    const int data = mask == 0 ? 1 : 0;
    return sink.add(ir::OpKind::kPool, attrs_, {},
                    {sink.cast(inputs[data], DType::kFloat32), sink.cast(inputs[mask], DType::kFloat32)});
  }

 private:
  // The index of the call's mask tensor, or -1; refuses calls this layer cannot take.
  int mask_of(const Call& call) const {
    std::vector<int> masks = call.tensors_with_role("mask");
    if (masks.empty() || attrs_.window != ir::PoolWindow::kGlobal) {
      positional_only(call);
      return -1;
    }
    if (!(attrs_.spatial == 1 && attrs_.reduce == ir::PoolReduce::kMean))
      throw Error(call.where + ": " + name_ + " does not take a mask");
    if (masks.size() != 1 || call.roles.size() != 2 || call.positional_count() != 1)
      throw Error(call.where + ": " + name_ + " expects one input tensor and one mask");
    return masks[0];
  }

  ir::PoolAttrs attrs_;
  std::string name_;
};

}  // namespace

// Every pooling class: the class name says the reduction, the window kind and the spatial rank.
std::shared_ptr<const TypedLayer> parse_pooling(const LayerSpec& spec) {
  Config c(spec);
  const std::string& cls = spec.class_name;
  ir::PoolAttrs a;
  a.spatial = cls.find("1D") != std::string::npos ? 1 : cls.find("2D") != std::string::npos ? 2 : 3;
  a.reduce = cls.find("Max") != std::string::npos ? ir::PoolReduce::kMax : ir::PoolReduce::kMean;
  a.channels_first = c.channels_first();
  const size_t n = static_cast<size_t>(a.spatial);
  if (cls.rfind("Global", 0) == 0) {
    a.window = ir::PoolWindow::kGlobal;
    a.keepdims = c.flag("keepdims", false);
    return std::make_shared<PoolLayer>(a, cls);
  }
  if (cls.rfind("Adaptive", 0) == 0) {
    a.window = ir::PoolWindow::kAdaptive;
    std::vector<int64_t> size = c.ints("output_size", n);
    for (int64_t& v : size) v = checked_positive(c, v, "output_size");
    copy_sizes(a.size, size);
    return std::make_shared<PoolLayer>(a, cls);
  }
  // Keras 1 named the 1D window "pool_length"/"stride" and the padding "border_mode".
  std::vector<int64_t> pool, strides;
  if (c.has("pool_size")) pool = c.ints("pool_size", n);
  else if (n == 1 && c.has("pool_length")) pool = c.ints("pool_length", 1);
  else pool.assign(n, 2);
  if (c.has("strides")) strides = c.ints("strides", n);
  else if (n == 1 && c.has("stride")) strides = c.ints("stride", 1);
  else strides = pool;
  for (int64_t& p : pool) p = checked_positive(c, p, "pool_size");
  for (int64_t& s : strides) s = checked_positive(c, s, "strides");
  copy_sizes(a.size, pool);
  copy_sizes(a.strides, strides);
  const std::string padding = c.str("padding", c.str("border_mode", "valid"));
  if (padding != "valid" && padding != "same") c.fail("unsupported padding '" + padding + "' (expected valid or same)");
  a.same_padding = padding == "same";
  a.same_replicates_edges = a.same_padding && a.reduce == ir::PoolReduce::kMean &&
                            keras_semantics(spec).avg_pool_same_replicates_edges;
  return std::make_shared<PoolLayer>(a, cls);
}

}  // namespace kerasrt::format
