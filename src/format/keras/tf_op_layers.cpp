// tf.keras's op layers. tf.keras 2.4-2.15 saves each raw TensorFlow call of a functional model as a
// TFOpLambda layer (config "function": "math.multiply", "nn.relu", "__operators__.add", ...; the
// first argument in the inbound node, the others by name in its kwargs) and slicing as
// SlicingOpLambda ("__operators__.getitem" with a slice_spec); TF 2.0-2.3 saves a TensorFlowOpLayer
// holding a NodeDef (op name, attrs, constant inputs). These name TensorFlow functions, not Python
// code: each call becomes the keras.ops nodes of the same meaning (op_nodes_*.cpp, reduce.cpp,
// concat.cpp, softmax.cpp, linalg.cpp), following TensorFlow's documented semantics where they
// differ from Keras 3's. Any other function is refused by its name.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include "format/keras/call_args.hpp"
#include "format/keras/config.hpp"
#include "format/keras/layer_registry.hpp"  // op_node_key
#include "format/keras/typed_layer.hpp"

namespace kerasrt::format {
namespace {

// Emits keras.ops nodes for one call. Arguments are JSON as Keras 3 writes a call: placeholders
// {"__tensor__": i} name values() (first the call's tensors, then each node's result), anything
// else is a constant.
class OpEmitter {
 public:
  OpEmitter(NodeSink& sink, std::span<const int> inputs, std::string where)
      : sink_(sink), values_(inputs.begin(), inputs.end()), used_(inputs.size(), false), where_(std::move(where)) {}

  // The result of keras.ops node `cls` (constructor arguments `config`) called on `args`.
  Json op(const std::string& cls, Json config, const Json& args) {
    TypedParser parser = typed_parser(op_node_key(cls));
    if (!parser) fail("no keras.ops node '" + cls + "'");  // a mistake in the tables below
    Call call;
    call.where = where_;
    std::vector<int> inputs;
    call.args = local(args, call, inputs);
    config["name"] = cls;
    Weights none({}, where_);
    std::shared_ptr<const TypedLayer> node = parser(LayerSpec{cls, "", cls, config, none, where_});
    std::vector<int> outs = node->call(sink_, call, inputs);
    if (outs.size() != 1) fail("keras.ops node '" + cls + "' gave " + std::to_string(outs.size()) + " results");
    values_.push_back(outs[0]);
    return tensor_placeholder(static_cast<int>(values_.size()) - 1);
  }

  // `j` if it is one of the values (marking it used), else an error naming `what`.
  int value(const Json& j, const std::string& what) {
    std::optional<int> i = placeholder_index(j);
    if (!i || *i < 0 || *i >= static_cast<int>(values_.size())) fail(what + " should be a tensor, got " + j.dump().substr(0, 200));
    if (static_cast<size_t>(*i) < used_.size()) used_[*i] = true;
    return values_[*i];
  }
  bool is_tensor(const Json& j) const { return placeholder_index(j).has_value(); }
  const ir::TensorType& type(const Json& j) {
    std::optional<int> i = placeholder_index(j);
    if (!i || *i < 0 || *i >= static_cast<int>(values_.size())) fail("expected a tensor, got " + j.dump().substr(0, 200));
    return sink_.type(values_[*i]);
  }

  // Every tensor the call passes must have been read: none is silently dropped.
  void check_all_used() const {
    for (size_t i = 0; i < used_.size(); ++i)
      if (!used_[i]) fail("the call passes a tensor (#" + std::to_string(i) + ") that this function does not take");
  }

  [[noreturn]] void fail(const std::string& what) const { throw Error(where_ + ": " + what); }
  const std::string& where() const { return where_; }

 private:
  // `args` with each placeholder renumbered into `inputs` (one entry per occurrence).
  Json local(const Json& j, Call& call, std::vector<int>& inputs) {
    return replace_parts(j, [&](const Json& part) -> std::optional<Json> {
      if (!placeholder_index(part)) return std::nullopt;
      inputs.push_back(value(part, "an argument"));
      call.roles.emplace_back();
      return tensor_placeholder(static_cast<int>(inputs.size()) - 1);
    });
  }

  NodeSink& sink_;
  std::vector<int> values_;
  std::vector<bool> used_;
  std::string where_;
};

// A TensorFlow function's arguments by parameter position (its Python signature, in order).
class Bound {
 public:
  Bound(std::vector<const Json*> args, const OpEmitter& e) : args_(std::move(args)), e_(e) {}
  // The argument, or nullptr when absent or None.
  const Json* get(size_t i) const { return i < args_.size() && args_[i] && !args_[i]->is_null() ? args_[i] : nullptr; }
  const Json& at(size_t i, const char* name) const {
    if (!get(i)) e_.fail(std::string("argument '") + name + "' is missing");
    return *get(i);
  }
  bool flag(size_t i, const char* name) const {
    const Json* j = get(i);
    if (!j) return false;
    if (!j->is_boolean()) e_.fail(std::string("argument '") + name + "' should be true or false, got " + j->dump());
    return j->get<bool>();
  }

