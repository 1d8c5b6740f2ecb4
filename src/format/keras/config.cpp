#include "format/keras/config.hpp"

#include <cctype>
#include <cmath>

namespace kerasrt::format {

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

}  // namespace kerasrt::format
