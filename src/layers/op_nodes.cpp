// Raw keras.ops calls that Keras 3 stores as nodes of a functional config (registered under
// op_node_key, e.g. "ops:Add"), and the Masking layer.
//
// An op node's config holds the operation's constructor arguments (axis, keepdims, newshape, ...);
// its call holds the tensors and any constants (scalars, slices, lists). bind() reads the call and
// returns an Op specialised for it. Tensors are float32; booleans are 0/1, integers whole floats.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

#include "layers/common.hpp"
#include "layers/einsum.hpp"
#include "layers/matmul.hpp"
#include "layers/registry.hpp"

namespace kerasrt::layers {
namespace {

// ---- shapes -----------------------------------------------------------------------------------

int64_t product_or_unknown(std::span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

// NumPy broadcasting of two shapes; -1 (unknown) stays unknown unless the other side fixes it.
Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x == 1)
      out[i] = y;
    else if (y == 1)
      out[i] = x;
    else if (x < 0)
      out[i] = y;
    else if (y < 0 || x == y)
      out[i] = x;
    else
      throw Error("cannot broadcast shapes " + shape_to_string(a) + " and " + shape_to_string(b));
  }
  return out;
}

void expect_inputs(std::span<const Shape> in, size_t n) {
  if (in.size() != n) throw Error("takes " + std::to_string(n) + " tensor(s), got " + std::to_string(in.size()));
}

// Axis in [-rank, rank) to [0, rank), for errors raised while computing shapes.
int axis_in(int64_t axis, size_t rank) { return normalize_axis(axis, rank, ""); }

// Sorted distinct axes in [0, rank).
std::vector<int> axes_in(const std::vector<int64_t>& axes, size_t rank) {
  std::vector<int> out;
  for (int64_t a : axes) out.push_back(axis_in(a, rank));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) throw Error("repeated axis in " + shape_to_string(axes));
  return out;
}

// ---- config values ----------------------------------------------------------------------------

// "axis" as None (nullopt), an int or a list of ints.
std::optional<std::vector<int64_t>> optional_axes(const Config& c, const char* key) {
  if (!c.has(key)) return std::nullopt;
  const Json& v = c.raw(key);
  if (v.is_number_integer()) return std::vector<int64_t>{v.get<int64_t>()};
  return c.int_list(key);
}

// ---- call arguments ---------------------------------------------------------------------------

// A call argument that is either one of the call's tensors or a constant (number, bool, nested list).
struct Operand {
  int input = -1;  // index into run()'s inputs; -1 for a constant
  Shape shape;     // the constant's shape
  std::vector<float> values;
};

// Reads a call's arguments by position or keyword and checks at the end that every tensor was used.
class CallArgs {
 public:
  explicit CallArgs(const Call& call) : call_(call), used_(call.roles.size(), 0) {
    if (call.args.is_array()) args_ = call.args;
    // A call recorded without args (Keras 2 style, or a bare call): its positional tensors in order.
    if (args_.empty() && (!call.kwargs.is_object() || call.kwargs.empty()))
      for (size_t i = 0; i < call.roles.size(); ++i)
        if (call.roles[i].empty()) args_.push_back(tensor_placeholder(static_cast<int>(i)));
  }

  const Json* find(size_t pos, const char* name) const {
    if (pos < args_.size()) return &args_[pos];
    if (name && call_.kwargs.is_object()) {
      auto it = call_.kwargs.find(name);
      if (it != call_.kwargs.end()) return &*it;
    }
    return nullptr;
  }
  size_t positional_count() const { return args_.size(); }
  size_t input_count() const { return call_.roles.size(); }

  int tensor(size_t pos, const char* name) {
    const Json* j = find(pos, name);
    if (!j) fail(std::string("the call has no argument '") + name + "'");
    return tensor_of(*j, name);
  }

  int tensor_of(const Json& j, const char* name) {
    std::optional<int> t = placeholder_index(j);
    if (!t) fail(std::string("argument '") + name + "' should be a tensor, got " + j.dump().substr(0, 200));
    return use(*t);
  }

  Operand operand(size_t pos, const char* name) {
    const Json* j = find(pos, name);
    if (!j) fail(std::string("the call has no argument '") + name + "'");
    if (std::optional<int> t = placeholder_index(*j)) return Operand{use(*t), {}, {}};
    Operand c;
    if (!read_constant(*j, 0, c.shape, c.values))
      fail(std::string("argument '") + name + "' should be a tensor or a number, got " + j->dump().substr(0, 200));
    return c;
  }

  // A list of tensors (Concatenate's xs, Stack's x).
  std::vector<int> tensor_list(size_t pos, const char* name) {
    const Json* j = find(pos, name);
    if (!j) fail(std::string("the call has no argument '") + name + "'");
    std::vector<int> out;
    if (j->is_array()) {
      for (const Json& e : *j) out.push_back(tensor_of(e, name));
    } else {
      out.push_back(tensor_of(*j, name));
    }
    if (out.empty()) fail(std::string("argument '") + name + "' is an empty list");
    return out;
  }

  void finish() const {
    for (size_t i = 0; i < used_.size(); ++i)
      if (used_[i] != 1) {
        std::string role = call_.roles[i].empty() ? "positional" : "'" + call_.roles[i] + "'";
        fail("the " + role + " tensor argument #" + std::to_string(i) + " is not one this op takes");
      }
  }

  [[noreturn]] void fail(const std::string& what) const { throw Error(call_.where + ": " + what); }
  const std::string& where() const { return call_.where; }

 private:
  int use(int t) {
    if (t < 0 || t >= static_cast<int>(used_.size())) fail("tensor reference #" + std::to_string(t) + " out of range");
    ++used_[t];
    return t;
  }

  // Numbers and booleans, possibly nested in rectangular lists.
  static bool read_constant(const Json& j, size_t depth, Shape& shape, std::vector<float>& values) {
    if (j.is_boolean()) return depth == shape.size() && (values.push_back(j.get<bool>() ? 1.f : 0.f), true);
    if (j.is_number()) return depth == shape.size() && (values.push_back(j.get<float>()), true);
    if (!j.is_array() || depth > 32) return false;
    if (depth == shape.size()) {
      if (!values.empty()) return false;  // a list where a sibling was a scalar
      shape.push_back(static_cast<int64_t>(j.size()));
    } else if (shape[depth] != static_cast<int64_t>(j.size())) {
      return false;
    }
    for (const Json& e : j)
      if (!read_constant(e, depth + 1, shape, values)) return false;
    return true;
  }

  const Call& call_;
  Json args_ = Json::array();
  std::vector<int> used_;
};

// What an op node's factory returns: it only knows its config until bind() sees the call.
using Binder = std::function<std::shared_ptr<const Op>(CallArgs&)>;

class OpNode : public Op {
 public:
  explicit OpNode(Binder binder) : binder_(std::move(binder)) {}
  std::shared_ptr<const Op> bind(const Call& call) const override {
    CallArgs args(call);
    std::shared_ptr<const Op> op = binder_(args);
    args.finish();
    return op;
  }
  std::vector<Shape> output_shapes(std::span<const Shape>) const override {
    throw Error("an op node computes nothing before it is bound to a call");
  }
  void run(std::span<const ConstView>, std::span<const MutView>) const override {
    throw Error("an op node computes nothing before it is bound to a call");
  }

