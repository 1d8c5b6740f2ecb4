#include "format/graph_builder.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "format/keras/call_args.hpp"  // tensor_placeholder
#include "format/keras/config.hpp"
#include "format/keras/architecture_weights.hpp"
#include "format/keras/implicit_masks.hpp"
#include "format/keras/layer_registry.hpp"
#include "format/keras/typed_layer.hpp"
#include "format/keras1_compat.hpp"
#include "ir/infer.hpp"

namespace kerasrt::format {

namespace {

struct Ref {
  std::string layer;
  int node = 0;
  int tensor = 0;
};

const Json& field(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string string_field(const Json& j, const char* key) {
  const Json& v = field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

bool is_model_class(const std::string& c) { return c == "Functional" || c == "Model" || c == "Sequential"; }

bool is_op_node(const Json& entry) {
  std::string module = string_field(entry, "module");
  return module.rfind("keras.src.ops", 0) == 0 || module.rfind("keras.ops", 0) == 0;
}

// [name, node, tensor(, kwargs)] -> Ref
bool parse_ref(const Json& j, Ref& out) {
  if (!j.is_array() || j.size() < 3 || !j[0].is_string() || !j[1].is_number_integer() || !j[2].is_number_integer())
    return false;
  out = {j[0].get<std::string>(), j[1].get<int>(), j[2].get<int>()};
  return true;
}

// input_layers / output_layers in any of their forms: one ref, a list of refs, or a dict of refs
// (flattened in sorted key order, as keras.tree does).
std::vector<Ref> parse_ref_list(const Json& j, const std::string& where) {
  std::vector<Ref> out;
  Ref r;
  if (parse_ref(j, r)) return {r};
  if (j.is_array()) {
    for (const Json& e : j) {
      if (!parse_ref(e, r)) throw Error(where + ": malformed tensor reference " + e.dump());
      out.push_back(r);
    }
  } else if (j.is_object()) {
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    std::sort(keys.begin(), keys.end());
    for (const auto& k : keys) {
      if (!parse_ref(j[k], r)) throw Error(where + ": malformed tensor reference " + j[k].dump());
      out.push_back(r);
    }
  } else if (!j.is_null()) {
    throw Error(where + ": malformed input/output list " + j.dump().substr(0, 200));
  }
  return out;
}

// A Keras 3 inbound node with its tensors swapped for {"__tensor__": i}.
struct ParsedCall {
  Call call;
  std::vector<Ref> refs;
};

Json replace_tensors(const Json& j, const std::string& role, ParsedCall& pc) {
  return replace_parts(j, [&](const Json& part) -> std::optional<Json> {
    if (!part.is_object() || string_field(part, "class_name") != "__keras_tensor__") return std::nullopt;
    Ref r;
    if (!parse_ref(field(field(part, "config"), "keras_history"), r))
      throw Error(pc.call.where + ": malformed keras_history in an inbound node");
    pc.refs.push_back(r);
    pc.call.roles.push_back(role);
    return tensor_placeholder(static_cast<int>(pc.refs.size()) - 1);
  });
}

// A Keras 2 kwarg with its tensor references [layer, node, tensor] swapped for placeholders, as
// tf.keras reads them back (a list of exactly a name and two integers is a reference).
Json keras2_kwarg(const Json& j, const std::string& role, ParsedCall& pc) {
  return replace_parts(j, [&](const Json& part) -> std::optional<Json> {
    Ref r;
    if (!part.is_array() || part.size() != 3 || !parse_ref(part, r)) return std::nullopt;
    pc.refs.push_back(r);
    pc.call.roles.push_back(role);
    return tensor_placeholder(static_cast<int>(pc.refs.size()) - 1);
  });
}

// One entry of a Keras 2 node: [layer, node, tensor(, kwargs)], or tf.keras's constant
// ["_CONSTANT_VALUE", -1, value(, kwargs)] for a first argument that was no tensor.
bool is_node_entry(const Json& e) {
  return e.is_array() && (e.size() == 3 || e.size() == 4) && e[0].is_string() && e[1].is_number_integer() &&
         (e.size() == 3 || e[3].is_object());
}

void keras2_kwargs(const Json& entry, ParsedCall& pc) {
  if (entry.size() > 3 && entry[3].is_object())
    for (auto it = entry[3].begin(); it != entry[3].end(); ++it)
      pc.call.kwargs[it.key()] = keras2_kwarg(it.value(), it.key(), pc);
}

// tf.keras op layers (TFOpLambda, SlicingOpLambda) store their first argument's structure: one
// entry, or nested lists of entries; every entry repeats the call's kwargs.
Json op_layer_argument(const Json& j, const std::string& where, ParsedCall& pc, size_t depth) {
  if (depth > 32) throw Error(where + ": the inbound node nests too deeply");
  if (is_node_entry(j)) {
    keras2_kwargs(j, pc);
    if (j[0] == "_CONSTANT_VALUE") return j[2];
    Ref r;
    if (!parse_ref(j, r)) throw Error(where + ": malformed inbound node " + j.dump().substr(0, 200));
    pc.refs.push_back(r);
    pc.call.roles.emplace_back();
    return tensor_placeholder(static_cast<int>(pc.refs.size()) - 1);
  }
  if (!j.is_array()) throw Error(where + ": malformed inbound node " + j.dump().substr(0, 200));
  Json out = Json::array();
  for (const Json& e : j) out.push_back(op_layer_argument(e, where, pc, depth + 1));
  return out;
}

ParsedCall parse_node(const Json& node, const std::string& where, bool op_layer) {
  ParsedCall pc;
  pc.call.where = where;
  if (node.is_object()) {  // Keras 3: {"args": [...], "kwargs": {...}}
    pc.call.args = replace_tensors(field(node, "args").is_null() ? Json::array() : node["args"], "", pc);
    const Json& kw = field(node, "kwargs");
    if (kw.is_object())
      for (auto it = kw.begin(); it != kw.end(); ++it) pc.call.kwargs[it.key()] = replace_tensors(it.value(), it.key(), pc);
    return pc;
  }
  if (node.is_array() && op_layer) {
    Json first = op_layer_argument(node, where, pc, 0);
    pc.call.args = Json::array({std::move(first)});
    return pc;
  }
  if (node.is_array()) {  // Keras 2: [[name, node, tensor, kwargs], ...]
    Json list = Json::array();
    for (const Json& e : node) {
      Ref r;
      if (!parse_ref(e, r)) throw Error(where + ": malformed inbound node " + e.dump().substr(0, 200));
      pc.refs.push_back(r);
      pc.call.roles.emplace_back();
      list.push_back(tensor_placeholder(static_cast<int>(pc.refs.size()) - 1));
      keras2_kwargs(e, pc);
    }
    pc.call.args = Json::array();
    pc.call.args.push_back(list.size() == 1 ? list[0] : list);
    return pc;
  }
  throw Error(where + ": malformed inbound node");
}

// The batch shape an input-like layer declares, in any dialect (None: -1). A negative number is
// no dimension at all: refused, naming `where`.
std::optional<Shape> declared_batch_shape(const Json& layer_config, const std::string& where) {
  auto dim = [&](const Json& d) -> int64_t {
    if (!d.is_number_integer()) return -1;
    if (d.get<int64_t>() < 0) throw Error(where + ": the input shape has a negative dimension " + d.dump());
    return d.get<int64_t>();
  };
  for (const char* key : {"batch_shape", "batch_input_shape"}) {
    const Json& s = field(layer_config, key);
    if (s.is_array()) {
      Shape shape;
      for (const Json& d : s) shape.push_back(dim(d));
      return shape;
    }
  }
  const Json& s = field(layer_config, "input_shape");
  if (s.is_array()) {
    Shape shape{-1};
    for (const Json& d : s) shape.push_back(dim(d));
    return shape;
  }
  return std::nullopt;
}

// The dtype an input layer declares (a name or a dtype policy); mixed policies compute in float32.
DType declared_dtype(const Json& layer_config, const std::string& where) {
  const Json& d = field(layer_config, "dtype");
  std::string name = d.is_string() ? d.get<std::string>() : string_field(field(d, "config"), "name");
  if (name.empty() || name.rfind("mixed_", 0) == 0) return DType::kFloat32;
  DType t;
  if (!parse_dtype(name, t)) throw Error(where + ": input dtype '" + name + "' is not supported");
  return t;
}

struct Scope {
  std::vector<std::string> names;  // enclosing model layer names (empty at the top)
  std::string archive_path;        // Keras 3 weights path of the enclosing model ("" at the top)
  int call = 0;                    // which call of the enclosing model this is (0 at the top)
  bool implicit_masks = false;     // masks ride with tensors (Keras 2 configs, Sequential models)

  std::string qualified(const std::string& layer) const {
    std::string s;
    for (const auto& n : names) s += n + "/";
    return s + layer;
  }
};

class Builder {
 public:
  Builder(const WeightSource& ws, std::string file, SavedBy saved_by, const LoadLimits& limits)
      : weights_(ws), file_(std::move(file)), saved_by_(std::move(saved_by)),
        semantics_(keras_semantics(saved_by_.keras_version, saved_by_.backend)), limits_(limits) {}

  ir::Graph build(const Json& model_json) {
    std::string cls = string_field(model_json, "class_name");
    const Json& cfg = field(model_json, "config");
    if (!is_model_class(cls)) {
      std::string registered = string_field(model_json, "registered_name");
      if (cls.empty()) throw Error(file_ + ": the config names no model class");
      if (cls == "Graph") throw Error(file_ + ": Keras 0.x/1.x Graph models are not supported (only Sequential and functional)");
      throw Error(file_ + ": the model is a '" + cls + "'" +
                  (registered.empty() || registered == cls ? "" : " ('" + registered + "')") +
                  ", not a Functional or Sequential model; a subclassed model's structure lives in its Python code, "
                  "which kerasrt cannot run");
    }
    keras3_ = uses_keras3_nodes(model_json);
    {
      std::vector<std::string> names;
      std::vector<bool> is_input;
      for (const Json& e : sequential_layers(cls, cfg)) {
        names.push_back(entry_name(e));
        is_input.push_back(string_field(e, "class_name") == "InputLayer");
      }
      weights_.set_model_layers(names, is_input);
    }
    graph_.name = string_field(cfg, "name");
    if (graph_.name.empty()) graph_.name = string_field(model_json, "name");
    if (graph_.name.empty()) graph_.name = snake_case(cls);  // Keras 2.0-2.2 Sequential lists carry no name
    std::vector<int> inputs = make_model_inputs(cls, cfg);
    Scope top;
    std::vector<Ref> out_refs;
    std::vector<int> outs = build_model(cls, cfg, top, inputs, &out_refs);
    name_outputs(cls, cfg, outs, out_refs);
    std::vector<std::string> unused = weights_.unused();
    if (!unused.empty())
      throw Error(weights_.file() + ": holds weights for '" + unused[0] + "'" +
                  (unused.size() > 1 ? " (and " + std::to_string(unused.size() - 1) + " more)" : "") +
                  ", which the model in " + file_ + " does not have; is it the weights file of another model?");
    return std::move(graph_);
  }

 private:
  // ---- model inputs -------------------------------------------------------------------------
  int add_input(const std::string& name, const Shape& shape, DType dtype) {
    int v = graph_.add_value({shape, dtype}, -1);
    graph_.inputs.push_back({name, shape, dtype});
    graph_.input_values.push_back(v);
    graph_.named_values.emplace_back(name, v);
    return v;
  }

  std::vector<int> make_model_inputs(const std::string& cls, const Json& cfg) {
    std::vector<int> ids;
    const Json& layers = sequential_layers(cls, cfg);
    if (cls == "Sequential") {
      if (layers.empty()) throw Error(file_ + ": the Sequential model has no layers");
      const Json& first = layers[0];
      const Json& fc = field(first, "config");
      const std::string where = file_ + ", layer '" + entry_name(first) + "'";
      std::optional<Shape> shape = declared_batch_shape(fc, where);
      if (!shape) shape = declared_batch_shape(field(first, "build_config"), where);
      if (!shape) {
        const Json& b = field(cfg, "build_input_shape");
        if (b.is_array()) shape = declared_batch_shape(Json{{"batch_shape", b}}, file_ + " (build_input_shape)");
      }
      if (!shape)
        throw Error(file_ + ": the Sequential model declares no input shape (no InputLayer, batch_shape or build_config)");
      std::string name = string_field(first, "class_name") == "InputLayer" ? string_field(fc, "name") : "input_layer";
      ids.push_back(add_input(name, *shape, declared_dtype(fc, file_ + ", layer '" + name + "'")));
      return ids;
    }
    for (const Ref& r : parse_ref_list(field(cfg, "input_layers"), file_)) {
      const Json* entry = find_layer(layers, r.layer);
      if (!entry) throw Error(file_ + ": input layer '" + r.layer + "' is not in the model's layers");
      const Json& ic = field(*entry, "config");
      std::optional<Shape> shape = declared_batch_shape(ic, file_ + ", layer '" + r.layer + "'");
      if (!shape) throw Error(file_ + ", layer '" + r.layer + "': the input layer declares no shape");
      ids.push_back(add_input(r.layer, *shape, declared_dtype(ic, file_ + ", layer '" + r.layer + "'")));
    }
    return ids;
  }

  // ---- models ---------------------------------------------------------------------------------
  static const Json& sequential_layers(const std::string& cls, const Json& cfg) {
    static const Json kEmpty = Json::array();
    if (cls == "Sequential" && cfg.is_array()) return cfg;  // Keras 2.0-2.2 stored the list directly
    const Json& l = field(cfg, "layers");
    return l.is_array() ? l : kEmpty;
  }

  static const Json* find_layer(const Json& layers, const std::string& name) {
    for (const Json& e : layers) {
      std::string n = string_field(e, "name");
      if (n.empty()) n = string_field(field(e, "config"), "name");
      if (n == name) return &e;
    }
    return nullptr;
  }

  static std::string entry_name(const Json& e) {
    std::string n = string_field(e, "name");
    return n.empty() ? string_field(field(e, "config"), "name") : n;
  }

  // Keras 3 names each tracked layer's weights group after its class ("dense", "dense_1", ...).
  static std::map<const Json*, std::string> archive_names(const Json& layers, bool skip_leading_input) {
    std::map<const Json*, std::string> out;
    std::map<std::string, int> used;
    for (size_t i = 0; i < layers.size(); ++i) {
      const Json& e = layers[i];
      if (is_op_node(e)) continue;
      std::string cls = string_field(e, "class_name");
      if (skip_leading_input && i == 0 && cls == "InputLayer") continue;
      if (cls == "Model") cls = "Functional";
      // Groups are named after the Python class, which an export alias in the config can hide.
      if (cls == "GroupQueryAttention") cls = "GroupedQueryAttention";
      std::string base = snake_case(cls);
      auto [it, fresh] = used.try_emplace(base, 0);
      out[&e] = fresh ? base : base + "_" + std::to_string(++it->second);
    }
    return out;
  }

  std::vector<int> build_model(const std::string& cls, const Json& cfg, const Scope& scope,
                               const std::vector<int>& inputs, std::vector<Ref>* out_refs) {
    // Keras 3 functional configs pass masks explicitly; elsewhere they follow the tensors.
    Scope s = scope;
    s.implicit_masks = cls == "Sequential" || !keras3_;
    if (cls == "Sequential") return build_sequential(cfg, s, inputs);
    return build_functional(cfg, s, inputs, out_refs);
  }

  std::vector<int> build_sequential(const Json& cfg, const Scope& scope, const std::vector<int>& inputs) {
    const Json& layers = sequential_layers("Sequential", cfg);
    auto paths = archive_names(layers, true);
    if (inputs.size() != 1)
      throw Error(file_ + ": a Sequential model takes one input, got " + std::to_string(inputs.size()));
    std::set<std::string> names;
    for (const Json& e : layers)
      if (!entry_name(e).empty() && !names.insert(entry_name(e)).second)
        throw Error(file_ + ": two layers of the Sequential model are named '" + entry_name(e) +
                    "' (layer names must be unique)");
    std::vector<int> cur = inputs;
    for (size_t i = 0; i < layers.size(); ++i) {
      const Json& e = layers[i];
      std::string cls = string_field(e, "class_name");
      std::string name = entry_name(e);
      if (cls == "InputLayer") {
        if (i == 0) continue;
        throw Error(file_ + ", layer '" + name + "': an InputLayer in the middle of a Sequential model");
      }
      std::string path = join_path(scope.archive_path, "layers/" + paths[&e]);
      ParsedCall pc;
      pc.call.where = file_ + ", layer '" + scope.qualified(name) + "' (" + cls + ")";
      for (size_t k = 0; k < cur.size(); ++k) {
        pc.call.roles.emplace_back();
        pc.call.args.push_back(tensor_placeholder(static_cast<int>(pc.call.roles.size()) - 1));
      }
      cur = call_layer(e, cls, name, scope, path, pc.call, cur, 0);
    }
    return cur;
  }

  static std::string join_path(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

  std::vector<int> build_functional(const Json& cfg, const Scope& scope, const std::vector<int>& inputs,
                                    std::vector<Ref>* out_refs) {
    const Json& layers = field(cfg, "layers");
    if (!layers.is_array()) throw Error(file_ + ": the model config has no 'layers' list");
    auto paths = archive_names(layers, false);
    std::map<std::string, const Json*> by_name;
    for (const Json& e : layers)
      if (!by_name.emplace(entry_name(e), &e).second)
        throw Error(file_ + ": two layers of model '" + string_field(cfg, "name") + "' are named '" + entry_name(e) +
                    "' (layer names must be unique)");

    std::vector<Ref> in_refs = parse_ref_list(field(cfg, "input_layers"), file_);
    if (in_refs.size() != inputs.size())
      throw Error(file_ + ": model '" + string_field(cfg, "name") + "' takes " + std::to_string(in_refs.size()) +
                  " inputs, called with " + std::to_string(inputs.size()));
    std::map<std::string, int> input_of;
    for (size_t i = 0; i < in_refs.size(); ++i) input_of[in_refs[i].layer] = inputs[i];

    std::map<std::pair<std::string, int>, std::vector<int>> memo;
    std::set<std::pair<std::string, int>> in_progress;
    bool top = scope.names.empty();

    // A nested Functional starts life with a node of its own (inputs to outputs) that configs
    // leave out; some references count it and some do not (see node_index()).
    auto normalize = [&](Ref& r, bool io_list) {
      auto e = by_name.find(r.layer);
      if (e != by_name.end()) r.node = node_index(*e->second, r.node, io_list);
    };

    // The tensor a resolved reference names.
    auto tensor_of = [&](const Ref& r) -> int {
      if (auto it = input_of.find(r.layer); it != input_of.end()) return it->second;
      const std::vector<int>& outs = memo.at({r.layer, r.node});
      if (r.tensor < 0 || r.tensor >= static_cast<int>(outs.size()))
        throw Error(file_ + ", layer '" + scope.qualified(r.layer) + "': output " + std::to_string(r.tensor) +
                    " requested, the layer has " + std::to_string(outs.size()));
      return outs[static_cast<size_t>(r.tensor)];
    };
    auto ready = [&](const Ref& r) { return input_of.count(r.layer) > 0 || memo.count({r.layer, r.node}) > 0; };

    // Builds the call `r` names after the calls it depends on, with an explicit stack: graphs can
    // be far deeper than the call stack. `r.node` indexes the layer's inbound_nodes.
    struct Pending {
      Ref ref;
      const Json* entry = nullptr;
      std::string cls;
      ParsedCall pc;
      std::vector<int> args;
    };
    auto resolve = [&](const Ref& target) -> int {
      std::vector<Pending> stack;
      auto start = [&](const Ref& r) {
        auto e = by_name.find(r.layer);
        if (e == by_name.end()) throw Error(file_ + ": the graph refers to a missing layer '" + r.layer + "'");
        Pending p{r, e->second, string_field(*e->second, "class_name"), {}, {}};
        std::string where = file_ + ", layer '" + scope.qualified(r.layer) + "' (" + p.cls + ")";
        const Json& nodes = field(*p.entry, "inbound_nodes");
        if (p.cls == "InputLayer") throw Error(where + ": an input layer that is not among the model's inputs");
        if (!nodes.is_array() || r.node < 0 || r.node >= static_cast<int>(nodes.size()))
          throw Error(where + ": the graph refers to call " + std::to_string(r.node) + ", which the config lacks");
        if (!in_progress.insert({r.layer, r.node}).second) throw Error(where + ": the graph has a cycle");
        p.pc = parse_node(nodes[static_cast<size_t>(r.node)], where, p.cls == "TFOpLambda" || p.cls == "SlicingOpLambda");
        // At inference (predict passes training=False) Keras 3.0-3.15 overrode what a node recorded.
        if (semantics_.training_from_outer_call) p.pc.call.kwargs.erase("training");
        for (Ref& a : p.pc.refs) normalize(a, false);
        stack.push_back(std::move(p));
      };
      if (!ready(target)) start(target);
      while (!stack.empty()) {
        Pending& p = stack.back();
        if (p.args.size() < p.pc.refs.size()) {
          const Ref& a = p.pc.refs[p.args.size()];
          if (ready(a)) p.args.push_back(tensor_of(a));
          else start(a);
          continue;
        }
        const Json& entry = *p.entry;
        std::string path = paths.count(&entry) ? join_path(scope.archive_path, "layers/" + paths[&entry]) : "";
        std::vector<int> outs = call_layer(entry, p.cls, p.ref.layer, scope, path, p.pc.call, p.args, p.ref.node);
        in_progress.erase({p.ref.layer, p.ref.node});
        memo.emplace(std::make_pair(p.ref.layer, p.ref.node), std::move(outs));
        stack.pop_back();
      }
      return tensor_of(target);
    };

    std::vector<Ref> outs = parse_ref_list(field(cfg, "output_layers"), file_);
    for (Ref& r : outs) normalize(r, true);
    std::vector<int> result;
    for (const Ref& r : outs) result.push_back(resolve(r));
    if (out_refs) *out_refs = outs;
    if (top) {
      // Layers off the path to the outputs still belong in the summary and may be asked for.
      for (const Json& e : layers) {
        std::string cls = string_field(e, "class_name");
        const Json& nodes = field(e, "inbound_nodes");
        if (cls == "InputLayer" || !nodes.is_array()) continue;
        for (size_t k = 0; k < nodes.size(); ++k) resolve({entry_name(e), static_cast<int>(k), 0});
      }
    }
    return result;
  }

  // Which of `entry`'s inbound nodes a reference [name, node, tensor] means. Keras 2 counts a
  // nested model's own construction node everywhere; Keras 3 counts it in input/output lists only
  // (and only for Functional, not Sequential). Files do not say which writer made them, so an index
  // that fits only the other convention is taken in that one.
  int node_index(const Json& entry, int node, bool io_list) const {
    std::string cls = string_field(entry, "class_name");
    if (!is_model_class(cls)) return node;
    const Json& nodes = field(entry, "inbound_nodes");
    int n = nodes.is_array() ? static_cast<int>(nodes.size()) : 0;
    bool shifted = keras3_ ? io_list && cls != "Sequential" : true;
    int first = shifted ? node - 1 : node, second = shifted ? node : node - 1;
    if (first >= 0 && first < n) return first;
    if (second >= 0 && second < n) return second;
    return first;
  }

  // ---- one call of one layer ------------------------------------------------------------------
  std::vector<int> call_layer(const Json& entry, const std::string& cls, const std::string& name, const Scope& scope,
                              const std::string& archive_path, const Call& call, const std::vector<int>& args,
                              int call_index) {
    bool top = scope.names.empty();
    std::vector<int> outs;
    if (is_model_class(cls)) {
      if (static_cast<int64_t>(scope.names.size()) >= limits_.max_model_depth)
        throw Error(call.where + ": models nest more than " + std::to_string(limits_.max_model_depth) +
                    " deep (LoadLimits::max_model_depth, --max-depth)");
      Scope inner{scope.names, archive_path, call_index};
      inner.names.push_back(name);
      size_t params_before = created_params_;
      outs = build_model(cls, field(entry, "config"), inner, args, nullptr);
      if (top && call_index == 0) add_row(name, cls, outs, created_params_ - params_before);
    } else {
      std::vector<ir::TensorType> in_types;
      for (int v : args) in_types.push_back(graph_.values[v].type);
      const ParsedLayer& layer = parsed_layer(entry, cls, name, scope, archive_path, in_types);
      // Every layer takes a tensor; a call without one (a corrupt node) must not reach the parsers,
      // which read their first input. keras.ops nodes check their own arguments.
      if (args.empty() && !is_op_node(entry) && cls != "TFOpLambda")
        throw Error(call.where + ": the layer is called without any input tensor");
      GraphSink sink(graph_, call.where, scope.qualified(name));
      Call masked_call = call;
      std::vector<int> inputs = args;
      std::vector<int> in_masks;
      if (scope.implicit_masks) {
        for (int v : args) in_masks.push_back(mask_of_.count(v) ? mask_of_[v] : -1);
        attach_implicit_masks(cls, in_masks, masked_call, inputs);
      }
      if (layer.typed) {
        outs = layer.typed->call(sink, masked_call, inputs);
      } else {
        std::shared_ptr<const Op> bound = layer.op->bind(masked_call);
        outs = sink.add(ir::OpKind::kCustom, ir::CustomAttrs{bound, cls}, {}, inputs);
      }
      // A small config can call a nested model many times over, each call inlined: bound the graph.
      if (static_cast<int64_t>(graph_.nodes.size()) > limits_.max_graph_nodes)
        throw Error(file_ + ": the graph grows past " + std::to_string(limits_.max_graph_nodes) +
                    " nodes (LoadLimits::max_graph_nodes, --max-nodes)");
      if (scope.implicit_masks) {
        std::vector<int> out_masks = implicit_output_masks(sink, cls, field(entry, "config"), args, in_masks, outs);
        for (size_t i = 0; i < outs.size(); ++i)
          if (out_masks[i] >= 0) mask_of_[outs[i]] = out_masks[i];
      }
      if (top && call_index == 0) add_row(name, cls, outs, layer.params);
    }
    // Names predict() accepts for this call's outputs (inside a nested model, its first call only).
    if (scope.call > 0) return outs;
    std::string base = scope.qualified(name) + (call_index > 0 ? "@" + std::to_string(call_index) : "");
    output_count_[base] = outs.size();
    if (outs.size() == 1) graph_.named_values.emplace_back(base, outs[0]);
    for (size_t i = 0; i < outs.size(); ++i) graph_.named_values.emplace_back(base + ":" + std::to_string(i), outs[i]);
    return outs;
  }

  void add_row(const std::string& name, const std::string& cls, const std::vector<int>& outs, int64_t params) {
    graph_.rows.push_back({name, cls, outs, params});
  }

  // A layer parsed once, shared by its calls: typed when format/keras has a parser for its class
  // (and no register_layer() call replaced it), else the kerasrt::Op its factory makes.
  struct ParsedLayer {
    std::shared_ptr<const TypedLayer> typed;
    std::shared_ptr<const Op> op;
    int64_t params = 0;
  };

  const ParsedLayer& parsed_layer(const Json& entry, const std::string& cls, const std::string& name,
                                  const Scope& scope, const std::string& archive_path,
                                  std::span<const ir::TensorType> in_types) {
    std::string key = scope.qualified(name);
    if (auto it = parsed_.find(key); it != parsed_.end()) return it->second;
    LayerLocation loc{scope.names, archive_path, cls};
    loc.names.push_back(name);
    std::string where = file_ + ", layer '" + key + "' (" + cls + ")";
    std::vector<Weights::Entry> stored;
    if (!is_op_node(entry)) stored = weights_.weights_for(loc);
    if (!stored.empty()) adapt_legacy_weights(entry, stored, weights_.writer(), where);
    // No weights at all (an architecture alone): zeros of the stored shapes, for the summary only.
    if (stored.empty() && !is_op_node(entry) && weights_.architecture_only())
      if (auto zeros = architecture_weights(entry, in_types, where); zeros && !zeros->empty()) {
        stored = std::move(*zeros);
        graph_.missing_weights = file_ + ": " + weights_.absence();
      }
    bool had_weights = !stored.empty();
    Weights w(std::move(stored), where);
    ParsedLayer layer;
    try {
      LayerKey lookup = layer_key(entry);
      TypedParser parser = user_registered(lookup) ? nullptr : typed_parser(lookup.key);
      if (parser) layer.typed = parser(layer_spec(entry, w, file_, saved_by_));
      if (layer.typed) {
        layer.params = layer.typed->param_count();
      } else {
        std::shared_ptr<Op> op = make_layer(entry, w, file_, saved_by_);
        layer.params = op->param_count();
        layer.op = std::move(op);
      }
    } catch (const Error& e) {
      // A missing array is more likely a missing weights file than a broken one.
      std::string msg = e.what();
      if (w.taken_values() == 0 && w.remaining() == 0 && !weights_.absence().empty() &&
          msg.find("weight") != std::string::npos)
        throw Error(msg + " (" + weights_.absence() + ")");
      bool about_weights = had_weights || msg.find("weight") != std::string::npos;
      if (about_weights && weights_.file() != file_ && msg.find(weights_.file()) == std::string::npos)
        throw Error(msg + " (weights from " + weights_.file() + ")");
      throw;
    }
    if (w.remaining() > 0)
      throw Error(where + ": " + weights_.file() + " holds " + std::to_string(w.remaining()) +
                  " more weight arrays than the layer uses (next: '" + w.peek()->name + "')");
    created_params_ += layer.params;
    return parsed_.emplace(key, std::move(layer)).first->second;
  }

  // ---- outputs ----------------------------------------------------------------------------------
  void name_outputs(const std::string& cls, const Json& cfg, const std::vector<int>& outs, const std::vector<Ref>& refs) {
    // Layers whose outputs come from more than one of their calls: each call's output is keyed as
    // predict() knows that call (name, name@1, ...), whatever order the outputs are listed in.
    std::map<std::string, std::set<int>> calls_of;
    if (cls != "Sequential")
      for (const Ref& r : refs) calls_of[r.layer].insert(r.node);
    std::set<std::string> used;
    for (size_t i = 0; i < outs.size(); ++i) {
      std::string base, call_name;
      int tensor = static_cast<int>(i);
      if (cls == "Sequential") {
        const Json& layers = sequential_layers(cls, cfg);
        base = call_name = entry_name(layers.back());
      } else {
        // Keras names an output after its layer whichever call produced it.
        const Ref& r = refs[i];
        base = r.layer;
        call_name = r.layer + (r.node > 0 ? "@" + std::to_string(r.node) : "");
        tensor = r.tensor;
      }
      const std::string part = output_count_[call_name] > 1 ? ":" + std::to_string(tensor) : "";
      std::string key = (calls_of[base].size() > 1 ? call_name : base) + part;
      if (!used.insert(key).second) key += "#" + std::to_string(i);  // the same tensor listed again
      graph_.outputs.push_back({key, graph_.values[outs[i]].type.shape, graph_.values[outs[i]].type.dtype});
      graph_.output_values.push_back(outs[i]);
    }
  }

  // Keras 3 writes inbound nodes as {"args", "kwargs"} objects, earlier versions as lists.
  static bool uses_keras3_nodes(const Json& model_json) {
    for (const Json& e : field(field(model_json, "config"), "layers")) {
      const Json& nodes = field(e, "inbound_nodes");
      if (nodes.is_array())
        for (const Json& n : nodes)
          if (n.is_object()) return true;
      if (is_model_class(string_field(e, "class_name")) && uses_keras3_nodes(e)) return true;
    }
    return false;
  }

  const WeightSource& weights_;
  std::string file_;
  SavedBy saved_by_;
  KerasSemantics semantics_;
  bool keras3_ = false;
  ir::Graph graph_;
  std::map<std::string, ParsedLayer> parsed_;
  std::map<std::string, size_t> output_count_;
  std::map<int, int> mask_of_;  // a value's implicit mask value (Scope::implicit_masks)
  int64_t created_params_ = 0;
  LoadLimits limits_;
};

}  // namespace

ir::Graph build_graph(Json model_json, const WeightSource& weights, const std::string& file,
                      const SavedBy& saved_by, const LoadLimits& limits) {
  Json current = keras3_dialect(std::move(model_json), file);
  return Builder(weights, file, saved_by, limits).build(current);
}

}  // namespace kerasrt::format