 private:
  std::vector<const Json*> args_;
  const OpEmitter& e_;
};

using Translate = std::function<Json(OpEmitter&, const Bound&)>;

struct TfFunction {
  std::vector<std::string> params;  // the Python signature; "name" is always accepted and ignored
  Translate emit;
};

// x[0] is the first argument's structure; the rest is by name. Keras 2 writes all but the first
// argument as kwargs named by the function's signature.
Bound bind_arguments(const TfFunction& f, const std::string& function, const Call& call, const OpEmitter& e) {
  std::vector<const Json*> args(f.params.size(), nullptr);
  if (!call.args.is_array() || call.args.empty()) e.fail("tf." + function + " was called without arguments");
  if (call.args.size() > f.params.size()) e.fail("tf." + function + " takes fewer positional arguments");
  for (size_t i = 0; i < call.args.size(); ++i) args[i] = &call.args[i];
  for (auto it = call.kwargs.begin(); it != call.kwargs.end(); ++it) {
    if (it.key() == "name") continue;
    auto p = std::find(f.params.begin(), f.params.end(), it.key());
    if (p == f.params.end()) e.fail("tf." + function + " has no argument '" + it.key() + "'");
    size_t i = static_cast<size_t>(p - f.params.begin());
    if (args[i]) e.fail("tf." + function + ": argument '" + it.key() + "' is given twice");
    args[i] = &it.value();
  }
  return Bound(std::move(args), e);
}

Translate unary(std::string cls, Json config = Json::object()) {
  return [cls, config](OpEmitter& e, const Bound& b) { return e.op(cls, config, Json::array({b.at(0, "x")})); };
}

Translate binary(std::string cls) {
  return [cls](OpEmitter& e, const Bound& b) {
    return e.op(cls, Json::object(), Json::array({b.at(0, "x"), b.at(1, "y")}));
  };
}

// An axis argument as keras.ops takes it: an int, a list of ints, or absent (every axis).
Json axis_config(const OpEmitter& e, const Json* axis) {
  if (!axis) return nullptr;
  if (axis->is_number_integer()) return *axis;
  if (axis->is_array() && std::all_of(axis->begin(), axis->end(), [](const Json& a) { return a.is_number_integer(); }))
    return *axis;
  e.fail("'axis' should be an integer or a list of integers, got " + axis->dump().substr(0, 200));
}

bool integer_dtype(DType t) { return t == DType::kInt32 || t == DType::kInt64 || t == DType::kUInt8 || t == DType::kBool; }

// tf.math.reduce_*(input_tensor, axis=None, keepdims=False): TensorFlow keeps an integer
// input's dtype (an integer mean truncates), which the float keras.ops mean does not do.
Translate reduce(std::string cls) {
  return [cls](OpEmitter& e, const Bound& b) {
    const Json& x = b.at(0, "input_tensor");
    bool float_only = cls == "Mean" || cls == "Var" || cls == "Std" || cls == "Logsumexp";
    if (float_only && e.is_tensor(x) && integer_dtype(e.type(x).dtype))
      e.fail("tf.math.reduce_" + cls + " of an integer tensor (TensorFlow's integer result) is not supported");
    Json config{{"axis", axis_config(e, b.get(1))}, {"keepdims", b.flag(2, "keepdims")}};
    return e.op(cls, config, Json::array({x}));
  };
}

// tf.math.argmax(input, axis=None, output_type=tf.int64): axis None means 0.
Translate arg_reduce(std::string cls) {
  return [cls](OpEmitter& e, const Bound& b) {
    const Json* axis = b.get(1);
    if (axis && !axis->is_number_integer()) e.fail("'axis' should be an integer, got " + axis->dump());
    Json r = e.op(cls, Json{{"axis", axis ? *axis : Json(0)}, {"keepdims", false}}, Json::array({b.at(0, "input")}));
    std::string out = b.get(2) && b.get(2)->is_string() ? b.get(2)->get<std::string>() : "int64";
    if (out != "int32" && out != "int64") e.fail("argmax/argmin output_type '" + out + "' is not supported");
    return e.op("Cast", Json{{"dtype", out}}, Json::array({r}));
  };
}

// a @ b with TensorFlow's transpose_a/b (adjoint is the same for real numbers).
Json matmul(OpEmitter& e, Json a, Json b, bool transpose_a, bool transpose_b) {
  const Json swap{{"axis1", -2}, {"axis2", -1}};
  if (transpose_a) a = e.op("Swapaxes", swap, Json::array({a}));
  if (transpose_b) b = e.op("Swapaxes", swap, Json::array({b}));
  return e.op("Matmul", Json::object(), Json::array({a, b}));
}

// A channels-first bias [C] shaped to broadcast over `rank`-D NC... data: [C, 1, ..., 1].
Json channels_first_bias(OpEmitter& e, const Json& bias, size_t rank) {
  if (rank < 2) e.fail("bias_add needs a tensor of rank 2 or more");
  Json newshape = Json::array({-1});
  for (size_t i = 2; i < rank; ++i) newshape.push_back(1);
  if (e.is_tensor(bias)) return e.op("Reshape", Json{{"newshape", newshape}}, Json::array({bias}));
  if (!bias.is_array()) e.fail("bias_add's bias should be a vector");
  Json out = Json::array();
  for (const Json& v : bias) {
    Json wrapped = v;
    for (size_t i = 2; i < rank; ++i) wrapped = Json::array({wrapped});
    out.push_back(wrapped);
  }
  return out;
}

// tf.nn.bias_add(value, bias, data_format): the bias along the channels axis (last, unless the
// format starts "NC").
Json bias_add(OpEmitter& e, const Json& value, const Json& bias, const std::string& data_format) {
  bool first = data_format.rfind("NC", 0) == 0;
  if (!first) return e.op("Add", Json::object(), Json::array({value, bias}));
  return e.op("Add", Json::object(), Json::array({value, channels_first_bias(e, bias, e.type(value).shape.size())}));
}

// x[slice_spec] as tf.keras stores the spec (slices as {start, stop, step}, Ellipsis as
// {"class_name": "__ellipsis__"}, None for a new axis) in Keras 3's key form.
Json keras3_key_item(const Json& j) {
  if (j.is_object() && j.contains("start") && j.contains("stop") && j.contains("step"))
    return Json{{"class_name", "__slice__"}, {"config", {{"start", j["start"]}, {"stop", j["stop"]}, {"step", j["step"]}}}};
  return j;
}
Json keras3_key(const Json& spec) {
  if (!spec.is_array()) return keras3_key_item(spec);
  Json out = Json::array();
  for (const Json& e : spec) out.push_back(keras3_key_item(e));
  return out;
}

// The TensorFlow functions tf.keras names, by the name TFOpLambda records (tf.<name>).
const std::map<std::string, TfFunction>& tf_functions() {
  static const std::map<std::string, TfFunction> m = [] {
    std::map<std::string, TfFunction> t;
    auto add = [&t](std::initializer_list<const char*> names, std::vector<std::string> params, Translate emit) {
      for (const char* n : names) t[n] = TfFunction{params, emit};
    };
    const std::vector<std::string> xy{"x", "y"};
    // Python operators and tf.math binary functions (broadcasting as NumPy).
    add({"__operators__.add", "math.add"}, xy, binary("Add"));
    add({"math.subtract"}, xy, binary("Subtract"));
    add({"math.multiply"}, xy, binary("Multiply"));
    add({"math.truediv", "math.divide"}, xy, binary("TrueDivide"));
    add({"math.floordiv"}, xy, binary("FloorDivide"));
    add({"math.floormod", "math.mod"}, xy, binary("Mod"));
    add({"math.pow"}, xy, binary("Power"));
    add({"math.maximum"}, xy, binary("Maximum"));
    add({"math.minimum"}, xy, binary("Minimum"));
    add({"math.equal"}, xy, binary("Equal"));
    add({"math.not_equal"}, xy, binary("NotEqual"));
    add({"__operators__.eq"}, {"self", "other"}, binary("Equal"));
    add({"__operators__.ne"}, {"self", "other"}, binary("NotEqual"));
    add({"math.greater"}, xy, binary("Greater"));
    add({"math.greater_equal"}, xy, binary("GreaterEqual"));
    add({"math.less"}, xy, binary("Less"));
    add({"math.less_equal"}, xy, binary("LessEqual"));
    add({"math.logical_and"}, xy, binary("LogicalAnd"));
    add({"math.logical_or"}, xy, binary("LogicalOr"));
    add({"math.logical_xor"}, xy, binary("LogicalXor"));
    add({"math.atan2"}, {"y", "x"}, binary("Arctan2"));
    add({"math.squared_difference"}, xy, [](OpEmitter& e, const Bound& b) {
      return e.op("Square", Json::object(), Json::array({binary("Subtract")(e, b)}));
    });
    add({"math.add_n"}, {"inputs"}, [](OpEmitter& e, const Bound& b) {
      const Json& list = b.at(0, "inputs");
      if (!list.is_array() || list.empty()) e.fail("tf.math.add_n needs a non-empty list of tensors");
      Json sum = list[0];
      for (size_t i = 1; i < list.size(); ++i) sum = e.op("Add", Json::object(), Json::array({sum, list[i]}));
      if (list.size() == 1) e.value(sum, "tf.math.add_n's input");
      return sum;
    });
    // Element-wise functions of one tensor.
    const std::vector<std::pair<const char*, const char*>> unaries = {
        {"math.abs", "Abs"}, {"math.negative", "Negative"}, {"math.square", "Square"}, {"math.sqrt", "Sqrt"},
        {"math.rsqrt", "Rsqrt"}, {"math.reciprocal", "Reciprocal"}, {"math.exp", "Exp"}, {"math.expm1", "Expm1"},
        {"math.log", "Log"}, {"math.log1p", "Log1p"}, {"math.sin", "Sin"}, {"math.cos", "Cos"}, {"math.tan", "Tan"},
        {"math.asin", "Arcsin"}, {"math.acos", "Arccos"}, {"math.atan", "Arctan"}, {"math.sinh", "Sinh"},
        {"math.cosh", "Cosh"}, {"math.tanh", "Tanh"}, {"nn.tanh", "Tanh"}, {"math.asinh", "Arcsinh"},
        {"math.acosh", "Arccosh"}, {"math.atanh", "Arctanh"}, {"math.erf", "Erf"}, {"math.floor", "Floor"},
        {"math.ceil", "Ceil"}, {"math.sign", "Sign"}, {"math.round", "Round"}, {"math.sigmoid", "Sigmoid"},
        {"nn.sigmoid", "Sigmoid"}, {"math.softplus", "Softplus"}, {"nn.softplus", "Softplus"},
        {"math.softsign", "Softsign"}, {"nn.softsign", "Softsign"}, {"math.log_sigmoid", "LogSigmoid"},
        {"math.logical_not", "LogicalNot"}, {"math.is_nan", "Isnan"}, {"math.is_inf", "Isinf"},
        {"math.is_finite", "Isfinite"}, {"nn.relu", "Relu"}, {"nn.relu6", "Relu6"}, {"nn.selu", "Selu"},
        {"nn.elu", "Elu"},
    };
    for (const auto& [name, cls] : unaries) add({name}, {"x"}, unary(cls));
    add({"nn.leaky_relu"}, {"features", "alpha"}, [](OpEmitter& e, const Bound& b) {
      const Json* alpha = b.get(1);
      if (alpha && !alpha->is_number()) e.fail("'alpha' should be a number, got " + alpha->dump());
      return e.op("LeakyRelu", Json{{"negative_slope", alpha ? alpha->get<double>() : 0.2}}, Json::array({b.at(0, "features")}));
    });
    add({"nn.gelu", "math.gelu"}, {"features", "approximate"}, [](OpEmitter& e, const Bound& b) {
      return e.op("Gelu", Json{{"approximate", b.flag(1, "approximate")}}, Json::array({b.at(0, "features")}));
    });
    // tf.nn.silu(features, beta=1.0) = features * sigmoid(beta * features)
    add({"nn.silu", "nn.swish", "math.silu"}, {"features", "beta"}, [](OpEmitter& e, const Bound& b) {
      const Json& x = b.at(0, "features");
      const Json* beta = b.get(1);
      if (!beta || (beta->is_number() && beta->get<double>() == 1.0)) return e.op("Silu", Json::object(), Json::array({x}));
      Json scaled = e.op("Multiply", Json::object(), Json::array({x, *beta}));
      return e.op("Multiply", Json::object(), Json::array({x, e.op("Sigmoid", Json::object(), Json::array({scaled}))}));
    });
    add({"nn.softmax", "math.softmax"}, {"logits", "axis"}, [](OpEmitter& e, const Bound& b) {
      return e.op("Softmax", Json{{"axis", b.get(1) ? *b.get(1) : Json(-1)}}, Json::array({b.at(0, "logits")}));
    });
    add({"nn.log_softmax", "math.log_softmax"}, {"logits", "axis"}, [](OpEmitter& e, const Bound& b) {
      return e.op("LogSoftmax", Json{{"axis", b.get(1) ? *b.get(1) : Json(-1)}}, Json::array({b.at(0, "logits")}));
    });
    add({"nn.bias_add"}, {"value", "bias", "data_format"}, [](OpEmitter& e, const Bound& b) {
      const Json* f = b.get(2);
      if (f && !f->is_string()) e.fail("'data_format' should be a string");
      return bias_add(e, b.at(0, "value"), b.at(1, "bias"), f ? f->get<std::string>() : "NHWC");
    });
    // x / sqrt(max(sum(x^2, axis), epsilon))
    add({"math.l2_normalize", "nn.l2_normalize", "linalg.l2_normalize"}, {"x", "axis", "epsilon", "dim"},
        [](OpEmitter& e, const Bound& b) {
          const Json& x = b.at(0, "x");
          const Json* eps = b.get(2);
          if (eps && !eps->is_number()) e.fail("'epsilon' should be a number");
          Json sq = e.op("Square", Json::object(), Json::array({x}));
          Json sum = e.op("Sum", Json{{"axis", axis_config(e, b.get(1) ? b.get(1) : b.get(3))}, {"keepdims", true}},
                          Json::array({sq}));
          Json floor = e.op("Maximum", Json::object(), Json::array({sum, eps ? eps->get<double>() : 1e-12}));
          return e.op("Multiply", Json::object(), Json::array({x, e.op("Rsqrt", Json::object(), Json::array({floor}))}));
        });
    // tf.clip_by_value(t, min, max) = maximum(minimum(t, max), min), in that order.
    add({"clip_by_value"}, {"t", "clip_value_min", "clip_value_max"}, [](OpEmitter& e, const Bound& b) {
      Json hi = e.op("Minimum", Json::object(), Json::array({b.at(0, "t"), b.at(2, "clip_value_max")}));
      return e.op("Maximum", Json::object(), Json::array({hi, b.at(1, "clip_value_min")}));
    });
    add({"where", "where_v2"}, {"condition", "x", "y"}, [](OpEmitter& e, const Bound& b) {
      if (!b.get(1) || !b.get(2)) e.fail("tf.where(condition) without x and y (the indices of true elements) is not supported");
      return e.op("Where", Json::object(), Json::array({b.at(0, "condition"), *b.get(1), *b.get(2)}));
    });
    add({"cast", "dtypes.cast"}, {"x", "dtype"}, [](OpEmitter& e, const Bound& b) {
      return e.op("Cast", Json{{"dtype", b.at(1, "dtype")}}, Json::array({b.at(0, "x")}));
    });
    add({"identity"}, {"input"}, [](OpEmitter& e, const Bound& b) {
      e.value(b.at(0, "input"), "tf.identity's input");
      return b.at(0, "input");
    });
    // Reductions.
    const std::vector<std::pair<const char*, const char*>> reductions = {
        {"math.reduce_sum", "Sum"}, {"math.reduce_mean", "Mean"}, {"math.reduce_max", "Max"},
        {"math.reduce_min", "Min"}, {"math.reduce_prod", "Prod"}, {"math.reduce_any", "Any"},
        {"math.reduce_all", "All"}, {"math.reduce_logsumexp", "Logsumexp"}, {"math.reduce_variance", "Var"},
        {"math.reduce_std", "Std"},
    };
    for (const auto& [name, cls] : reductions) add({name}, {"input_tensor", "axis", "keepdims"}, reduce(cls));
    add({"math.argmax"}, {"input", "axis", "output_type"}, arg_reduce("Argmax"));
    add({"math.argmin"}, {"input", "axis", "output_type"}, arg_reduce("Argmin"));
    // Shapes.
    add({"reshape"}, {"tensor", "shape"}, [](OpEmitter& e, const Bound& b) {
      const Json& s = b.at(1, "shape");
      if (!s.is_array() || !std::all_of(s.begin(), s.end(), [](const Json& d) { return d.is_number_integer(); }))
        e.fail("tf.reshape's shape should be a list of integers (a computed shape is not supported), got " +
               s.dump().substr(0, 200));
      return e.op("Reshape", Json{{"newshape", s}}, Json::array({b.at(0, "tensor")}));
    });
    add({"transpose"}, {"a", "perm", "conjugate"}, [](OpEmitter& e, const Bound& b) {
      Json config = Json::object();
      if (b.get(1)) config["axes"] = *b.get(1);
      return e.op("Transpose", config, Json::array({b.at(0, "a")}));
    });
    add({"expand_dims"}, {"input", "axis"}, [](OpEmitter& e, const Bound& b) {
      return e.op("ExpandDims", Json{{"axis", b.at(1, "axis")}}, Json::array({b.at(0, "input")}));
    });
    add({"squeeze"}, {"input", "axis"}, [](OpEmitter& e, const Bound& b) {
      return e.op("Squeeze", Json{{"axis", axis_config(e, b.get(1))}}, Json::array({b.at(0, "input")}));
    });
    add({"concat"}, {"values", "axis"}, [](OpEmitter& e, const Bound& b) {
      return e.op("Concatenate", Json{{"axis", b.at(1, "axis")}}, Json::array({b.at(0, "values")}));
    });
    add({"stack"}, {"values", "axis"}, [](OpEmitter& e, const Bound& b) {
      return e.op("Stack", Json{{"axis", b.get(1) ? *b.get(1) : Json(0)}}, Json::array({b.at(0, "values")}));
    });
    add({"linalg.matmul", "matmul"},
        {"a", "b", "transpose_a", "transpose_b", "adjoint_a", "adjoint_b", "a_is_sparse", "b_is_sparse", "output_type"},
        [](OpEmitter& e, const Bound& b) {
          return matmul(e, b.at(0, "a"), b.at(1, "b"), b.flag(2, "transpose_a") || b.flag(4, "adjoint_a"),
                        b.flag(3, "transpose_b") || b.flag(5, "adjoint_b"));
        });
    add({"__operators__.getitem"}, {"tensor", "slice_spec", "var"}, [](OpEmitter& e, const Bound& b) {
      if (b.get(2)) e.fail("slicing a variable is not supported");
      return e.op("GetItem", Json::object(), Json::array({b.at(0, "tensor"), keras3_key(b.at(1, "slice_spec"))}));
    });
    return t;
  }();
  return m;
}

const TfFunction* find_function(const std::string& name) {
  auto it = tf_functions().find(name);
  return it == tf_functions().end() ? nullptr : &it->second;
}

class TfOpLambdaLayer : public TypedLayer {
 public:
  TfOpLambdaLayer(std::string function, const TfFunction& f) : function_(std::move(function)), f_(f) {}
  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    OpEmitter e(sink, inputs, call.where);
    Json result = f_.emit(e, bind_arguments(f_, function_, call, e));
    e.check_all_used();
    return {e.value(result, "the result")};
  }