 private:
  Binder binder_;
};

// ---- element-wise ops with broadcasting ---------------------------------------------------------

using Kernel = std::function<float(const float* operands)>;

class Pointwise : public Op {
 public:
  Pointwise(std::vector<Operand> operands, Kernel kernel, size_t inputs)
      : operands_(std::move(operands)), kernel_(std::move(kernel)), inputs_(inputs) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    Shape out;
    for (const Operand& o : operands_) out = broadcast_shapes(out, shape_of(o, in));
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::span<const int64_t> shape = out[0].shape;
    size_t k = operands_.size();
    std::vector<const float*> data(k);
    std::vector<std::vector<int64_t>> strides(k);
    for (size_t i = 0; i < k; ++i) {
      const Operand& o = operands_[i];
      data[i] = o.input >= 0 ? in[o.input].data : o.values.data();
      strides[i] = broadcast_strides(o.input >= 0 ? in[o.input].shape : std::span<const int64_t>(o.shape), shape);
    }
    std::vector<int64_t> idx(shape.size(), 0);
    std::vector<float> vals(k);
    int64_t n = out[0].size();
    for (int64_t e = 0; e < n; ++e) {
      for (size_t i = 0; i < k; ++i) {
        int64_t off = 0;
        for (size_t a = 0; a < idx.size(); ++a) off += idx[a] * strides[i][a];
        vals[i] = data[i][off];
      }
      out[0].data[e] = kernel_(vals.data());
      next_index(idx, shape);
    }
  }

 private:
  static Shape shape_of(const Operand& o, std::span<const Shape> in) { return o.input >= 0 ? in[o.input] : o.shape; }
  std::vector<Operand> operands_;
  Kernel kernel_;
  size_t inputs_;
};

float truth(bool b) { return b ? 1.f : 0.f; }

// torch's floor division and remainder for floats (Python semantics: the result takes the
// divisor's sign).
float floor_divide(float a, float b) {
  if (b == 0.f) return a / b;
  float mod = std::fmod(a, b);
  float div = (a - mod) / b;
  if (mod != 0.f && ((b < 0.f) != (mod < 0.f))) div -= 1.f;
  if (div == 0.f) return std::copysign(0.f, a / b);
  float floored = std::floor(div);
  if (div - floored > 0.5f) floored += 1.f;
  return floored;
}

float remainder(float a, float b) {
  float mod = std::fmod(a, b);
  if (mod != 0.f && ((b < 0.f) != (mod < 0.f))) mod += b;
  return mod;
}

float nan_max(float a, float b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); }
float nan_min(float a, float b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); }

using Unary = float (*)(float);
using Binary = float (*)(float, float);

const std::map<std::string, Unary>& unary_math() {
  static const std::map<std::string, Unary> m = {
      {"Absolute", [](float x) { return std::fabs(x); }},
      {"Abs", [](float x) { return std::fabs(x); }},
      {"Negative", [](float x) { return -x; }},
      {"Square", [](float x) { return x * x; }},
      {"Sqrt", [](float x) { return std::sqrt(x); }},
      {"Rsqrt", [](float x) { return 1.f / std::sqrt(x); }},
      {"Reciprocal", [](float x) { return 1.f / x; }},
      {"Exp", [](float x) { return std::exp(x); }},
      {"Exp2", [](float x) { return std::exp2(x); }},
      {"Expm1", [](float x) { return std::expm1(x); }},
      {"Log", [](float x) { return std::log(x); }},
      {"Log2", [](float x) { return std::log2(x); }},
      {"Log10", [](float x) { return std::log10(x); }},
      {"Log1p", [](float x) { return std::log1p(x); }},
      {"Sin", [](float x) { return std::sin(x); }},
      {"Cos", [](float x) { return std::cos(x); }},
      {"Tan", [](float x) { return std::tan(x); }},
      {"Arcsin", [](float x) { return std::asin(x); }},
      {"Arccos", [](float x) { return std::acos(x); }},
      {"Arctan", [](float x) { return std::atan(x); }},
      {"Sinh", [](float x) { return std::sinh(x); }},
      {"Cosh", [](float x) { return std::cosh(x); }},
      {"Tanh", [](float x) { return std::tanh(x); }},
      {"Arcsinh", [](float x) { return std::asinh(x); }},
      {"Arccosh", [](float x) { return std::acosh(x); }},
      {"Arctanh", [](float x) { return std::atanh(x); }},
      {"Erf", [](float x) { return std::erf(x); }},
      {"Floor", [](float x) { return std::floor(x); }},
      {"Ceil", [](float x) { return std::ceil(x); }},
      {"Trunc", [](float x) { return std::trunc(x); }},
      {"Sign", [](float x) { return static_cast<float>((0.f < x) - (x < 0.f)); }},
      {"LogicalNot", [](float x) { return truth(x == 0.f); }},
      {"Isnan", [](float x) { return truth(std::isnan(x)); }},
      {"Isinf", [](float x) { return truth(std::isinf(x)); }},
      {"Isfinite", [](float x) { return truth(std::isfinite(x)); }},
  };
  return m;
}

const std::map<std::string, Binary>& binary_math() {
  static const std::map<std::string, Binary> m = {
      {"Add", [](float a, float b) { return a + b; }},
      {"Subtract", [](float a, float b) { return a - b; }},
      {"Multiply", [](float a, float b) { return a * b; }},
      {"Divide", [](float a, float b) { return a / b; }},
      {"TrueDivide", [](float a, float b) { return a / b; }},
      {"FloorDivide", floor_divide},
      {"Mod", remainder},
      {"Power", [](float a, float b) { return std::pow(a, b); }},
      {"Arctan2", [](float a, float b) { return std::atan2(a, b); }},
      {"Maximum", nan_max},
      {"Minimum", nan_min},
      {"Equal", [](float a, float b) { return truth(a == b); }},
      {"NotEqual", [](float a, float b) { return truth(a != b); }},
      {"Greater", [](float a, float b) { return truth(a > b); }},
      {"GreaterEqual", [](float a, float b) { return truth(a >= b); }},
      {"Less", [](float a, float b) { return truth(a < b); }},
      {"LessEqual", [](float a, float b) { return truth(a <= b); }},
      {"LogicalAnd", [](float a, float b) { return truth(a != 0.f && b != 0.f); }},
      {"LogicalOr", [](float a, float b) { return truth(a != 0.f || b != 0.f); }},
      {"LogicalXor", [](float a, float b) { return truth((a != 0.f) != (b != 0.f)); }},
  };
  return m;
}

std::shared_ptr<const Op> unary_pointwise(CallArgs& args, Kernel k) {
  std::vector<Operand> ops{Operand{args.tensor(0, "x"), {}, {}}};
  return std::make_shared<Pointwise>(std::move(ops), std::move(k), args.input_count());
}

// torch.round: nearest, ties to even, after scaling by 10^decimals.
float round_decimals(float x, int64_t decimals) {
  if (decimals == 0) return std::nearbyint(x);
  float scale = static_cast<float>(std::pow(10.0, static_cast<double>(decimals > 0 ? decimals : -decimals)));
  return decimals > 0 ? std::nearbyint(x * scale) / scale : std::nearbyint(x / scale) * scale;
}

