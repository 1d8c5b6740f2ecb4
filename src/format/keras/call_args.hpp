// A keras.ops call as Keras 3 stores it in a functional config: its arguments by position or
// keyword, each one of the call's tensors (a placeholder) or a constant (number, bool, nested list).
#pragma once

#include <map>

#include <kerasrt/op.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace kerasrt::format {

// A call's args/kwargs hold {"__tensor__": i} where the call passes its i-th tensor.
Json tensor_placeholder(int index);
// The tensor index if `arg` is such a placeholder (exactly that one key), else nullopt.
std::optional<int> placeholder_index(const Json& arg);
// Appends the indices of the placeholders inside `arg` (nested lists and dicts too), in order.
void collect_tensors(const Json& arg, std::vector<int>& out);

// `j` with each part that `swap` replaces (swap returns nullopt to keep a part and look inside it:
// list elements and dict values, depth first, in order).
template <class Swap>
Json replace_parts(const Json& j, Swap&& swap) {
  if (std::optional<Json> r = swap(j)) return *r;
  if (j.is_array()) {
    Json out = Json::array();
    for (const Json& e : j) out.push_back(replace_parts(e, swap));
    return out;
  }
  if (j.is_object()) {
    Json out = Json::object();
    for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = replace_parts(it.value(), swap);
    return out;
  }
  return j;
}
// Whether the call asks for training behaviour with training=True (keyword, or the second positional
// argument as in Keras's call(inputs, training)).
bool call_wants_training(const Call& call);

// A call's positional and keyword arguments by parameter name (`names`: the layer's call signature in
// order). Errors name the call: more positionals than parameters, an unknown keyword, one given twice.
std::map<std::string, const Json*> named_call_args(const Call& call, const std::vector<std::string>& names,
                                                   const std::string& cls);
// One of those arguments as a tensor (its index among the call's tensors; -1 when absent or null) or
// as a flag (false when absent or null); anything else is an error naming the call and argument.
int tensor_arg(const Json* j, const Call& call, const std::string& name);
bool bool_arg(const Json* j, const Call& call, const std::string& name);

// The tensors of a recurrent layer's call (RNN, LSTM, ..., Bidirectional): the sequence comes first
// (positionally); initial states by keyword, as the second positional argument, or (Keras 2) after the
// sequence in one positional list; the mask by keyword or third. A call without args/kwargs goes by
// its roles. Refuses indices outside the call's tensors; errors name `layer`.
struct RecurrentCallTensors {
  int sequence = -1;
  std::vector<int> states;
  int mask = -1;
};
RecurrentCallTensors recurrent_call_tensors(const Call& call, const std::string& layer);

// A call argument that is either one of the call's tensors or a constant (number, bool, nested list).
struct Operand {
  enum class Kind : uint8_t { kTensor, kBool, kInt, kFloat };
  int input = -1;  // index into the call's tensors; -1 for a constant
  Kind kind = Kind::kTensor;
  bool scalar = false;  // a bare Python number: an int one is weakly typed (takes the tensor's dtype)
  Shape shape;          // the constant's shape
  std::vector<double> values;
  std::vector<int64_t> ints;  // the values exactly, for bool and int constants
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
    Operand c;
    if (std::optional<int> t = placeholder_index(*j)) {
      c.input = use(*t);
      return c;
    }
    c.kind = Operand::Kind::kBool;
    if (!read_constant(*j, 0, c))
      fail(std::string("argument '") + name + "' should be a tensor or a number, got " + j->dump().substr(0, 200));
    c.scalar = c.shape.empty();
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
  // The kind is the widest seen: bool < int < float, as NumPy types a list.
  static bool read_constant(const Json& j, size_t depth, Operand& c) {
    Shape& shape = c.shape;
    using K = Operand::Kind;
    if (j.is_boolean() || j.is_number()) {
      if (depth != shape.size() || (!c.values.empty() && shape.empty())) return false;
      K k = j.is_boolean() ? K::kBool : j.is_number_float() ? K::kFloat : K::kInt;
      c.kind = std::max(c.kind, k);
      if (j.is_boolean()) c.ints.push_back(j.get<bool>() ? 1 : 0);
      else if (j.is_number_unsigned()) c.ints.push_back(static_cast<int64_t>(j.get<uint64_t>()));
      else if (j.is_number_integer()) c.ints.push_back(j.get<int64_t>());
      else c.ints.push_back(0);
      c.values.push_back(j.is_boolean() ? static_cast<double>(c.ints.back()) : j.get<double>());
      return true;
    }
    if (!j.is_array() || depth > 32) return false;
    if (depth == shape.size()) {
      if (!c.values.empty()) return false;  // a list where a sibling was a scalar
      shape.push_back(static_cast<int64_t>(j.size()));
    } else if (shape[depth] != static_cast<int64_t>(j.size())) {
      return false;
    }
    for (const Json& e : j)
      if (!read_constant(e, depth + 1, c)) return false;
    return true;
  }

  const Call& call_;
  Json args_ = Json::array();
  std::vector<int> used_;
};

}  // namespace kerasrt::format
