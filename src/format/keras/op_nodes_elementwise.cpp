// keras.ops element-wise nodes of a Keras 3 functional config (unary math, arithmetic, comparison,
// logic, where, clip, round, cast and the keras.ops.nn activations) as typed unary/binary/cast/
// where/constant nodes, with Keras 3's dtype rules: a Python int takes the tensor's dtype (weak),
// a Python float makes integers float32, comparisons give bool, integer arithmetic stays integer.
#include <functional>
#include <map>
#include <optional>

#include "format/keras/call_args.hpp"
#include "format/keras/typed_layer.hpp"
#include "format/keras/config.hpp"  // Config: typed reads of a layer config
#include "format/keras/layer_registry.hpp"  // op_node_key

namespace kerasrt::format {
namespace {

using Kind = Operand::Kind;
using F = ir::UnaryFn;
using B = ir::BinaryFn;

// One call of an op node: reads its arguments and emits nodes; returns the result value.
using Emit = std::function<int(NodeSink&, CallArgs&, std::span<const int>)>;

class OpNodeLayer : public TypedLayer {
 public:
  explicit OpNodeLayer(Emit emit) : emit_(std::move(emit)) {}
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    CallArgs args(call);
    int v = emit_(sink, args, inputs);
    args.finish();
    return {v};
  }
  // Element-wise ops take any shapes: a dry run on float32 scalars reads the whole call.
  void check_call(const Call& call) const override {
    ir::Graph g;
    std::vector<int> in;
    for (size_t i = 0; i < call.roles.size(); ++i) in.push_back(g.add_value({{}, DType::kFloat32}, -1));
    GraphSink sink(g, call.where, "check");
    this->call(sink, call, in);
  }