// ---- casts ------------------------------------------------------------------------------------

// Nearest float16 value (ties to even), as float.
float to_float16(float x) {
  if (!std::isfinite(x)) return x;
  float a = std::fabs(x);
  if (a >= 65520.f) return std::copysign(INFINITY, x);  // at or past the midpoint above 65504
  int exp = 0;
  std::frexp(a, &exp);                                       // a in [2^(exp-1), 2^exp)
  float quantum = std::ldexp(1.f, std::max(exp, -13) - 11);  // 11 significant bits; subnormals below 2^-14
  return std::copysign(std::nearbyint(a / quantum) * quantum, x);
}

// Float to integer as torch does on x86: truncation toward zero; NaN and out-of-range values give
// the type's minimum for 32/64-bit results and wrap for narrower ones (via the 32-bit result).
int64_t trunc_to_i32(float x) {
  if (!(x > -2147483904.f && x < 2147483648.f)) return INT32_MIN;
  return static_cast<int32_t>(x);
}
int64_t trunc_to_i64(float x) {
  if (!(x >= -9223372036854775808.f && x < 9223372036854775808.f)) return INT64_MIN;
  return static_cast<int64_t>(x);
}

std::optional<Kernel> cast_kernel(const std::string& dtype) {
  if (dtype == "float32" || dtype == "float64" || dtype == "float") return Kernel([](const float* v) { return v[0]; });
  if (dtype == "float16" || dtype == "half") return Kernel([](const float* v) { return to_float16(v[0]); });
  if (dtype == "bfloat16") return Kernel([](const float* v) { return round_to_bfloat16(v[0]); });
  if (dtype == "bool") return Kernel([](const float* v) { return truth(v[0] != 0.f); });
  if (dtype == "int32") return Kernel([](const float* v) { return static_cast<float>(trunc_to_i32(v[0])); });
  if (dtype == "int64") return Kernel([](const float* v) { return static_cast<float>(trunc_to_i64(v[0])); });
  if (dtype == "int16")
    return Kernel([](const float* v) { return static_cast<float>(static_cast<int16_t>(trunc_to_i32(v[0]))); });
  if (dtype == "int8")
    return Kernel([](const float* v) { return static_cast<float>(static_cast<int8_t>(trunc_to_i32(v[0]))); });
  if (dtype == "uint8")
    return Kernel([](const float* v) { return static_cast<float>(static_cast<uint8_t>(trunc_to_i32(v[0]))); });
  if (dtype == "uint16")
    return Kernel([](const float* v) { return static_cast<float>(static_cast<uint16_t>(trunc_to_i32(v[0]))); });
  if (dtype == "uint32")
    return Kernel([](const float* v) { return static_cast<float>(static_cast<uint32_t>(trunc_to_i64(v[0]))); });
  return std::nullopt;
}

std::string dtype_name(const Config& c, const char* key) {
  const Json& v = c.raw(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("config") && v["config"].is_object() && v["config"].contains("name") &&
      v["config"]["name"].is_string())
    return v["config"]["name"].get<std::string>();
  c.fail(std::string("'") + key + "' should be a dtype name, got " + v.dump());
}

// ---- activations and softmax ------------------------------------------------------------------

class ActivationNode : public Op {
 public:
  ActivationNode(Activation act, size_t inputs) : act_(std::move(act)), inputs_(inputs) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    return {in[0]};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
    act_.apply(out[0].data, out[0].shape);
  }

 private:
  Activation act_;
  size_t inputs_;
};

class SoftmaxNode : public Op {
 public:
  SoftmaxNode(std::optional<int64_t> axis, bool log, bool sparse, size_t inputs)
      : axis_(axis), log_(log), sparse_(sparse), inputs_(inputs) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    if (axis_) {
      int a = axis_in(*axis_, in[0].size());
      if (sparse_ && a != static_cast<int>(in[0].size()) - 1)
        throw Error("sparsemax is supported over the last axis only");
    } else if (sparse_) {
      throw Error("sparsemax needs an axis");
    }
    return {in[0]};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
    if (out[0].size() == 0) return;
    if (sparse_) {
      Activation act;
      act.kind = Activation::Kind::kSparsemax;
      act.apply(out[0].data, out[0].shape);
      return;
    }
    if (!axis_) {  // over all elements at once
      int64_t n = out[0].size();
      softmax_axis(out[0].data, std::span<const int64_t>(&n, 1), 0, log_);
      return;
    }
    softmax_axis(out[0].data, out[0].shape, axis_in(*axis_, out[0].shape.size()), log_);
  }

 private:
  std::optional<int64_t> axis_;
  bool log_, sparse_;
  size_t inputs_;
};

// ---- reductions -------------------------------------------------------------------------------

enum class Reduction { kSum, kMean, kMax, kMin, kProd, kVar, kStd, kAny, kAll, kLogSumExp, kArgMax, kArgMin };