 private:
  std::string function_;
  const TfFunction& f_;
};

std::shared_ptr<const TypedLayer> parse_tf_op_lambda(const LayerSpec& spec) {
  Config c(spec);
  std::string function = c.str("function", "");
  if (function.empty()) c.fail("names no TensorFlow function ('function')");
  const TfFunction* f = find_function(function);
  if (!f)
    c.fail("calls tf." + function + ", a TensorFlow function kerasrt does not map (the README lists those it does)");
  return std::make_shared<TfOpLambdaLayer>(function, *f);
}

// ---- TensorFlowOpLayer: a NodeDef ---------------------------------------------------------------

// NodeDef attrs as protobuf's JSON writes them: {"i": "3"} (int64 as a string), {"b": true},
// {"f": 0.2}, {"type": "DT_FLOAT"}, {"list": {"i": [...]}}, {"s": base64}.
class NodeAttrs {
 public:
  NodeAttrs(const Json& attrs, const OpEmitter& e) : a_(attrs), e_(e) {}
  const Json* find(const char* key, const char* field) const {
    if (!a_.is_object() || !a_.contains(key) || !a_[key].is_object() || !a_[key].contains(field)) return nullptr;
    return &a_[key][field];
  }
  int64_t integer(const char* key, int64_t fallback) const {
    const Json* v = find(key, "i");
    return v ? to_int(*v, key) : fallback;
  }
  bool flag(const char* key) const {
    const Json* v = find(key, "b");
    return v && v->is_boolean() && v->get<bool>();
  }
  double number(const char* key, double fallback) const {
    const Json* v = find(key, "f");
    return v && v->is_number() ? v->get<double>() : fallback;
  }
  std::vector<int64_t> ints(const char* key) const {
    std::vector<int64_t> out;
    const Json* l = find(key, "list");
    if (l && l->is_object() && l->contains("i") && (*l)["i"].is_array())
      for (const Json& v : (*l)["i"]) out.push_back(to_int(v, key));
    return out;
  }
  std::string type(const char* key) const {
    const Json* v = find(key, "type");
    return v && v->is_string() ? v->get<std::string>() : "";
  }
  std::string bytes(const char* key) const {
    const Json* v = find(key, "s");
    return v && v->is_string() ? base64(v->get<std::string>()) : "";
  }

