#include "format/keras/architecture_weights.hpp"

#include <algorithm>

namespace kerasrt::format {
namespace {

const Json& config_of(const Json& entry) {
  static const Json kEmpty = Json::object();
  return entry.is_object() && entry.contains("config") && entry["config"].is_object() ? entry["config"] : kEmpty;
}

std::string class_of(const Json& entry) {
  return entry.is_object() && entry.contains("class_name") && entry["class_name"].is_string()
             ? entry["class_name"].get<std::string>()
             : "";
}

class Reader {
 public:
  Reader(const Json& config, std::string where) : c_(config), where_(std::move(where)) {}
  int64_t integer(const char* key, int64_t fallback) const {
    if (!c_.contains(key) || c_[key].is_null()) return fallback;
    if (!c_[key].is_number_integer() || c_[key].get<int64_t>() < 0 || c_[key].get<int64_t>() > (int64_t{1} << 31))
      fail(std::string("'") + key + "' should be a non-negative integer");
    return c_[key].get<int64_t>();
  }
  int64_t required(const char* key) const {
    if (!c_.contains(key)) fail(std::string("the config has no '") + key + "'");
    return integer(key, 0);
  }
  bool flag(const char* key, bool fallback) const {
    return c_.contains(key) && c_[key].is_boolean() ? c_[key].get<bool>() : fallback;
  }
  std::vector<int64_t> ints(const char* key, size_t n) const {
    if (!c_.contains(key)) fail(std::string("the config has no '") + key + "'");
    const Json& v = c_[key];
    if (v.is_number_integer()) return std::vector<int64_t>(n, v.get<int64_t>());
    if (!v.is_array() || v.size() != n) fail(std::string("'") + key + "' should hold " + std::to_string(n) + " integers");
    std::vector<int64_t> out;
    for (const Json& e : v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 1 || e.get<int64_t>() > 4096) fail(std::string("bad '") + key + "'");
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
  bool channels_first() const {
    return c_.contains("data_format") && c_["data_format"].is_string() && c_["data_format"] == "channels_first";
  }
  [[noreturn]] void fail(const std::string& what) const { throw Error(where_ + ": " + what); }

 private:
  const Json& c_;
  std::string where_;
};

Weights::Entry zeros(std::string name, Shape shape, const Reader& r) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) r.fail("needs its input shape known to size '" + name + "' without weights");
    if (d > 0 && n > (int64_t{1} << 31) / d) r.fail("'" + name + "' would be implausibly large");
    n *= d;
  }
  return {std::move(name), std::move(shape), std::vector<float>(static_cast<size_t>(n), 0.f)};
}

int64_t last_dim(std::span<const ir::TensorType> in, const Reader& r) {
  if (in.empty() || in[0].shape.empty()) r.fail("has no input to size its weights from");
  return in[0].shape.back();
}

// A conv layer's input channels.
int64_t channels(std::span<const ir::TensorType> in, const Reader& r) {
  if (in.empty() || in[0].shape.size() < 2) r.fail("has no input to size its weights from");
  return r.channels_first() ? in[0].shape[1] : in[0].shape.back();
}

// The arrays of an RNN cell of class `cls` with config `r` on `in` features.
std::vector<Weights::Entry> rnn_weights(const std::string& cls, const Reader& r, int64_t in) {
  const int64_t u = r.required("units");
  const int64_t gates = cls == "LSTM" ? 4 : cls == "GRU" ? 3 : 1;
  std::vector<Weights::Entry> w{zeros("kernel", {in, gates * u}, r), zeros("recurrent_kernel", {u, gates * u}, r)};
  if (r.flag("use_bias", true)) {
    if (cls == "GRU" && r.flag("reset_after", true)) w.push_back(zeros("bias", {2, gates * u}, r));
    else w.push_back(zeros("bias", {gates * u}, r));
  }
  return w;
}

}  // namespace

