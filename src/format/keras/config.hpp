// Typed reads of a Keras layer config and the small Keras conventions the parsers share (axes,
// unknown dimensions, class-name to weight-path naming). Errors name the layer and the key.
#pragma once

#include <kerasrt/op.hpp>

#include <string>
#include <vector>

namespace kerasrt::format {

// Typed reads of a layer's config, with errors that name the layer and the key.
class Config {
 public:
  explicit Config(const LayerSpec& spec) : spec_(spec), j_(spec.config) {}
  Config(const LayerSpec& spec, const Json& j) : spec_(spec), j_(j) {}

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const Json& raw(const char* key) const;
  int64_t integer(const char* key) const;
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }
  double number(const char* key) const;
  double number(const char* key, double fallback) const { return has(key) ? number(key) : fallback; }
  bool flag(const char* key, bool fallback) const;
  std::string str(const char* key, const std::string& fallback) const;
  // An int or a list of ints; a single int is repeated `n` times (Keras's standardize_tuple).
  std::vector<int64_t> ints(const char* key, size_t n) const;
  std::vector<int64_t> ints(const char* key, size_t n, int64_t fallback) const {
    return has(key) ? ints(key, n) : std::vector<int64_t>(n, fallback);
  }
  std::vector<int64_t> int_list(const char* key) const;  // any length
  // "channels_last" / "channels_first"; Keras 2's "dim_ordering" "tf"/"th" is accepted too.
  bool channels_first() const;
  [[noreturn]] void fail(const std::string& what) const { spec_.fail(what); }
  const LayerSpec& spec() const { return spec_; }

 private:
  const LayerSpec& spec_;
  const Json& j_;
};

// Axis in [-rank, rank) to [0, rank).
int normalize_axis(int64_t axis, size_t rank, const std::string& where);

// Two dimensions that may be the same (-1 means unknown): equal, or either unknown.
inline bool dims_agree(int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; }

// Keras's naming.to_snake_case for class names, as Keras 3 derives weight paths from them
// ("Conv2D" -> "conv2d", "SimpleRNNCell" -> "simple_rnn_cell").
std::string snake_case(const std::string& class_name);

}  // namespace kerasrt::format