 private:
  int64_t to_int(const Json& v, const char* key) const {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_string()) {
      try {
        size_t used = 0;
        int64_t i = std::stoll(v.get<std::string>(), &used);
        if (used == v.get<std::string>().size()) return i;
      } catch (const std::exception&) {
      }
    }
    e_.fail(std::string("node_def attr '") + key + "' should be an integer, got " + v.dump().substr(0, 100));
  }
  static std::string base64(const std::string& in) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char ch : in) {
      int v = ch >= 'A' && ch <= 'Z' ? ch - 'A' : ch >= 'a' && ch <= 'z' ? ch - 'a' + 26
            : ch >= '0' && ch <= '9' ? ch - '0' + 52 : ch == '+' ? 62 : ch == '/' ? 63 : -1;
      if (v < 0) break;  // '=' padding ends it
      acc = (acc << 6) | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push_back(static_cast<char>((acc >> bits) & 0xFF));
      }
    }
    return out;
  }
  const Json& a_;
  const OpEmitter& e_;
};

// A TensorFlow dtype enum name as a Keras dtype name.
std::string keras_dtype(const std::string& tf_type) {
  static const std::map<std::string, std::string> m = {
      {"DT_FLOAT", "float32"}, {"DT_DOUBLE", "float64"}, {"DT_HALF", "float16"}, {"DT_BFLOAT16", "bfloat16"},
      {"DT_INT32", "int32"},   {"DT_INT64", "int64"},    {"DT_INT16", "int16"}, {"DT_INT8", "int8"},
      {"DT_UINT8", "uint8"},   {"DT_BOOL", "bool"},
  };
  auto it = m.find(tf_type);
  return it == m.end() ? "" : it->second;
}

