#include "layers/common.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <functional>
#include <map>
#include <numeric>

namespace kerasrt::layers {

const Json& Config::raw(const char* key) const {
  if (!j_.contains(key)) fail(std::string("config has no '") + key + "'");
  return j_[key];
}

int64_t Config::integer(const char* key) const {
  const Json& v = raw(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return static_cast<int64_t>(v.get<double>());
  if (v.is_array() && v.size() == 1 && v[0].is_number_integer()) return v[0].get<int64_t>();
  fail(std::string("'") + key + "' should be an integer, got " + v.dump());
}

double Config::number(const char* key) const {
  const Json& v = raw(key);
  if (v.is_number()) return v.get<double>();
  fail(std::string("'") + key + "' should be a number, got " + v.dump());
}

bool Config::flag(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  const Json& v = raw(key);
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() != 0;
  fail(std::string("'") + key + "' should be true or false, got " + v.dump());
}

std::string Config::str(const char* key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const Json& v = raw(key);
  if (v.is_string()) return v.get<std::string>();
  fail(std::string("'") + key + "' should be a string, got " + v.dump());
}

std::vector<int64_t> Config::ints(const char* key, size_t n) const {
  const Json& v = raw(key);
  if (v.is_number_integer()) return std::vector<int64_t>(n, v.get<int64_t>());
  std::vector<int64_t> out = int_list(key);
  if (out.size() != n)
    fail(std::string("'") + key + "' should have " + std::to_string(n) + " values, got " + v.dump());
  return out;
}

std::vector<int64_t> Config::int_list(const char* key) const {
  const Json& v = raw(key);
  if (!v.is_array()) fail(std::string("'") + key + "' should be a list of integers, got " + v.dump());
  std::vector<int64_t> out;
  for (const Json& e : v) {
    if (!e.is_number_integer()) fail(std::string("'") + key + "' should hold integers, got " + v.dump());
    out.push_back(e.get<int64_t>());
  }
  return out;
}

bool Config::channels_first() const {
  std::string f = str("data_format", "");
  if (f.empty()) f = str("dim_ordering", "channels_last");
  if (f == "channels_first" || f == "th") return true;
  if (f == "channels_last" || f == "tf" || f == "default") return false;
  fail("unknown data_format '" + f + "'");
}

int normalize_axis(int64_t axis, size_t rank, const std::string& where) {
  int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    throw Error(where + "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

int64_t conv_output_length(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, const std::string& padding) {
  if (in < 0) return -1;
  int64_t eff = (kernel - 1) * dilation + 1;
  if (padding == "same" || padding == "causal") return (in + stride - 1) / stride;
  return in >= eff ? (in - eff) / stride + 1 : 0;
}

int64_t same_pad_front(int64_t in, int64_t kernel, int64_t stride, int64_t dilation) {
  int64_t out = (in + stride - 1) / stride;
  int64_t total = std::max<int64_t>((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
  return total / 2;
}

void expect_input_count(std::span<const Shape> in, size_t n, const char* what) {
  if (in.size() != n)
    throw Error(std::string(what) + " takes " + std::to_string(n) + " input(s), got " + std::to_string(in.size()));
}

void expect_rank(const Shape& s, size_t rank, const char* what) {
  if (s.size() != rank)
    throw Error(std::string(what) + " expects a rank-" + std::to_string(rank) + " input, got " + shape_to_string(s));
}

void ElementwiseOp::expect_inputs(std::span<const Shape> in, size_t n) { expect_input_count(in, n, "this layer"); }

// ---- row-major indexing ------------------------------------------------------------------------

std::vector<int64_t> row_major_strides(std::span<const int64_t> shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

bool next_index(std::vector<int64_t>& idx, std::span<const int64_t> shape) {
  for (size_t a = shape.size(); a-- > 0;) {
    if (++idx[a] < shape[a]) return true;
    idx[a] = 0;
  }
  return false;
}

std::vector<int64_t> broadcast_strides(std::span<const int64_t> shape, std::span<const int64_t> out) {
  std::vector<int64_t> own = row_major_strides(shape);
  std::vector<int64_t> s(out.size(), 0);
  size_t lead = out.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) s[lead + i] = shape[i] == 1 ? 0 : own[i];
  return s;
}

// ---- call arguments ----------------------------------------------------------------------------

Json tensor_placeholder(int index) { return Json{{"__tensor__", index}}; }

std::optional<int> placeholder_index(const Json& arg) {
  if (arg.is_object() && arg.size() == 1 && arg.contains("__tensor__") && arg["__tensor__"].is_number_integer())
    return arg["__tensor__"].get<int>();
  return std::nullopt;
}

void collect_tensors(const Json& arg, std::vector<int>& out) {
  if (std::optional<int> i = placeholder_index(arg)) {
    out.push_back(*i);
  } else if (arg.is_object() || arg.is_array()) {
    for (const Json& v : arg) collect_tensors(v, out);
  }
}

bool call_wants_training(const Call& call) {
  auto it = call.kwargs.find("training");
  if (it != call.kwargs.end() && it->is_boolean()) return it->get<bool>();
  if (call.args.is_array() && call.args.size() > 1 && call.args[1].is_boolean()) return call.args[1].get<bool>();
  return false;
}

RecurrentCallTensors recurrent_call_tensors(const Call& call, const std::string& layer) {
  RecurrentCallTensors r;
  auto add_states = [&r](auto begin, auto end) { r.states.insert(r.states.end(), begin, end); };
  if (call.args.is_array()) {
    for (size_t a = 0; a < call.args.size(); ++a) {
      std::vector<int> t;
      collect_tensors(call.args[a], t);
      if (t.empty()) continue;
      if (a == 0) {
        r.sequence = t[0];
        add_states(t.begin() + 1, t.end());
      } else if (a == 1) {
        add_states(t.begin(), t.end());
      } else if (a == 2) {
        r.mask = t[0];
      } else {
        throw Error(call.where + ": unexpected tensor argument " + std::to_string(a));
      }
    }
  }
  for (auto it = call.kwargs.begin(); it != call.kwargs.end(); ++it) {
    std::vector<int> t;
    collect_tensors(it.value(), t);
    if (t.empty()) continue;
    if (it.key() == "initial_state") add_states(t.begin(), t.end());
    else if (it.key() == "mask") r.mask = t[0];  // Keras uses the first mask of a nested one
    else throw Error(call.where + ": keyword argument '" + it.key() + "' with a tensor is not supported by " + layer);
  }
  if (call.args.empty() && call.kwargs.empty()) {
    // No argument structure (a hand-made call): roles alone say which tensor is which.
    for (size_t i = 0; i < call.roles.size(); ++i) {
      const std::string& role = call.roles[i];
      if (role.empty() && r.sequence < 0) r.sequence = static_cast<int>(i);
      else if (role.empty() || role == "initial_state") r.states.push_back(static_cast<int>(i));
      else if (role == "mask") r.mask = static_cast<int>(i);
      else throw Error(call.where + ": keyword argument '" + role + "' with a tensor is not supported by " + layer);
    }
  }
  if (r.sequence < 0) throw Error(call.where + ": " + layer + " was called without an input sequence");
  // Placeholders come from the model file; an index outside the call's tensors must not be read.
  const int n = static_cast<int>(call.roles.size());
  auto outside = [n](int i) { return i < 0 || i >= n; };
  if (outside(r.sequence) || (r.mask >= 0 && outside(r.mask)) ||
      std::any_of(r.states.begin(), r.states.end(), outside))
    throw Error(call.where + ": " + layer + " refers to a tensor the call does not pass");
  return r;
}

// ---- number formats ----------------------------------------------------------------------------

float round_to_bfloat16(float x) {
  if (std::isnan(x)) return x;
  // Adding just under half a bfloat16 step (plus the kept part's lowest bit, for ties to even) and
  // dropping the low 16 bits rounds to nearest; infinities stay infinite, overflow becomes infinite.
  uint32_t bits = std::bit_cast<uint32_t>(x);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return std::bit_cast<float>(bits & 0xFFFF0000u);
}

// ---- names -------------------------------------------------------------------------------------

std::string snake_case(const std::string& class_name) {
  // Mirrors keras.src.utils.naming.to_snake_case: drop non-word chars, then split
  // "(.)([A-Z][a-z]+)" and "([a-z])([A-Z])" with underscores, then lowercase.
  std::string s;
  for (char c : class_name)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') s += c;
  auto is_upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto is_lower = [](char c) { return c >= 'a' && c <= 'z'; };
  std::string a;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && is_upper(s[i]) && i + 1 < s.size() && is_lower(s[i + 1])) a += '_';
    a += s[i];
  }
  std::string b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (i > 0 && is_lower(a[i - 1]) && is_upper(a[i])) b += '_';
    b += a[i];
  }
  for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return b;
}

// ---- activations ------------------------------------------------------------------------------

void softmax_axis(float* data, std::span<const int64_t> shape, int axis, bool log) {
  int64_t outer = 1, len = shape[axis], inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      float* p = data + o * len * inner + in;
      float mx = -INFINITY;
      for (int64_t k = 0; k < len; ++k) mx = std::max(mx, p[k * inner]);
      double sum = 0;
      for (int64_t k = 0; k < len; ++k) sum += std::exp(static_cast<double>(p[k * inner] - mx));
      if (log) {
        float ls = static_cast<float>(std::log(sum));
        for (int64_t k = 0; k < len; ++k) p[k * inner] = p[k * inner] - mx - ls;
      } else {
        for (int64_t k = 0; k < len; ++k)
          p[k * inner] = static_cast<float>(std::exp(static_cast<double>(p[k * inner] - mx)) / sum);
      }
    }
}

namespace {

float softplus(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }
float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

void sparsemax_last(float* data, int64_t rows, int64_t len) {
  std::vector<float> z(static_cast<size_t>(len));
  for (int64_t r = 0; r < rows; ++r) {
    float* p = data + r * len;
    z.assign(p, p + len);
    std::sort(z.begin(), z.end(), std::greater<float>());
    float cum = 0, tau_sum = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < len; ++i) {
      cum += z[i];
      if (1.f + static_cast<float>(i + 1) * z[i] > cum) {
        k = i + 1;
        tau_sum = cum;
      }
    }
    float tau = (tau_sum - 1.f) / static_cast<float>(k);
    for (int64_t i = 0; i < len; ++i) p[i] = std::max(p[i] - tau, 0.f);
  }
}

}  // namespace

void Activation::apply(float* data, std::span<const int64_t> shape) const {
  int64_t n = element_count(shape);
  auto each = [&](auto f) {
    for (int64_t i = 0; i < n; ++i) data[i] = f(data[i]);
  };
  const float a = alpha, b = beta;
  switch (kind) {
    case Kind::kLinear: return;
    case Kind::kRelu: return each([](float x) { return x > 0.f ? x : 0.f; });
    case Kind::kRelu6: return each([](float x) { return std::min(std::max(x, 0.f), 6.f); });
    case Kind::kSigmoid: return each(sigmoid);
    case Kind::kHardSigmoid: return each([](float x) { return std::min(std::max(x / 6.f + 0.5f, 0.f), 1.f); });
    case Kind::kTanh: return each([](float x) { return std::tanh(x); });
    case Kind::kElu: return each([a](float x) { return x > 0.f ? x : a * std::expm1(x); });
    case Kind::kSelu:
      return each([](float x) {
        constexpr float kAlpha = 1.6732632423543772f, kScale = 1.0507009873554805f;
        return x > 0.f ? kScale * x : kScale * kAlpha * std::expm1(x);
      });
    case Kind::kSoftplus: return each(softplus);
    case Kind::kSoftsign: return each([](float x) { return x / (1.f + std::fabs(x)); });
    case Kind::kSilu: return each([](float x) { return x * sigmoid(x); });
    case Kind::kHardSilu: return each([](float x) { return x * std::min(std::max(x / 6.f + 0.5f, 0.f), 1.f); });
    case Kind::kGelu: return each([](float x) { return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f)); });
    case Kind::kGeluTanh:
      return each([](float x) {
        return 0.5f * x * (1.f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
      });
    case Kind::kExponential: return each([](float x) { return std::exp(x); });
    case Kind::kLeakyRelu: return each([a](float x) { return x >= 0.f ? x : a * x; });
    case Kind::kMish: return each([](float x) { return x * std::tanh(softplus(x)); });
    case Kind::kCelu: return each([a](float x) { return std::max(x, 0.f) + std::min(0.f, a * std::expm1(x / a)); });
    case Kind::kLogSigmoid: return each([](float x) { return -softplus(-x); });
    case Kind::kTanhShrink: return each([](float x) { return x - std::tanh(x); });
    case Kind::kSoftShrink: return each([a](float x) { return x > a ? x - a : x < -a ? x + a : 0.f; });
    case Kind::kHardShrink: return each([a](float x) { return std::fabs(x) > a ? x : 0.f; });
    case Kind::kHardTanh: return each([](float x) { return std::min(std::max(x, -1.f), 1.f); });
    case Kind::kSparsePlus:
      return each([](float x) { return x <= -1.f ? 0.f : x >= 1.f ? x : (x + 1.f) * (x + 1.f) / 4.f; });
    case Kind::kSparseSigmoid:
      return each([](float x) { return x <= -1.f ? 0.f : x >= 1.f ? 1.f : 0.5f * (x + 1.f); });
    case Kind::kSquarePlus: return each([a](float x) { return (x + std::sqrt(x * x + a)) / 2.f; });
    case Kind::kThreshold: return each([a, b](float x) { return x > a ? x : b; });
    case Kind::kSoftmax:
    case Kind::kLogSoftmax:
      if (shape.empty()) return;
      return softmax_axis(data, shape, static_cast<int>(shape.size()) - 1, kind == Kind::kLogSoftmax);
    case Kind::kSparsemax:
      if (shape.empty()) return;
      return sparsemax_last(data, n / shape.back(), shape.back());
    case Kind::kGlu: throw Error("glu changes the shape and cannot be applied in place");
  }
}