class Reduce : public Op {
 public:
  Reduce(Reduction kind, std::optional<std::vector<int64_t>> axes, bool keepdims, std::optional<float> initial,
         size_t inputs)
      : kind_(kind), axes_(std::move(axes)), keepdims_(keepdims), initial_(initial), inputs_(inputs) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    const Shape& s = in[0];
    std::vector<bool> reduced = reduced_axes(s.size());
    Shape out;
    int64_t count = 1;
    for (size_t a = 0; a < s.size(); ++a) {
      if (!reduced[a])
        out.push_back(s[a]);
      else if (keepdims_)
        out.push_back(1);
      if (reduced[a]) count = (count < 0 || s[a] < 0) ? -1 : count * s[a];
    }
    bool needs_values = kind_ == Reduction::kArgMax || kind_ == Reduction::kArgMin ||
                        ((kind_ == Reduction::kMax || kind_ == Reduction::kMin) && !initial_);
    if (count == 0 && needs_values && !identity()) throw Error("cannot reduce over an empty axis");
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::span<const int64_t> s = in[0].shape;
    if (identity()) {  // an empty axis list: Keras returns the input (Var: zeros)
      for (int64_t i = 0; i < in[0].size(); ++i)
        out[0].data[i] = kind_ == Reduction::kVar                                 ? 0.f
                         : (kind_ == Reduction::kAny || kind_ == Reduction::kAll) ? truth(in[0].data[i] != 0.f)
                                                                                  : in[0].data[i];
      return;
    }
    std::vector<bool> reduced = reduced_axes(s.size());
    std::vector<int64_t> strides = row_major_strides(s);
    Shape kept_shape, red_shape;
    std::vector<int64_t> kept_strides, red_strides;
    for (size_t a = 0; a < s.size(); ++a) {
      (reduced[a] ? red_shape : kept_shape).push_back(s[a]);
      (reduced[a] ? red_strides : kept_strides).push_back(strides[a]);
    }
    int64_t outer = element_count(kept_shape), inner = element_count(red_shape);
    std::vector<int64_t> kept_idx(kept_shape.size(), 0);
    std::vector<float> vals(static_cast<size_t>(inner));
    for (int64_t o = 0; o < outer; ++o) {
      int64_t base = 0;
      for (size_t a = 0; a < kept_idx.size(); ++a) base += kept_idx[a] * kept_strides[a];
      std::vector<int64_t> red_idx(red_shape.size(), 0);
      for (int64_t r = 0; r < inner; ++r) {
        int64_t off = base;
        for (size_t a = 0; a < red_idx.size(); ++a) off += red_idx[a] * red_strides[a];
        vals[r] = in[0].data[off];
        next_index(red_idx, red_shape);
      }
      out[0].data[o] = reduce(vals);
      next_index(kept_idx, kept_shape);
    }
  }

 private:
  bool identity() const { return axes_ && axes_->empty(); }

  std::vector<bool> reduced_axes(size_t rank) const {
    std::vector<bool> reduced(rank, !axes_.has_value());
    if (axes_)
      for (int a : axes_in(*axes_, rank)) reduced[a] = true;
    return reduced;
  }

  float reduce(const std::vector<float>& v) const {
    size_t n = v.size();
    switch (kind_) {
      case Reduction::kSum: return static_cast<float>(sum(v));
      case Reduction::kMean: return n ? static_cast<float>(sum(v) / static_cast<double>(n)) : NAN;
      case Reduction::kProd: {
        double p = 1;
        for (float x : v) p *= x;
        return static_cast<float>(p);
      }
      case Reduction::kMax:
      case Reduction::kMin: {
        bool is_max = kind_ == Reduction::kMax;
        float r = n ? v[0] : *initial_;
        for (float x : v) r = is_max ? nan_max(r, x) : nan_min(r, x);
        if (initial_) r = is_max ? nan_max(r, *initial_) : nan_min(r, *initial_);
        return r;
      }
      case Reduction::kVar:
      case Reduction::kStd: {
        if (!n) return NAN;
        double mean = sum(v) / static_cast<double>(n), sq = 0;
        for (float x : v) sq += (x - mean) * (x - mean);
        double var = sq / static_cast<double>(n);  // population variance, as Keras (no Bessel correction)
        return static_cast<float>(kind_ == Reduction::kStd ? std::sqrt(var) : var);
      }
      case Reduction::kAny: return truth(std::any_of(v.begin(), v.end(), [](float x) { return x != 0.f; }));
      case Reduction::kAll: return truth(std::all_of(v.begin(), v.end(), [](float x) { return x != 0.f; }));
      case Reduction::kLogSumExp: {
        float m = -INFINITY;
        for (float x : v) m = nan_max(m, x);
        if (std::isnan(m)) return NAN;
        if (std::isinf(m)) m = 0.f;  // all -inf gives log(0) = -inf; any +inf gives +inf
        double s = 0;
        for (float x : v) s += std::exp(static_cast<double>(x) - m);
        return static_cast<float>(std::log(s) + m);
      }
      case Reduction::kArgMax:
      case Reduction::kArgMin: {
        // The first extreme value; NaN counts as the extreme, as in torch.
        size_t best = 0;
        for (size_t i = 1; i < n && !std::isnan(v[best]); ++i)
          if (std::isnan(v[i]) || (kind_ == Reduction::kArgMax ? v[i] > v[best] : v[i] < v[best])) best = i;
        return static_cast<float>(best);
      }
    }
    return 0.f;
  }

  static double sum(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += x;
    return s;
  }

  Reduction kind_;
  std::optional<std::vector<int64_t>> axes_;  // nullopt: all axes
  bool keepdims_;
  std::optional<float> initial_;
  size_t inputs_;
};

// ---- shape ops --------------------------------------------------------------------------------

// Ops whose output holds the input's elements in the same order (reshape, expand_dims, squeeze).
class SameOrder : public Op {
 public:
  using ShapeFn = std::function<Shape(const Shape&)>;
  SameOrder(ShapeFn fn, size_t inputs) : fn_(std::move(fn)), inputs_(inputs) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    return {fn_(in[0])};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::copy(in[0].data, in[0].data + in[0].size(), out[0].data);
  }

 private:
  ShapeFn fn_;
  size_t inputs_;
};

Shape reshape_to(const Shape& in, const std::vector<int64_t>& target) {
  int64_t total = product_or_unknown(in), known = 1;
  int free_at = -1;
  Shape out;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      if (free_at >= 0) throw Error("the new shape has more than one -1");
      free_at = static_cast<int>(i);
    } else if (target[i] < 0) {
      throw Error("the new shape " + shape_to_string(target) + " has a negative size");
    } else {
      known *= target[i];
    }
    out.push_back(target[i]);
  }
  std::string what = "cannot reshape " + shape_to_string(in) + " to " + shape_to_string(target);
  if (free_at >= 0) {
    if (total >= 0) {
      if (known == 0 || total % known != 0) throw Error(what);
      out[free_at] = total / known;
    }
  } else if (total >= 0 && total != known) {
    throw Error(what);
  }
  return out;
}

Shape expand_dims_shape(const Shape& in, const std::vector<int64_t>& axes) {
  size_t rank = in.size() + axes.size();
  std::vector<int> where = axes_in(axes, rank);
  Shape out;
  size_t next = 0;
  for (size_t a = 0; a < rank; ++a)
    out.push_back(std::binary_search(where.begin(), where.end(), static_cast<int>(a)) ? 1 : in[next++]);
  return out;
}

Shape squeeze_shape(const Shape& in, const std::optional<std::vector<int64_t>>& axes) {
  Shape out;
  if (!axes) {  // every axis of size 1 (unknown axes stay)
    for (int64_t d : in)
      if (d != 1) out.push_back(d);
    return out;
  }
  std::vector<int> drop = axes_in(*axes, in.size());
  for (size_t a = 0; a < in.size(); ++a) {
    bool dropped = std::binary_search(drop.begin(), drop.end(), static_cast<int>(a));
    if (dropped && in[a] != 1 && in[a] != -1)
      throw Error("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(in[a]));
    if (!dropped) out.push_back(in[a]);
  }
  return out;
}

// Transpose, swapaxes, moveaxis: a permutation computed from the input's rank.
class Permutation : public Op {
 public:
  using PermFn = std::function<std::vector<int>(size_t rank)>;
  Permutation(PermFn fn, size_t inputs) : fn_(std::move(fn)), inputs_(inputs) {}
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    std::vector<int> perm = fn_(in[0].size());
    Shape out;
    for (int p : perm) out.push_back(in[0][p]);
    return {out};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::vector<int> perm = fn_(in[0].shape.size());
    permute_copy(in[0], perm, out[0]);
  }

 private:
  PermFn fn_;
  size_t inputs_;
};

std::vector<int> transpose_perm(const std::optional<std::vector<int64_t>>& axes, size_t rank) {
  std::vector<int> perm(rank);
  if (!axes) {
    for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int>(rank - 1 - i);
    return perm;
  }
  if (axes->size() != rank)
    throw Error("transpose axes " + shape_to_string(*axes) + " do not match rank " + std::to_string(rank));
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < rank; ++i) {
    perm[i] = axis_in((*axes)[i], rank);
    if (seen[perm[i]]) throw Error("transpose axes " + shape_to_string(*axes) + " repeat an axis");
    seen[perm[i]] = true;
  }
  return perm;
}