std::optional<std::vector<Weights::Entry>> architecture_weights(const Json& entry, std::span<const ir::TensorType> in,
                                                                const std::string& where) {
  const std::string cls = class_of(entry);
  const Reader r(config_of(entry), where);
  auto rank_of = [&](char digit) { return static_cast<size_t>(digit - '0'); };
  if (cls == "Dense") {
    const int64_t units = r.required("units");
    std::vector<Weights::Entry> w{zeros("kernel", {last_dim(in, r), units}, r)};
    if (r.flag("use_bias", true)) w.push_back(zeros("bias", {units}, r));
    return w;
  }
  if (cls == "Embedding") return std::vector<Weights::Entry>{zeros("embeddings", {r.required("input_dim"), r.required("output_dim")}, r)};
  if (cls == "SimpleRNN" || cls == "LSTM" || cls == "GRU") return rnn_weights(cls, r, last_dim(in, r));
  if (cls == "Conv1D" || cls == "Conv2D" || cls == "Conv3D" || cls == "Conv1DTranspose" || cls == "Conv2DTranspose" ||
      cls == "Conv3DTranspose") {
    const size_t n = rank_of(cls[4]);
    const int64_t filters = r.required("filters"), c = channels(in, r), groups = std::max<int64_t>(1, r.integer("groups", 1));
    Shape k;
    for (int64_t d : r.ints("kernel_size", n)) k.push_back(d);
    const bool transpose = cls.find("Transpose") != std::string::npos;
    k.push_back(transpose ? filters : c / groups);
    k.push_back(transpose ? c : filters);
    std::vector<Weights::Entry> w{zeros("kernel", k, r)};
    if (r.flag("use_bias", true)) w.push_back(zeros("bias", {filters}, r));
    return w;
  }
  if (cls == "DepthwiseConv1D" || cls == "DepthwiseConv2D" || cls == "SeparableConv1D" || cls == "SeparableConv2D") {
    const bool separable = cls[0] == 'S';
    const size_t n = rank_of(cls[13]);  // "DepthwiseConv1D", "SeparableConv2D": the digit
    const int64_t c = channels(in, r), dm = std::max<int64_t>(1, r.integer("depth_multiplier", 1));
    Shape k;
    for (int64_t d : r.ints("kernel_size", n)) k.push_back(d);
    k.push_back(c);
    k.push_back(dm);
    std::vector<Weights::Entry> w{zeros("depthwise_kernel", k, r)};
    int64_t out = c * dm;
    if (separable) {
      out = r.required("filters");
      Shape p(n, 1);
      p.push_back(c * dm);
      p.push_back(out);
      w.push_back(zeros("pointwise_kernel", p, r));
    }
    if (r.flag("use_bias", true)) w.push_back(zeros("bias", {out}, r));
    return w;
  }
  if (cls == "BatchNormalization") {
    if (in.empty() || in[0].shape.empty()) r.fail("has no input to size its weights from");
    const Json& axis = config_of(entry).contains("axis") ? config_of(entry)["axis"] : Json(-1);
    const auto rank = static_cast<int64_t>(in[0].shape.size());
    int64_t a = axis.is_array() && axis.size() == 1 ? axis[0].get<int64_t>() : axis.is_number_integer() ? axis.get<int64_t>() : -1;
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) r.fail("'axis' is out of range");
    const Shape s{in[0].shape[static_cast<size_t>(a)]};
    std::vector<Weights::Entry> w;
    if (r.flag("scale", true)) w.push_back(zeros("gamma", s, r));
    if (r.flag("center", true)) w.push_back(zeros("beta", s, r));
    w.push_back(zeros("moving_mean", s, r));
    w.push_back(zeros("moving_variance", s, r));
    return w;
  }
  if (cls == "LayerNormalization") {
    if (in.empty() || in[0].shape.empty()) r.fail("has no input to size its weights from");
    const auto rank = static_cast<int64_t>(in[0].shape.size());
    const Json& axis = config_of(entry).contains("axis") ? config_of(entry)["axis"] : Json(-1);
    Shape s;
    for (const Json& a : axis.is_array() ? axis : Json::array({axis})) {
      int64_t i = a.is_number_integer() ? a.get<int64_t>() : rank;
      if (i < 0) i += rank;
      if (i < 0 || i >= rank) r.fail("'axis' is out of range");
      s.push_back(in[0].shape[static_cast<size_t>(i)]);
    }
    std::vector<Weights::Entry> w;
    if (r.flag("scale", true)) w.push_back(zeros("gamma", s, r));
    if (r.flag("center", true)) w.push_back(zeros("beta", s, r));
    return w;
  }
  if (cls == "Bidirectional") {
    const Json& c = config_of(entry);
    if (!c.contains("layer") || !c["layer"].is_object()) r.fail("wraps no layer");
    const Json& backward = c.contains("backward_layer") && c["backward_layer"].is_object() ? c["backward_layer"] : c["layer"];
    auto f = architecture_weights(c["layer"], in, where), b = architecture_weights(backward, in, where);
    if (!f || !b) return std::nullopt;
    f->insert(f->end(), b->begin(), b->end());
    return f;
  }
  if (cls == "TimeDistributed") {
    const Json& c = config_of(entry);
    if (!c.contains("layer") || !c["layer"].is_object() || in.empty() || in[0].shape.size() < 3)
      r.fail("wraps no layer, or its input has no time axis");
    ir::TensorType step = in[0];
    step.shape.erase(step.shape.begin() + 1);
    return architecture_weights(c["layer"], std::span<const ir::TensorType>(&step, 1), where);
  }
  return std::nullopt;
}

}  // namespace kerasrt::format
