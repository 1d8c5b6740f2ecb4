// Element-wise op nodes with NumPy broadcasting: unary math, binary arithmetic and comparisons,
// logical ops, where, clip, round and cast.
#include "layers/op_nodes.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <map>

namespace kerasrt::layers {
namespace op_nodes {
namespace {

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

std::shared_ptr<const Op> pointwise_of(CallArgs& args, std::vector<Operand> operands, Kernel k) {
  return std::make_shared<Pointwise>(std::move(operands), std::move(k), args.input_count());
}

}  // namespace
}  // namespace op_nodes

void register_op_nodes_elementwise(const AddLayer& add) {
  using namespace op_nodes;
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

}  // namespace kerasrt::layers
