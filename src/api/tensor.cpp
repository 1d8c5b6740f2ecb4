// Tensors and dtypes of the public API.
#include <kerasrt/kerasrt.hpp>

#include <cstring>
#include <limits>
#include <type_traits>

namespace kerasrt {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kUInt8: return "uint8";
    case DType::kBool: return "bool";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32:
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kUInt8:
    case DType::kBool: return 1;
  }
  return 1;
}

bool parse_dtype(const std::string& name, DType& out) {
  static const std::pair<const char*, DType> kNames[] = {
      {"float32", DType::kFloat32}, {"float16", DType::kFloat32}, {"bfloat16", DType::kFloat32},
      {"float64", DType::kFloat32}, {"half", DType::kFloat32},    {"float", DType::kFloat32},
      {"double", DType::kFloat32},  {"int32", DType::kInt32},     {"int16", DType::kInt32},
      {"int8", DType::kInt32},      {"uint16", DType::kInt32},    {"int64", DType::kInt64},
      {"uint32", DType::kInt64},    {"uint64", DType::kInt64},    {"int", DType::kInt64},
      {"uint8", DType::kUInt8},     {"bool", DType::kBool},
  };
  for (const auto& [n, t] : kNames)
    if (name == n) {
      out = t;
      return true;
    }
  return false;
}

int64_t element_count(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_to_string(std::span<const int64_t> shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += shape[i] < 0 ? "None" : std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

namespace {

size_t words_for(const Shape& shape, DType t) {
  for (int64_t d : shape)
    if (d < 0) throw Error("tensor shape " + shape_to_string(shape) + " has a negative dimension");
  return (static_cast<size_t>(element_count(shape)) * dtype_size(t) + 7) / 8;
}

template <class T>
void store(void* storage, const Shape& shape, const std::vector<T>& values) {
  if (static_cast<int64_t>(values.size()) != element_count(shape))
    throw Error("tensor of shape " + shape_to_string(shape) + " given " + std::to_string(values.size()) + " values");
  if (!values.empty()) std::memcpy(storage, values.data(), values.size() * sizeof(T));
}

template <class From, class To>
void convert(const void* src, void* dst, int64_t n) {
  const From* s = static_cast<const From*>(src);
  To* d = static_cast<To*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
      // Truncate toward zero; NaN and out-of-range values (undefined for a plain cast) saturate.
      float v = s[i];
      if (!(v == v)) d[i] = 0;
      else if (v <= static_cast<float>(std::numeric_limits<To>::min())) d[i] = std::numeric_limits<To>::min();
      else if (v >= static_cast<float>(std::numeric_limits<To>::max())) d[i] = std::numeric_limits<To>::max();
      else d[i] = static_cast<To>(v);
    } else {
      d[i] = static_cast<To>(s[i]);
    }
  }
}

template <class From>
void convert_from(const void* src, void* dst, int64_t n, DType to) {
  switch (to) {
    case DType::kFloat32: return convert<From, float>(src, dst, n);
    case DType::kInt32: return convert<From, int32_t>(src, dst, n);
    case DType::kInt64: return convert<From, int64_t>(src, dst, n);
    case DType::kUInt8: return convert<From, uint8_t>(src, dst, n);
    case DType::kBool: {
      const From* s = static_cast<const From*>(src);
      uint8_t* d = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = s[i] != From{0};
      return;
    }
  }
}

}  // namespace

Tensor::Tensor(Shape s, DType t) : shape(std::move(s)), dtype(t), storage_(words_for(shape, t), 0) {}

Tensor::Tensor(Shape s, std::vector<float> values) : Tensor(std::move(s), DType::kFloat32) { store(raw(), shape, values); }
Tensor Tensor::int32(Shape s, std::vector<int32_t> values) {
  Tensor t(std::move(s), DType::kInt32);
  store(t.raw(), t.shape, values);
  return t;
}
Tensor Tensor::int64(Shape s, std::vector<int64_t> values) {
  Tensor t(std::move(s), DType::kInt64);
  store(t.raw(), t.shape, values);
  return t;
}
Tensor Tensor::uint8(Shape s, std::vector<uint8_t> values) {
  Tensor t(std::move(s), DType::kUInt8);
  store(t.raw(), t.shape, values);
  return t;
}
Tensor Tensor::boolean(Shape s, std::vector<uint8_t> values) {
  for (uint8_t& v : values) v = v != 0;
  Tensor t(std::move(s), DType::kBool);
  store(t.raw(), t.shape, values);
  return t;
}

void Tensor::check(DType asked) const {
  bool ok = asked == dtype || (asked == DType::kUInt8 && dtype == DType::kBool);
  if (!ok) throw Error(std::string("a ") + dtype_name(dtype) + " tensor read as " + dtype_name(asked));
  if (storage_.size() * 8 < nbytes())
    throw Error("tensor shape " + shape_to_string(shape) + " does not match the values it holds");
}

Tensor Tensor::cast(DType to) const {
  check(dtype == DType::kBool ? DType::kUInt8 : dtype);
  Tensor out(shape, to);
  int64_t n = size();
  switch (dtype) {
    case DType::kFloat32: convert_from<float>(raw(), out.raw(), n, to); break;
    case DType::kInt32: convert_from<int32_t>(raw(), out.raw(), n, to); break;
    case DType::kInt64: convert_from<int64_t>(raw(), out.raw(), n, to); break;
    case DType::kUInt8:
    case DType::kBool: convert_from<uint8_t>(raw(), out.raw(), n, to); break;
  }
  return out;
}

std::vector<float> Tensor::to_floats() const {
  Tensor f = dtype == DType::kFloat32 ? *this : cast(DType::kFloat32);
  std::span<const float> v = f.floats();
  return {v.begin(), v.end()};
}

}  // namespace kerasrt