Activation parse_activation(const Json& j, const std::string& where) {
  std::string name;
  Json cfg = Json::object();
  if (j.is_null()) return {};
  if (j.is_string()) {
    name = j.get<std::string>();
  } else if (j.is_object()) {
    // Keras 3 serializes functions as {"class_name": "function", "config": "relu", ...} and
    // activation layers/objects as {"class_name": "ReLU", "config": {...}}.
    const Json& c = j.contains("config") ? j["config"] : Json();
    if (c.is_string()) name = c.get<std::string>();
    else if (j.contains("class_name") && j["class_name"].is_string()) {
      name = j["class_name"].get<std::string>();
      if (c.is_object()) cfg = c;
    }
  }
  using K = Activation::Kind;
  static const std::map<std::string, K> kinds = {
      {"linear", K::kLinear}, {"relu", K::kRelu}, {"relu6", K::kRelu6}, {"sigmoid", K::kSigmoid},
      {"hard_sigmoid", K::kHardSigmoid}, {"tanh", K::kTanh}, {"softmax", K::kSoftmax},
      {"log_softmax", K::kLogSoftmax}, {"elu", K::kElu}, {"selu", K::kSelu}, {"softplus", K::kSoftplus},
      {"softsign", K::kSoftsign}, {"silu", K::kSilu}, {"swish", K::kSilu}, {"hard_silu", K::kHardSilu},
      {"hard_swish", K::kHardSilu}, {"gelu", K::kGelu}, {"exponential", K::kExponential},
      {"leaky_relu", K::kLeakyRelu}, {"mish", K::kMish}, {"celu", K::kCelu}, {"log_sigmoid", K::kLogSigmoid},
      {"tanh_shrink", K::kTanhShrink}, {"soft_shrink", K::kSoftShrink}, {"hard_shrink", K::kHardShrink},
      {"hard_tanh", K::kHardTanh}, {"sparse_plus", K::kSparsePlus}, {"sparse_sigmoid", K::kSparseSigmoid},
      {"squareplus", K::kSquarePlus}, {"threshold", K::kThreshold}, {"glu", K::kGlu}, {"sparsemax", K::kSparsemax},
  };
  auto it = kinds.find(name);
  if (it == kinds.end()) throw Error(where + ": unsupported activation " + (name.empty() ? j.dump() : "'" + name + "'"));
  Activation act;
  act.kind = it->second;
  act.name = name;
  switch (act.kind) {  // defaults of the keras.activations functions
    case K::kLeakyRelu: act.alpha = 0.2f; break;
    case K::kElu: case K::kCelu: act.alpha = 1.f; break;
    case K::kSoftShrink: case K::kHardShrink: act.alpha = 0.5f; break;
    case K::kSquarePlus: act.alpha = 4.f; break;
    default: break;
  }
  return act;
}

Activation activation_from(const Config& c, const char* key) {
  if (!c.has(key)) return {};
  return parse_activation(c.raw(key), c.spec().where);
}

}  // namespace kerasrt::layers