std::vector<int> moveaxis_perm(const std::vector<int64_t>& source, const std::vector<int64_t>& destination,
                               size_t rank) {
  if (source.size() != destination.size()) throw Error("moveaxis needs as many sources as destinations");
  std::vector<int> src, dst;
  for (int64_t a : source) src.push_back(axis_in(a, rank));
  for (int64_t a : destination) dst.push_back(axis_in(a, rank));
  std::vector<int> order;
  for (int a = 0; a < static_cast<int>(rank); ++a)
    if (std::find(src.begin(), src.end(), a) == src.end()) order.push_back(a);
  std::vector<std::pair<int, int>> moves;
  for (size_t i = 0; i < src.size(); ++i) moves.emplace_back(dst[i], src[i]);
  std::sort(moves.begin(), moves.end());
  for (auto [d, s] : moves) {
    if (d > static_cast<int>(order.size())) throw Error("moveaxis destination out of range");
    order.insert(order.begin() + d, s);
  }
  std::vector<int> check = order;
  std::sort(check.begin(), check.end());
  if (std::adjacent_find(check.begin(), check.end()) != check.end()) throw Error("moveaxis repeats an axis");
  return order;
}

class Concatenate : public Op {
 public:
  Concatenate(std::vector<int> parts, int64_t axis, bool stack, size_t inputs)
      : parts_(std::move(parts)), axis_(axis), stack_(stack), inputs_(inputs) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    const Shape& first = in[parts_[0]];
    size_t rank = first.size();
    if (stack_) {
      int a = axis_in(axis_, rank + 1);
      Shape out = first;
      for (int p : parts_) out = merge(out, in[p], -1);
      out.insert(out.begin() + a, static_cast<int64_t>(parts_.size()));
      return {out};
    }
    if (rank == 0) throw Error("cannot concatenate rank-0 tensors");
    int a = axis_in(axis_, rank);
    Shape out = first;
    int64_t total = 0;
    for (int p : parts_) {
      out = merge(out, in[p], a);
      total = (total < 0 || in[p][a] < 0) ? -1 : total + in[p][a];
    }
    out[a] = total;
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::span<const int64_t> s = in[parts_[0]].shape;
    int a = stack_ ? axis_in(axis_, s.size() + 1) : axis_in(axis_, s.size());
    int64_t outer = element_count(s.subspan(0, a));
    if (outer == 0) return;
    float* dst = out[0].data;
    for (int64_t o = 0; o < outer; ++o)
      for (int p : parts_) {
        int64_t block = in[p].size() / outer;  // this part's elements per leading index
        const float* src = in[p].data + o * block;
        dst = std::copy(src, src + block, dst);
      }
  }

 private:
  // Dimensions must agree (an unknown one takes the other's value), except along `skip`.
  static Shape merge(const Shape& a, const Shape& b, int skip) {
    if (a.size() != b.size())
      throw Error("cannot join shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " of different rank");
    Shape out = a;
    for (size_t i = 0; i < a.size(); ++i) {
      if (static_cast<int>(i) == skip) continue;
      if (!dims_agree(a[i], b[i]))
        throw Error("cannot join shapes " + shape_to_string(a) + " and " + shape_to_string(b));
      out[i] = a[i] >= 0 ? a[i] : b[i];
    }
    return out;
  }
  std::vector<int> parts_;
  int64_t axis_;
  bool stack_;
  size_t inputs_;
};

// ---- indexing (x[key]) ------------------------------------------------------------------------

struct KeyItem {
  enum class Kind { kIndex, kSlice, kNewAxis, kEllipsis };
  Kind kind;
  int64_t index = 0;
  std::optional<int64_t> start = std::nullopt, stop = std::nullopt, step = std::nullopt;
  explicit KeyItem(Kind k, int64_t i = 0) : kind(k), index(i) {}
};

class GetItem : public Op {
 public:
  GetItem(int x, std::vector<KeyItem> key, size_t inputs) : x_(x), key_(std::move(key)), inputs_(inputs) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    Shape out;
    for (const Axis& a : resolve(in[x_]).axes) out.push_back(a.length);
    return {out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    Shape s(in[x_].shape.begin(), in[x_].shape.end());
    Resolved r = resolve(s);
    std::vector<int64_t> in_strides = row_major_strides(s);
    int64_t base = 0;
    std::vector<int64_t> strides;
    for (const Axis& a : r.axes) {
      if (a.in_axis < 0) {
        strides.push_back(0);
        continue;
      }
      base += a.start * in_strides[a.in_axis];
      strides.push_back(a.step * in_strides[a.in_axis]);
    }
    for (auto [axis, index] : r.fixed) base += index * in_strides[axis];
    std::vector<int64_t> idx(strides.size(), 0);
    int64_t n = out[0].size();
    for (int64_t o = 0; o < n; ++o) {
      int64_t src = base;
      for (size_t k = 0; k < idx.size(); ++k) src += idx[k] * strides[k];
      out[0].data[o] = in[x_].data[src];
      next_index(idx, out[0].shape);
    }
  }

 private:
  struct Axis {
    int in_axis;  // -1 for a new axis
    int64_t start, step, length;
  };
  struct Resolved {
    std::vector<Axis> axes;
    std::vector<std::pair<int, int64_t>> fixed;  // (input axis, index) of integer keys
  };

  // Python's slice.indices() for a known length, then the number of elements taken.
  static Axis slice_axis(const KeyItem& k, int axis, int64_t len) {
    int64_t step = k.step.value_or(1);
    if (len < 0) return {axis, 0, step, -1};
    int64_t start, stop;
    if (step > 0) {
      start = k.start ? (*k.start < 0 ? std::max<int64_t>(*k.start + len, 0) : std::min(*k.start, len)) : 0;
      stop = k.stop ? (*k.stop < 0 ? std::max<int64_t>(*k.stop + len, 0) : std::min(*k.stop, len)) : len;
    } else {
      start = k.start ? (*k.start < 0 ? std::max<int64_t>(*k.start + len, -1) : std::min(*k.start, len - 1)) : len - 1;
      stop = k.stop ? (*k.stop < 0 ? std::max<int64_t>(*k.stop + len, -1) : std::min(*k.stop, len - 1)) : -1;
    }
    int64_t span = step > 0 ? stop - start : start - stop;
    int64_t abs_step = step > 0 ? step : -step;
    int64_t length = span > 0 ? (span + abs_step - 1) / abs_step : 0;
    return {axis, start, step, length};
  }

  Resolved resolve(const Shape& s) const {
    size_t consuming = 0;
    bool has_ellipsis = false;
    for (const KeyItem& k : key_) {
      consuming += k.kind == KeyItem::Kind::kIndex || k.kind == KeyItem::Kind::kSlice;
      has_ellipsis |= k.kind == KeyItem::Kind::kEllipsis;
    }
    if (consuming > s.size())
      throw Error("too many indices (" + std::to_string(consuming) + ") for a tensor of shape " + shape_to_string(s));
    std::vector<KeyItem> key = key_;
    if (!has_ellipsis) key.push_back(KeyItem(KeyItem::Kind::kEllipsis));
    Resolved r;
    int axis = 0;
    for (const KeyItem& k : key) {
      switch (k.kind) {
        case KeyItem::Kind::kNewAxis: r.axes.push_back({-1, 0, 0, 1}); break;
        case KeyItem::Kind::kEllipsis:
          for (size_t n = s.size() - consuming; n > 0; --n, ++axis) r.axes.push_back({axis, 0, 1, s[axis]});
          break;
        case KeyItem::Kind::kSlice:
          r.axes.push_back(slice_axis(k, axis, s[axis]));
          ++axis;
          break;
        case KeyItem::Kind::kIndex: {
          int64_t len = s[axis], i = k.index;
          if (len >= 0) {
            if (i < -len || i >= len)
              throw Error("index " + std::to_string(i) + " is out of range for axis " + std::to_string(axis) +
                          " of shape " + shape_to_string(s));
            if (i < 0) i += len;
          }
          r.fixed.emplace_back(axis, i);
          ++axis;
          break;
        }
      }
    }
    return r;
  }

