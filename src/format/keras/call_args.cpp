// Placeholders and the tensor roles of a call (call_args.hpp).
#include "format/keras/call_args.hpp"

#include <algorithm>

namespace kerasrt::format {

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

std::map<std::string, const Json*> named_call_args(const Call& call, const std::vector<std::string>& names,
                                                   const std::string& cls) {
  std::map<std::string, const Json*> args;
  if (call.args.is_array()) {
    if (call.args.size() > names.size())
      throw Error(call.where + ": " + cls + " takes at most " + std::to_string(names.size()) +
                  " positional arguments, the call passes " + std::to_string(call.args.size()));
    for (size_t i = 0; i < call.args.size(); ++i) args[names[i]] = &call.args[i];
  }
  for (auto it = call.kwargs.begin(); it != call.kwargs.end(); ++it) {
    if (std::find(names.begin(), names.end(), it.key()) == names.end())
      throw Error(call.where + ": " + cls + " has no call argument '" + it.key() + "'");
    if (args.count(it.key())) throw Error(call.where + ": argument '" + it.key() + "' is given twice");
    args[it.key()] = &it.value();
  }
  return args;
}

int tensor_arg(const Json* j, const Call& call, const std::string& name) {
  if (!j || j->is_null()) return -1;
  if (std::optional<int> i = placeholder_index(*j); i && *i >= 0 && static_cast<size_t>(*i) < call.roles.size())
    return *i;
  throw Error(call.where + ": argument '" + name + "' should be a tensor, got " + j->dump().substr(0, 200));
}

bool bool_arg(const Json* j, const Call& call, const std::string& name) {
  if (!j || j->is_null()) return false;
  if (j->is_boolean()) return j->get<bool>();
  throw Error(call.where + ": argument '" + name + "' should be true or false, got " + j->dump().substr(0, 200));
}

}  // namespace kerasrt::format