// One NodeDef: its operands (the layer's tensors where the NodeDef reads a tensor, the stored
// constants elsewhere) turned into keras.ops nodes by op name.
class TensorFlowOpLayer : public TypedLayer {
 public:
  TensorFlowOpLayer(std::string op, Json attrs, std::vector<std::optional<Json>> constants)
      : op_(std::move(op)), attrs_(std::move(attrs)), constants_(std::move(constants)) {}

  std::vector<int> call(NodeSink& sink, const Call& call, std::span<const int> inputs) const override {
    OpEmitter e(sink, inputs, call.where);
    std::vector<Json> operands;
    size_t next = 0;
    for (const std::optional<Json>& c : constants_) {
      if (c) {
        operands.push_back(*c);
      } else {
        if (next >= inputs.size()) e.fail("the NodeDef reads more tensors than the layer is given");
        operands.push_back(tensor_placeholder(static_cast<int>(next++)));
      }
    }
    if (next != inputs.size()) e.fail("the layer is given more tensors than its NodeDef reads");
    Json result = emit(e, operands);
    e.check_all_used();
    return {e.value(result, "the result")};
  }

 private:
  Json emit(OpEmitter& e, const std::vector<Json>& in) const {
    const Json none = Json::object();
    NodeAttrs attrs(attrs_, e);
    auto need = [&](size_t n) {
      if (in.size() != n) e.fail("TensorFlow op " + op_ + " takes " + std::to_string(n) + " inputs, the NodeDef has " + std::to_string(in.size()));
    };
    static const std::map<std::string, std::string> binaries = {
        {"Add", "Add"}, {"AddV2", "Add"}, {"Sub", "Subtract"}, {"Mul", "Multiply"}, {"RealDiv", "TrueDivide"},
        {"FloorDiv", "FloorDivide"}, {"FloorMod", "Mod"}, {"Maximum", "Maximum"}, {"Minimum", "Minimum"},
        {"Pow", "Power"}, {"Equal", "Equal"}, {"NotEqual", "NotEqual"}, {"Greater", "Greater"},
        {"GreaterEqual", "GreaterEqual"}, {"Less", "Less"}, {"LessEqual", "LessEqual"},
        {"LogicalAnd", "LogicalAnd"}, {"LogicalOr", "LogicalOr"}, {"Atan2", "Arctan2"},
    };
    static const std::map<std::string, std::string> unaries = {
        {"Relu", "Relu"}, {"Relu6", "Relu6"}, {"Sigmoid", "Sigmoid"}, {"Tanh", "Tanh"}, {"Exp", "Exp"},
        {"Log", "Log"}, {"Log1p", "Log1p"}, {"Sqrt", "Sqrt"}, {"Rsqrt", "Rsqrt"}, {"Square", "Square"},
        {"Neg", "Negative"}, {"Abs", "Abs"}, {"Softplus", "Softplus"}, {"Softsign", "Softsign"}, {"Erf", "Erf"},
        {"Floor", "Floor"}, {"Ceil", "Ceil"}, {"Reciprocal", "Reciprocal"}, {"Inv", "Reciprocal"}, {"Elu", "Elu"},
        {"Selu", "Selu"}, {"Sin", "Sin"}, {"Cos", "Cos"}, {"Sign", "Sign"}, {"Round", "Round"},
        {"LogicalNot", "LogicalNot"},
    };
    static const std::map<std::string, std::string> reductions = {
        {"Sum", "Sum"}, {"Mean", "Mean"}, {"Max", "Max"}, {"Min", "Min"}, {"Prod", "Prod"}, {"Any", "Any"}, {"All", "All"},
    };
    if (auto it = binaries.find(op_); it != binaries.end()) {
      need(2);
      return e.op(it->second, none, Json::array({in[0], in[1]}));
    }
    if (op_ == "SquaredDifference") {
      need(2);
      return e.op("Square", none, Json::array({e.op("Subtract", none, Json::array({in[0], in[1]}))}));
    }
    if (auto it = unaries.find(op_); it != unaries.end()) {
      need(1);
      return e.op(it->second, none, Json::array({in[0]}));
    }
    if (op_ == "LeakyRelu") {
      need(1);
      return e.op("LeakyRelu", Json{{"negative_slope", attrs.number("alpha", 0.2)}}, Json::array({in[0]}));
    }
    if (op_ == "Identity") {
      need(1);
      e.value(in[0], "Identity's input");
      return in[0];
    }
    if (auto it = reductions.find(op_); it != reductions.end()) {
      need(2);
      if (it->second == "Mean" && e.is_tensor(in[0]) && integer_dtype(e.type(in[0]).dtype))
        e.fail("Mean of an integer tensor (TensorFlow's integer result) is not supported");
      return e.op(it->second, Json{{"axis", axis_config(e, &in[1])}, {"keepdims", attrs.flag("keep_dims")}},
                  Json::array({in[0]}));
    }
    if (op_ == "Softmax" || op_ == "LogSoftmax") {
      need(1);
      return e.op(op_, Json{{"axis", -1}}, Json::array({in[0]}));
    }
    if (op_ == "Transpose") {
      need(2);
      return e.op("Transpose", Json{{"axes", in[1]}}, Json::array({in[0]}));
    }
    if (op_ == "Reshape") {
      need(2);
      if (e.is_tensor(in[1])) e.fail("Reshape to a computed shape is not supported");
      return e.op("Reshape", Json{{"newshape", in[1]}}, Json::array({in[0]}));
    }
    if (op_ == "ExpandDims") {
      need(2);
      return e.op("ExpandDims", Json{{"axis", in[1]}}, Json::array({in[0]}));
    }
    if (op_ == "Squeeze") {
      need(1);
      std::vector<int64_t> dims = attrs.ints("squeeze_dims");
      return e.op("Squeeze", Json{{"axis", dims.empty() ? Json(nullptr) : Json(dims)}}, Json::array({in[0]}));
    }
    if (op_ == "ConcatV2") {
      if (in.size() < 2) e.fail("ConcatV2 needs values and an axis");
      Json values = Json::array();
      for (size_t i = 0; i + 1 < in.size(); ++i) values.push_back(in[i]);
      return e.op("Concatenate", Json{{"axis", in.back()}}, Json::array({values}));
    }
    if (op_ == "Pack") {
      Json values = Json::array();
      for (const Json& v : in) values.push_back(v);
      return e.op("Stack", Json{{"axis", attrs.integer("axis", 0)}}, Json::array({values}));
    }
    if (op_ == "MatMul") {
      need(2);
      return matmul(e, in[0], in[1], attrs.flag("transpose_a"), attrs.flag("transpose_b"));
    }
    if (op_ == "BatchMatMul" || op_ == "BatchMatMulV2" || op_ == "BatchMatMulV3") {
      need(2);
      return matmul(e, in[0], in[1], attrs.flag("adj_x"), attrs.flag("adj_y"));
    }
    if (op_ == "Cast") {
      need(1);
      std::string to = keras_dtype(attrs.type("DstT"));
      if (to.empty()) e.fail("Cast to " + attrs.type("DstT") + " is not supported");
      return e.op("Cast", Json{{"dtype", to}}, Json::array({in[0]}));
    }
    if (op_ == "BiasAdd") {
      need(2);
      std::string f = attrs.bytes("data_format");
      return bias_add(e, in[0], in[1], f.empty() ? "NHWC" : f);
    }
    if (op_ == "StridedSlice") {
      need(4);
      return e.op("GetItem", none, Json::array({in[0], strided_slice_key(e, in[1], in[2], in[3], attrs)}));
    }
    e.fail("TensorFlow op '" + op_ + "' is not one kerasrt maps (the README lists those it does)");
  }