  int x_;
  std::vector<KeyItem> key_;
  size_t inputs_;
};

std::optional<int64_t> slice_bound(const Json& cfg, const char* key, CallArgs& args) {
  if (!cfg.contains(key) || cfg[key].is_null()) return std::nullopt;
  const Json& v = cfg[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  args.fail(std::string("slice ") + key + " should be an integer or None, got " + v.dump().substr(0, 100));
}

KeyItem parse_key_item(const Json& j, CallArgs& args) {
  if (j.is_null()) return KeyItem(KeyItem::Kind::kNewAxis);
  if (j.is_number_integer()) return KeyItem(KeyItem::Kind::kIndex, j.get<int64_t>());
  if (j.is_object() && j.contains("class_name") && j["class_name"].is_string()) {
    std::string cls = j["class_name"].get<std::string>();
    if (cls == "__ellipsis__") return KeyItem(KeyItem::Kind::kEllipsis);
    if (cls == "__slice__") {
      static const Json kEmpty = Json::object();
      const Json& cfg = j.contains("config") && j["config"].is_object() ? j["config"] : kEmpty;
      KeyItem k(KeyItem::Kind::kSlice);
      k.start = slice_bound(cfg, "start", args);
      k.stop = slice_bound(cfg, "stop", args);
      k.step = slice_bound(cfg, "step", args);
      if (k.step && *k.step == 0) args.fail("slice step cannot be zero");
      return k;
    }
  }
  if (placeholder_index(j)) args.fail("indexing with a tensor is not supported");
  args.fail("unsupported index " + j.dump().substr(0, 200) + " (only integers, slices, None and ... are)");
}

std::shared_ptr<const Op> bind_get_item(CallArgs& args) {
  int x = args.tensor(0, "x");
  const Json* key = args.find(1, "key");
  if (!key) args.fail("the call has no index");
  std::vector<KeyItem> items;
  if (key->is_array()) {
    for (const Json& e : *key) items.push_back(parse_key_item(e, args));
  } else {
    items.push_back(parse_key_item(*key, args));
  }
  if (std::count_if(items.begin(), items.end(), [](const KeyItem& k) { return k.kind == KeyItem::Kind::kEllipsis; }) >
      1)
    args.fail("an index may hold only one ellipsis");
  return std::make_shared<GetItem>(x, std::move(items), args.input_count());
}

// ---- matmul and einsum ------------------------------------------------------------------------

// NumPy matmul: 1-D operands are promoted (and the extra axis dropped), batch axes broadcast.
class Matmul : public Op {
 public:
  Matmul(int a, int b, size_t inputs) : a_(a), b_(b), inputs_(inputs) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    return {plan(in[a_], in[b_]).out};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    Shape sa(in[a_].shape.begin(), in[a_].shape.end()), sb(in[b_].shape.begin(), in[b_].shape.end());
    Plan p = plan(sa, sb);
    std::vector<int64_t> stride_a = broadcast_strides(p.batch_a, p.batch),
                         stride_b = broadcast_strides(p.batch_b, p.batch);
    int64_t mat_a = p.n * p.k, mat_b = p.k * p.m, batches = element_count(p.batch);
    std::vector<int64_t> idx(p.batch.size(), 0);
    for (int64_t bt = 0; bt < batches; ++bt) {
      int64_t oa = 0, ob = 0;
      for (size_t i = 0; i < idx.size(); ++i) {
        oa += idx[i] * stride_a[i];
        ob += idx[i] * stride_b[i];
      }
      matmul(1, p.n, p.k, p.m, row_major(in[a_].data + oa * mat_a, p.k), row_major(in[b_].data + ob * mat_b, p.m),
             row_major(out[0].data + bt * p.n * p.m, p.m), MatmulSum::kDouble);
      next_index(idx, p.batch);
    }
  }

 private:
  struct Plan {
    Shape batch_a, batch_b, batch, out;
    int64_t n, k, m;
  };
  static Plan plan(const Shape& a, const Shape& b) {
    if (a.empty() || b.empty()) throw Error("matmul does not take rank-0 operands");
    Plan p;
    bool vec_a = a.size() == 1, vec_b = b.size() == 1;
    p.n = vec_a ? 1 : a[a.size() - 2];
    p.k = a.back();
    int64_t kb = vec_b ? b[0] : b[b.size() - 2];
    p.m = vec_b ? 1 : b.back();
    if (!dims_agree(p.k, kb))
      throw Error("matmul shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " do not line up");
    if (p.k < 0) p.k = kb;
    p.batch_a.assign(a.begin(), a.end() - (vec_a ? 1 : 2));
    p.batch_b.assign(b.begin(), b.end() - (vec_b ? 1 : 2));
    p.batch = broadcast_shapes(p.batch_a, p.batch_b);
    p.out = p.batch;
    if (!vec_a) p.out.push_back(p.n);
    if (!vec_b) p.out.push_back(p.m);
    return p;
  }
  int a_, b_;
  size_t inputs_;
};

// einsum(subscripts, *operands) through the shared einsum (einsum.hpp).
class EinsumNode : public Op {
 public:
  EinsumNode(EinsumSubscripts subscripts, std::vector<int> operands, size_t inputs)
      : einsum_(std::move(subscripts)), operands_(std::move(operands)), inputs_(inputs) {}

  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_inputs(in, inputs_);
    std::vector<Shape> shapes;
    for (int o : operands_) shapes.push_back(in[o]);
    return {einsum_.output_shape(shapes)};
  }

  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    std::vector<ConstView> views;
    for (int o : operands_) views.push_back(in[o]);
    einsum_.run(views, out[0]);
  }

 private:
  Einsum einsum_;
  std::vector<int> operands_;
  size_t inputs_;
};

std::shared_ptr<const Op> bind_einsum(const std::string& subscripts, CallArgs& args) {
  std::vector<int> operands;
  for (size_t i = 0; i < args.positional_count(); ++i) operands.push_back(args.tensor(i, "operands"));
  if (operands.empty()) args.fail("einsum needs at least one operand");
  std::string s;
  for (char c : subscripts)
    if (c != ' ') s += c;
  std::optional<EinsumSubscripts> parsed = parse_einsum(s);
  if (!parsed) args.fail("malformed einsum subscripts '" + subscripts + "'");
  if (parsed->inputs.size() != operands.size())
    args.fail("einsum subscripts '" + subscripts + "' name " + std::to_string(parsed->inputs.size()) +
              " operands, the call passes " + std::to_string(operands.size()));
  return std::make_shared<EinsumNode>(std::move(*parsed), std::move(operands), args.input_count());
}