 private:
  Emit emit_;
};

bool is_integer(DType t) { return t == DType::kInt32 || t == DType::kInt64 || t == DType::kUInt8; }

// The dtype an operand has beside `other` (the other operand's dtype, if it is a tensor).
DType operand_dtype(const NodeSink& sink, std::span<const int> inputs, const Operand& o, std::optional<DType> other) {
  switch (o.kind) {
    case Kind::kTensor: return sink.type(inputs[o.input]).dtype;
    case Kind::kBool: return DType::kBool;
    case Kind::kFloat: return DType::kFloat32;
    case Kind::kInt:
      if (o.scalar && other && *other != DType::kBool) return *other;  // weak: takes the tensor's dtype
      return DType::kInt32;
  }
  return DType::kFloat32;
}

// The operand as a value of dtype `t`: a tensor through a cast, a constant as a constant node.
int operand_value(NodeSink& sink, std::span<const int> inputs, const Operand& o, DType t) {
  if (o.kind == Kind::kTensor) return sink.cast(inputs[o.input], t);
  auto c = std::make_shared<Tensor>(o.shape, t);
  for (size_t i = 0; i < o.values.size(); ++i) {
    const bool exact = o.kind != Kind::kFloat;
    switch (t) {
      case DType::kFloat32: c->values<float>()[i] = exact ? static_cast<float>(o.ints[i]) : static_cast<float>(o.values[i]); break;
      case DType::kInt32: c->values<int32_t>()[i] = exact ? static_cast<int32_t>(o.ints[i]) : static_cast<int32_t>(o.values[i]); break;
      case DType::kInt64: c->values<int64_t>()[i] = exact ? o.ints[i] : static_cast<int64_t>(o.values[i]); break;
      case DType::kUInt8: c->values<uint8_t>()[i] = exact ? static_cast<uint8_t>(o.ints[i]) : static_cast<uint8_t>(o.values[i]); break;
      case DType::kBool: c->values<uint8_t>()[i] = o.values[i] != 0; break;
    }
  }
  return sink.add(ir::OpKind::kConstant, ir::ConstantAttrs{}, {ir::Weight{"value", std::move(c)}}, {}).at(0);
}

std::optional<DType> tensor_dtype(const NodeSink& sink, std::span<const int> inputs, const Operand& o) {
  if (o.kind != Kind::kTensor) return std::nullopt;
  return sink.type(inputs[o.input]).dtype;
}

int binary(NodeSink& sink, std::span<const int> inputs, B fn, const Operand& a, const Operand& b) {
  DType ta = operand_dtype(sink, inputs, a, tensor_dtype(sink, inputs, b));
  DType tb = operand_dtype(sink, inputs, b, tensor_dtype(sink, inputs, a));
  DType compute = ir::binary_compute_dtype(fn, ta, tb);
  int x = operand_value(sink, inputs, a, compute), y = operand_value(sink, inputs, b, compute);
  return sink.add(ir::OpKind::kBinary, ir::BinaryAttrs{fn}, {}, {x, y}).at(0);
}

// A unary function of a tensor; integers go to float32 first unless the function keeps them.
int unary(NodeSink& sink, int x, ir::UnaryAttrs u) {
  DType t = sink.type(x).dtype;
  bool any_input = u.fn == F::kLogicalNot || u.fn == F::kIsNan || u.fn == F::kIsInf || u.fn == F::kIsFinite;
  if (!any_input && !(ir::keeps_integers(u.fn) && is_integer(t))) x = sink.cast(x, DType::kFloat32);
  return sink.add(ir::OpKind::kUnary, u, {}, {x}).at(0);
}

Operand number_operand(const Config& c, const char* key) {
  const Json& j = c.raw(key);
  if (!j.is_number()) c.fail(std::string("'") + key + "' should be a number, got " + j.dump().substr(0, 200));
  Operand o;
  o.kind = j.is_number_float() ? Kind::kFloat : Kind::kInt;
  o.scalar = true;
  o.values.push_back(j.get<double>());
  o.ints.push_back(j.is_number_float() ? 0 : j.get<int64_t>());
  return o;
}

std::shared_ptr<const TypedLayer> layer(Emit e) { return std::make_shared<OpNodeLayer>(std::move(e)); }

std::shared_ptr<const TypedLayer> unary_layer(ir::UnaryAttrs u) {
  return layer([u](NodeSink& s, CallArgs& a, std::span<const int> in) { return unary(s, in[a.tensor(0, "x")], u); });
}

const std::map<std::string, F>& unary_classes() {
  static const std::map<std::string, F> m = {
      {"Absolute", F::kAbs}, {"Abs", F::kAbs}, {"Negative", F::kNeg}, {"Square", F::kSquare}, {"Sqrt", F::kSqrt},
      {"Rsqrt", F::kRsqrt}, {"Reciprocal", F::kReciprocal}, {"Exp", F::kExp}, {"Exp2", F::kExp2},
      {"Expm1", F::kExpm1}, {"Log", F::kLog}, {"Log2", F::kLog2}, {"Log10", F::kLog10}, {"Log1p", F::kLog1p},
      {"Sin", F::kSin}, {"Cos", F::kCos}, {"Tan", F::kTan}, {"Arcsin", F::kAsin}, {"Arccos", F::kAcos},
      {"Arctan", F::kAtan}, {"Sinh", F::kSinh}, {"Cosh", F::kCosh}, {"Tanh", F::kTanh}, {"Arcsinh", F::kAsinh},
      {"Arccosh", F::kAcosh}, {"Arctanh", F::kAtanh}, {"Erf", F::kErf}, {"Floor", F::kFloor}, {"Ceil", F::kCeil},
      {"Trunc", F::kTrunc}, {"Sign", F::kSign}, {"LogicalNot", F::kLogicalNot}, {"Isnan", F::kIsNan},
      {"Isinf", F::kIsInf}, {"Isfinite", F::kIsFinite},
      // keras.ops.nn activations without parameters
      {"Relu", F::kRelu}, {"Relu6", F::kRelu6}, {"Sigmoid", F::kSigmoid}, {"Softplus", F::kSoftplus},
      {"Softsign", F::kSoftsign}, {"Silu", F::kSilu}, {"LogSigmoid", F::kLogSigmoid},
      {"HardSigmoid", F::kHardSigmoid}, {"HardSilu", F::kHardSilu}, {"Selu", F::kSelu},
      {"TanhShrink", F::kTanhShrink}, {"HardTanh", F::kHardTanh}, {"SparsePlus", F::kSparsePlus},
      {"SparseSigmoid", F::kSparseSigmoid},
  };
  return m;
}

const std::map<std::string, B>& binary_classes() {
  static const std::map<std::string, B> m = {
      {"Add", B::kAdd}, {"Subtract", B::kSub}, {"Multiply", B::kMul}, {"Divide", B::kDiv},
      {"TrueDivide", B::kDiv}, {"FloorDivide", B::kFloorDiv}, {"Mod", B::kMod}, {"Power", B::kPow},
      {"Arctan2", B::kAtan2}, {"Maximum", B::kMax}, {"Minimum", B::kMin}, {"Equal", B::kEqual},
      {"NotEqual", B::kNotEqual}, {"Greater", B::kGreater}, {"GreaterEqual", B::kGreaterEqual}, {"Less", B::kLess},
      {"LessEqual", B::kLessEqual}, {"LogicalAnd", B::kLogicalAnd}, {"LogicalOr", B::kLogicalOr},
      {"LogicalXor", B::kLogicalXor},
  };
  return m;
}

// keras.ops.nn activations with parameters: the config key of alpha and its default.
struct Param {
  F fn;
  const char* key;
  double fallback;
};
const std::map<std::string, Param>& param_classes() {
  static const std::map<std::string, Param> m = {
      {"LeakyRelu", {F::kLeakyRelu, "negative_slope", 0.2}}, {"Elu", {F::kElu, "alpha", 1.0}},
      {"Celu", {F::kCelu, "alpha", 1.0}}, {"SoftShrink", {F::kSoftShrink, "threshold", 0.5}},
      {"HardShrink", {F::kHardShrink, "threshold", 0.5}}, {"Squareplus", {F::kSquarePlus, "b", 4.0}},
  };
  return m;
}

// (name, Narrow) of a Keras dtype name: where kerasrt holds it and which values it keeps.
std::optional<ir::CastAttrs> cast_to(const std::string& d) {
  using N = ir::Narrow;
  static const std::map<std::string, ir::CastAttrs> m = {
      {"float32", {DType::kFloat32, N::kNone}}, {"float64", {DType::kFloat32, N::kNone}},
      {"float", {DType::kFloat32, N::kNone}}, {"float16", {DType::kFloat32, N::kFloat16}},
      {"half", {DType::kFloat32, N::kFloat16}}, {"bfloat16", {DType::kFloat32, N::kBFloat16}},
      {"bool", {DType::kBool, N::kNone}}, {"int32", {DType::kInt32, N::kNone}}, {"int64", {DType::kInt64, N::kNone}},
      {"uint8", {DType::kUInt8, N::kNone}}, {"int8", {DType::kInt32, N::kInt8}},
      {"int16", {DType::kInt32, N::kInt16}}, {"uint16", {DType::kInt32, N::kUInt16}},
      {"uint32", {DType::kInt64, N::kUInt32}},
  };
  auto it = m.find(d);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

// A dtype given as a name or a DTypePolicy object.
std::string cast_dtype_name(const Config& c, const char* key) {
  const Json& v = c.raw(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("config") && v["config"].is_object() && v["config"].contains("name") &&
      v["config"]["name"].is_string())
    return v["config"]["name"].get<std::string>();
  c.fail(std::string("'") + key + "' should be a dtype name, got " + v.dump());
}

std::shared_ptr<const TypedLayer> parse_op(const LayerSpec& spec) {
  const std::string& cls = spec.class_name;
  Config c(spec);
  if (auto it = unary_classes().find(cls); it != unary_classes().end()) {
    ir::UnaryAttrs u{it->second, 0.f, 0.f};
    if (u.fn == F::kHardSigmoid) u.alpha = 1.f / 6.f, u.beta = 0.5f;  // relu6(x + 3) / 6
    return unary_layer(u);
  }
  if (auto it = param_classes().find(cls); it != param_classes().end())
    return unary_layer({it->second.fn, static_cast<float>(c.number(it->second.key, it->second.fallback)), 0.f});
  if (auto it = binary_classes().find(cls); it != binary_classes().end()) {
    B fn = it->second;
    return layer([fn](NodeSink& s, CallArgs& a, std::span<const int> in) {
      Operand x = a.operand(0, "x1"), y = a.operand(1, "x2");
      if (x.kind != Kind::kTensor && y.kind != Kind::kTensor) a.fail("neither operand is a tensor");
      return binary(s, in, fn, x, y);
    });
  }
  if (cls == "Threshold")
    return unary_layer({F::kThreshold, static_cast<float>(c.number("threshold")),
                        static_cast<float>(c.number("default_value"))});
  if (cls == "Gelu") return unary_layer({c.flag("approximate", true) ? F::kGeluTanh : F::kGelu, 0.f, 0.f});
  if (cls == "Round") {
    int64_t decimals = c.integer("decimals", 0);
    if (decimals < -30 || decimals > 30) c.fail("'decimals' " + std::to_string(decimals) + " is out of range");
    return unary_layer({F::kRound, static_cast<float>(decimals), 0.f});
  }
  if (cls == "Clip") {
    // minimum(maximum(x, lo), hi): NaN stays NaN and lo > hi gives hi, as torch.clip does.
    Operand lo = number_operand(c, "x_min"), hi = number_operand(c, "x_max");
    return layer([lo, hi](NodeSink& s, CallArgs& a, std::span<const int> in) {
      Operand x = a.operand(0, "x");
      if (x.kind != Kind::kTensor) a.fail("argument 'x' should be a tensor");
      // A bool x is clipped as int32: bool arithmetic computes in int32.
      int v = binary(s, in, B::kMax, x, lo);
      Operand mid;
      mid.input = 0;
      std::vector<int> held{v};
      return binary(s, held, B::kMin, mid, hi);
    });
  }
  if (cls == "Where") {
    return layer([](NodeSink& s, CallArgs& a, std::span<const int> in) {
      if (!a.find(1, "x1") || !a.find(2, "x2") || a.find(1, "x1")->is_null() || a.find(2, "x2")->is_null())
        a.fail("where(condition) without x1 and x2 (the indices of true elements) is not supported");
      Operand cond = a.operand(0, "condition"), x = a.operand(1, "x1"), y = a.operand(2, "x2");
      DType tx = operand_dtype(s, in, x, tensor_dtype(s, in, y));
      DType ty = operand_dtype(s, in, y, tensor_dtype(s, in, x));
      DType t = ir::binary_compute_dtype(B::kEqual, tx, ty);  // the wider of the two; bools stay bool
      int cv = operand_value(s, in, cond, DType::kBool);
      int xv = operand_value(s, in, x, t), yv = operand_value(s, in, y, t);
      return s.add(ir::OpKind::kWhere, ir::WhereAttrs{}, {}, {cv, xv, yv}).at(0);
    });
  }
  if (cls == "Cast") {
    std::string d = cast_dtype_name(c, "dtype");
    std::optional<ir::CastAttrs> to = cast_to(d);
    if (!to) c.fail("unsupported cast to '" + d + "'");
    ir::CastAttrs attrs = *to;
    return layer([attrs](NodeSink& s, CallArgs& a, std::span<const int> in) {
      int x = in[a.tensor(0, "x")];
      if (attrs.narrow == ir::Narrow::kNone) return s.cast(x, attrs.to);
      return s.add(ir::OpKind::kCast, attrs, {}, {x}).at(0);
    });
  }
  spec.fail("no element-wise op '" + cls + "'");
}

}  // namespace

TypedParser elementwise_op_parser(const std::string& key) {
  static const std::string prefix = op_node_key("");
  if (key.rfind(prefix, 0) != 0) return nullptr;
  std::string cls = key.substr(prefix.size());
  static const char* const kOthers[] = {"Threshold", "Gelu", "Round", "Clip", "Where", "Cast"};
  bool known = unary_classes().count(cls) || binary_classes().count(cls) || param_classes().count(cls);
  for (const char* o : kOthers) known = known || cls == o;
  return known ? parse_op : nullptr;
}

}  // namespace kerasrt::format