  // StridedSlice's begin/end/strides and bit masks as an index: per spec position, an ellipsis,
  // a new axis, an index (shrink) or a slice whose masked bounds are open.
  static Json strided_slice_key(OpEmitter& e, const Json& begin, const Json& end, const Json& strides,
                                const NodeAttrs& attrs) {
    auto ints = [&](const Json& j, const char* what) {
      if (!j.is_array() || !std::all_of(j.begin(), j.end(), [](const Json& v) { return v.is_number_integer(); }))
        e.fail(std::string("StridedSlice ") + what + " should be constant integers");
      return j.get<std::vector<int64_t>>();
    };
    std::vector<int64_t> b = ints(begin, "begin"), en = ints(end, "end"), s = ints(strides, "strides");
    if (b.size() != en.size() || b.size() != s.size() || b.size() > 64) e.fail("StridedSlice begin, end and strides differ in length");
    const int64_t begin_mask = attrs.integer("begin_mask", 0), end_mask = attrs.integer("end_mask", 0);
    const int64_t ellipsis_mask = attrs.integer("ellipsis_mask", 0), new_axis_mask = attrs.integer("new_axis_mask", 0);
    const int64_t shrink_mask = attrs.integer("shrink_axis_mask", 0);
    Json key = Json::array();
    for (size_t i = 0; i < b.size(); ++i) {
      const int64_t bit = int64_t{1} << i;
      if (ellipsis_mask & bit) key.push_back(Json{{"class_name", "__ellipsis__"}});
      else if (new_axis_mask & bit) key.push_back(nullptr);
      else if (shrink_mask & bit) key.push_back(b[i]);
      else
        key.push_back(Json{{"class_name", "__slice__"},
                           {"config", {{"start", begin_mask & bit ? Json(nullptr) : Json(b[i])},
                                       {"stop", end_mask & bit ? Json(nullptr) : Json(en[i])},
                                       {"step", s[i]}}}});
    }
    return key;
  }