// ---- Masking layer ----------------------------------------------------------------------------

// Zeroes every timestep (last-axis vector) whose values all equal mask_value; the mask itself
// reaches later layers through separate NotEqual/Any nodes.
class Masking : public ElementwiseOp {
 public:
  explicit Masking(const LayerSpec& spec) {
    Config c(spec);
    if (c.has("mask_value") && !c.raw("mask_value").is_number())
      c.fail("'mask_value' should be a number, got " + c.raw("mask_value").dump().substr(0, 200));
    mask_value_ = static_cast<float>(c.number("mask_value", 0.0));
  }
  std::vector<Shape> output_shapes(std::span<const Shape> in) const override {
    expect_input_count(in, 1, "Masking");
    if (in[0].empty()) throw Error("Masking needs an input of rank 1 or more");
    return {in[0]};
  }
  void run(std::span<const ConstView> in, std::span<const MutView> out) const override {
    int64_t len = in[0].shape.back();
    if (len == 0) return;
    int64_t rows = in[0].size() / len;
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in[0].data + r * len;
      bool keep = std::any_of(x, x + len, [this](float v) { return v != mask_value_; });
      if (keep)
        std::copy(x, x + len, out[0].data + r * len);
      else
        std::fill(out[0].data + r * len, out[0].data + (r + 1) * len, 0.f);
    }
  }

 private:
  float mask_value_ = 0.f;
};

// ---- registration -----------------------------------------------------------------------------

// Registers an op node whose config is read once into a Binder.
void add_op(const AddLayer& add, const std::string& cls, std::function<Binder(const Config&)> make) {
  add(op_node_key(cls), [make](const LayerSpec& spec) {
    Config c(spec);
    return std::make_shared<OpNode>(make(c));
  });
}

std::shared_ptr<const Op> pointwise_of(CallArgs& args, std::vector<Operand> operands, Kernel k) {
  return std::make_shared<Pointwise>(std::move(operands), std::move(k), args.input_count());
}

Activation activation_kind(Activation::Kind kind, float alpha = 0.f, float beta = 0.f) {
  Activation a;
  a.kind = kind;
  a.alpha = alpha;
  a.beta = beta;
  return a;
}

void register_pointwise(const AddLayer& add) {
  for (const auto& [name, fn] : unary_math()) {
    Unary f = fn;
    add_op(add, name, [f](const Config&) -> Binder {
      return [f](CallArgs& a) { return unary_pointwise(a, [f](const float* v) { return f(v[0]); }); };
    });
  }
  for (const auto& [name, fn] : binary_math()) {
    Binary f = fn;
    add_op(add, name, [f](const Config&) -> Binder {
      return [f](CallArgs& a) {
        std::vector<Operand> ops{a.operand(0, "x1"), a.operand(1, "x2")};
        if (ops[0].input < 0 && ops[1].input < 0) a.fail("neither operand is a tensor");
        return pointwise_of(a, std::move(ops), [f](const float* v) { return f(v[0], v[1]); });
      };
    });
  }
  add_op(add, "Where", [](const Config&) -> Binder {
    return [](CallArgs& a) {
      if (!a.find(1, "x1") || !a.find(2, "x2") || a.find(1, "x1")->is_null() || a.find(2, "x2")->is_null())
        a.fail("where(condition) without x1 and x2 (the indices of true elements) is not supported");
      std::vector<Operand> ops{a.operand(0, "condition"), a.operand(1, "x1"), a.operand(2, "x2")};
      return pointwise_of(a, std::move(ops), [](const float* v) { return v[0] != 0.f ? v[1] : v[2]; });
    };
  });
  add_op(add, "Clip", [](const Config& c) -> Binder {
    float lo = static_cast<float>(c.number("x_min")), hi = static_cast<float>(c.number("x_max"));
    return [lo, hi](CallArgs& a) {
      return unary_pointwise(
          a, [lo, hi](const float* v) { return std::isnan(v[0]) ? v[0] : std::min(std::max(v[0], lo), hi); });
    };
  });
  add_op(add, "Round", [](const Config& c) -> Binder {
    int64_t decimals = c.integer("decimals", 0);
    if (decimals < -30 || decimals > 30) c.fail("'decimals' " + std::to_string(decimals) + " is out of range");
    return [decimals](CallArgs& a) {
      return unary_pointwise(a, [decimals](const float* v) { return round_decimals(v[0], decimals); });
    };
  });
  add_op(add, "Cast", [](const Config& c) -> Binder {
    std::string dtype = dtype_name(c, "dtype");
    std::optional<Kernel> k = cast_kernel(dtype);
    if (!k) c.fail("unsupported cast to '" + dtype + "'");
    return [k = *k](CallArgs& a) { return unary_pointwise(a, k); };
  });
}

void register_nn(const AddLayer& add) {
  using K = Activation::Kind;
  auto fixed = [&add](const char* cls, K kind) {
    add_op(add, cls, [kind](const Config&) -> Binder {
      return [kind](CallArgs& a) {
        a.tensor(0, "x");
        return std::make_shared<ActivationNode>(activation_kind(kind), a.input_count());
      };
    });
  };
  // One parameter (or two) read from the config, with the op's default.
  auto param = [&add](const char* cls, K kind, const char* key, double fallback, const char* key2 = nullptr) {
    add_op(add, cls, [=](const Config& c) -> Binder {
      float alpha = static_cast<float>(c.number(key, fallback));
      float beta = key2 ? static_cast<float>(c.number(key2)) : 0.f;
      return [kind, alpha, beta](CallArgs& a) {
        a.tensor(0, "x");
        return std::make_shared<ActivationNode>(activation_kind(kind, alpha, beta), a.input_count());
      };
    });
  };
  fixed("Relu", K::kRelu);
  fixed("Relu6", K::kRelu6);
  fixed("Sigmoid", K::kSigmoid);
  fixed("Softplus", K::kSoftplus);
  fixed("Softsign", K::kSoftsign);
  fixed("Silu", K::kSilu);
  fixed("LogSigmoid", K::kLogSigmoid);
  fixed("HardSigmoid", K::kHardSigmoid);
  fixed("HardSilu", K::kHardSilu);
  fixed("Selu", K::kSelu);
  fixed("TanhShrink", K::kTanhShrink);
  fixed("HardTanh", K::kHardTanh);
  fixed("SparsePlus", K::kSparsePlus);
  fixed("SparseSigmoid", K::kSparseSigmoid);
  param("LeakyRelu", K::kLeakyRelu, "negative_slope", 0.2);
  param("Elu", K::kElu, "alpha", 1.0);
  param("Celu", K::kCelu, "alpha", 1.0);
  param("SoftShrink", K::kSoftShrink, "threshold", 0.5);
  param("HardShrink", K::kHardShrink, "threshold", 0.5);
  param("Squareplus", K::kSquarePlus, "b", 4.0);
  add_op(add, "Threshold", [](const Config& c) -> Binder {
    float threshold = static_cast<float>(c.number("threshold")), value = static_cast<float>(c.number("default_value"));
    return [threshold, value](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<ActivationNode>(activation_kind(K::kThreshold, threshold, value), a.input_count());
    };
  });
  add_op(add, "Gelu", [](const Config& c) -> Binder {
    K kind = c.flag("approximate", true) ? K::kGeluTanh : K::kGelu;
    return [kind](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<ActivationNode>(activation_kind(kind), a.input_count());
    };
  });
  for (const char* cls : {"Softmax", "LogSoftmax", "Sparsemax"}) {
    bool log = std::string(cls) == "LogSoftmax", sparse = std::string(cls) == "Sparsemax";
    add_op(add, cls, [log, sparse](const Config& c) -> Binder {
      if (c.has("axis") && !c.raw("axis").is_number_integer())
        c.fail("'axis' should be a single integer or None, got " + c.raw("axis").dump());
      std::optional<int64_t> axis = c.has("axis") ? std::optional<int64_t>(c.integer("axis")) : std::nullopt;
      if (!c.has("axis") && !c.spec().config.contains("axis")) axis = -1;  // the op's default
      return [axis, log, sparse](CallArgs& a) {
        a.tensor(0, "x");
        return std::make_shared<SoftmaxNode>(axis, log, sparse, a.input_count());
      };
    });
  }
}