  std::string op_;
  Json attrs_;
  std::vector<std::optional<Json>> constants_;  // per NodeDef input: the stored constant, or nullopt for a tensor
};

std::shared_ptr<const TypedLayer> parse_tensorflow_op_layer(const LayerSpec& spec) {
  Config c(spec);
  const Json& node_def = c.raw("node_def");
  if (!node_def.is_object() || !node_def.contains("op") || !node_def["op"].is_string())
    c.fail("'node_def' should be a NodeDef with an 'op'");
  static const Json kEmpty = Json::object();
  const Json& constants = c.has("constants") ? c.raw("constants") : kEmpty;
  if (!constants.is_object()) c.fail("'constants' should be an object");
  std::vector<std::optional<Json>> operands;
  if (node_def.contains("input") && node_def["input"].is_array()) {
    size_t index = 0;
    for (const Json& name : node_def["input"]) {
      if (name.is_string() && name.get<std::string>().rfind('^', 0) == 0) continue;  // a control dependency
      std::string key = std::to_string(index++);
      if (constants.contains(key)) operands.emplace_back(constants[key]);
      else operands.emplace_back(std::nullopt);
    }
  }
  return std::make_shared<TensorFlowOpLayer>(node_def["op"].get<std::string>(),
                                             node_def.contains("attr") ? node_def["attr"] : Json::object(),
                                             std::move(operands));
}

}  // namespace

TypedParser tf_op_layer_parser(const std::string& key) {
  if (key == "TFOpLambda" || key == "SlicingOpLambda") return parse_tf_op_lambda;
  if (key == "TensorFlowOpLayer") return parse_tensorflow_op_layer;
  return nullptr;
}

}  // namespace kerasrt::format