void register_reductions(const AddLayer& add) {
  struct Def {
    const char* cls;
    Reduction kind;
    bool initial;  // takes an `initial` value
  };
  static const Def defs[] = {
      {"Sum", Reduction::kSum, false},       {"Mean", Reduction::kMean, false},
      {"Max", Reduction::kMax, true},        {"Min", Reduction::kMin, true},
      {"Amax", Reduction::kMax, false},      {"Amin", Reduction::kMin, false},
      {"Prod", Reduction::kProd, false},     {"Var", Reduction::kVar, false},
      {"Std", Reduction::kStd, false},       {"Any", Reduction::kAny, false},
      {"All", Reduction::kAll, false},       {"Logsumexp", Reduction::kLogSumExp, false},
      {"Argmax", Reduction::kArgMax, false}, {"Argmin", Reduction::kArgMin, false},
  };
  for (const Def& d : defs) {
    add_op(add, d.cls, [d](const Config& c) -> Binder {
      std::optional<std::vector<int64_t>> axes = optional_axes(c, "axis");
      bool keepdims = c.flag("keepdims", false);
      std::optional<float> initial;
      if (d.initial && c.has("initial")) initial = static_cast<float>(c.number("initial"));
      bool single = d.kind == Reduction::kArgMax || d.kind == Reduction::kArgMin;
      if (single && axes && axes->size() != 1) c.fail("'axis' should be a single integer or None");
      bool empty_ok = d.kind != Reduction::kStd && d.kind != Reduction::kLogSumExp && !single;
      if (axes && axes->empty() && !empty_ok) c.fail("an empty 'axis' list is not supported for this op");
      if (d.kind == Reduction::kProd && c.has("dtype")) {
        std::string dtype = dtype_name(c, "dtype");
        if (dtype.rfind("float", 0) != 0) c.fail("prod with dtype '" + dtype + "' is not supported");
      }
      return [d, axes, keepdims, initial](CallArgs& a) {
        a.tensor(0, "x");
        return std::make_shared<Reduce>(d.kind, axes, keepdims, initial, a.input_count());
      };
    });
  }
}

void register_shape_ops(const AddLayer& add) {
  add_op(add, "Reshape", [](const Config& c) -> Binder {
    std::vector<int64_t> target =
        c.raw("newshape").is_number_integer() ? std::vector<int64_t>{c.integer("newshape")} : c.int_list("newshape");
    return [target](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<SameOrder>([target](const Shape& s) { return reshape_to(s, target); }, a.input_count());
    };
  });
  add_op(add, "ExpandDims", [](const Config& c) -> Binder {
    if (!c.has("axis")) c.fail("expand_dims needs an 'axis'");
    std::vector<int64_t> axes = *optional_axes(c, "axis");
    return [axes](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<SameOrder>([axes](const Shape& s) { return expand_dims_shape(s, axes); },
                                         a.input_count());
    };
  });
  add_op(add, "Squeeze", [](const Config& c) -> Binder {
    std::optional<std::vector<int64_t>> axes = optional_axes(c, "axis");
    return [axes](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<SameOrder>([axes](const Shape& s) { return squeeze_shape(s, axes); }, a.input_count());
    };
  });
  add_op(add, "Transpose", [](const Config& c) -> Binder {
    std::optional<std::vector<int64_t>> axes = c.has("axes") ? std::optional(c.int_list("axes")) : std::nullopt;
    return [axes](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<Permutation>([axes](size_t rank) { return transpose_perm(axes, rank); }, a.input_count());
    };
  });
  add_op(add, "Swapaxes", [](const Config& c) -> Binder {
    int64_t a1 = c.integer("axis1"), a2 = c.integer("axis2");
    return [a1, a2](CallArgs& a) {
      a.tensor(0, "x");
      auto perm = [a1, a2](size_t rank) {
        std::vector<int> p(rank);
        std::iota(p.begin(), p.end(), 0);
        std::swap(p[axis_in(a1, rank)], p[axis_in(a2, rank)]);
        return p;
      };
      return std::make_shared<Permutation>(perm, a.input_count());
    };
  });
  add_op(add, "Moveaxis", [](const Config& c) -> Binder {
    if (!c.has("source") || !c.has("destination")) c.fail("moveaxis needs 'source' and 'destination'");
    std::vector<int64_t> src = *optional_axes(c, "source"), dst = *optional_axes(c, "destination");
    return [src, dst](CallArgs& a) {
      a.tensor(0, "x");
      return std::make_shared<Permutation>([src, dst](size_t rank) { return moveaxis_perm(src, dst, rank); },
                                           a.input_count());
    };
  });
  for (const char* cls : {"Concatenate", "Stack"}) {
    bool stack = std::string(cls) == "Stack";
    add_op(add, cls, [stack](const Config& c) -> Binder {
      if (!c.has("axis")) c.fail("'axis' None (joining flattened tensors) is not supported");
      int64_t axis = c.integer("axis");
      return [axis, stack](CallArgs& a) {
        std::vector<int> parts = a.tensor_list(0, stack ? "x" : "xs");
        return std::make_shared<Concatenate>(std::move(parts), axis, stack, a.input_count());
      };
    });
  }
  add_op(add, "GetItem", [](const Config&) -> Binder { return bind_get_item; });
  add_op(add, "Matmul", [](const Config&) -> Binder {
    return [](CallArgs& a) {
      int x1 = a.tensor(0, "x1"), x2 = a.tensor(1, "x2");
      return std::make_shared<Matmul>(x1, x2, a.input_count());
    };
  });
  add_op(add, "Einsum", [](const Config& c) -> Binder {
    std::string subscripts = c.str("subscripts", "");
    if (subscripts.empty()) c.fail("'subscripts' is missing");
    return [subscripts](CallArgs& a) { return bind_einsum(subscripts, a); };
  });
}

}  // namespace

void register_op_nodes(const AddLayer& add) {
  register_pointwise(add);
  register_nn(add);
  register_reductions(add);
  register_shape_ops(add);
  add("Masking", [](const LayerSpec& s) { return std::make_shared<Masking>(s); });
}

}  // namespace kerasrt::layers
