#include "io/npy.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>

#include "io/zip.hpp"

namespace kerasrt::io {
namespace {

constexpr uint64_t kMaxArrayBytes = uint64_t{4} << 30;

// Pulls `'key': value` out of the header dict literal numpy writes.
std::string header_field(const std::string& header, const std::string& key, const std::string& name) {
  auto pos = header.find("'" + key + "'");
  if (pos == std::string::npos) throw Error(name + ": .npy header has no '" + key + "'");
  pos = header.find(':', pos);
  if (pos == std::string::npos) throw Error(name + ": bad .npy header");
  ++pos;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  if (pos >= header.size()) throw Error(name + ": bad .npy header");
  char open = header[pos];
  char close = open == '(' ? ')' : open == '\'' ? '\'' : ',';
  auto end = header.find(close, pos + 1);
  if (end == std::string::npos) throw Error(name + ": bad .npy header");
  if (open == '(' || open == '\'') return header.substr(pos + 1, end - pos - 1);
  return header.substr(pos, end - pos);
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31) v = mant ? NAN : INFINITY;
  else v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

template <typename T, typename To>
void convert(const uint8_t* src, int64_t n, To* dst) {
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<To>(v);
  }
}

}  // namespace

NpyArray parse_npy(std::span<const uint8_t> bytes, const std::string& name, const NpyCheck& check) {
  static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || std::memcmp(bytes.data(), magic, 6) != 0)
    throw Error(name + ": not a .npy array (bad magic)");
  uint8_t major = bytes[6];
  size_t header_len, offset;
  if (major == 1) {
    header_len = bytes[8] | (bytes[9] << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error(name + ": truncated .npy header");
    header_len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (size_t{bytes[11]} << 24);
    offset = 12;
  } else {
    throw Error(name + ": unsupported .npy version " + std::to_string(major));
  }
  if (offset + header_len > bytes.size()) throw Error(name + ": truncated .npy header");
  std::string header(reinterpret_cast<const char*>(bytes.data() + offset), header_len);
  NpyArray out;
  out.dtype = header_field(header, "descr", name);
  if (header_field(header, "fortran_order", name).find("True") != std::string::npos)
    throw Error(name + ": Fortran-order arrays are not supported");
  std::string shape_str = header_field(header, "shape", name);
  Shape shape;
  int64_t count = 1;
  for (size_t i = 0; i < shape_str.size();) {
    if (std::isdigit(static_cast<unsigned char>(shape_str[i]))) {
      size_t j = i;
      int64_t v = 0;
      while (j < shape_str.size() && std::isdigit(static_cast<unsigned char>(shape_str[j]))) {
        if (v > (int64_t{1} << 40)) throw Error(name + ": implausible .npy shape");
        v = v * 10 + (shape_str[j] - '0');
        ++j;
      }
      shape.push_back(v);
      if (v != 0 && count > static_cast<int64_t>(kMaxArrayBytes) / v) throw Error(name + ": .npy array too large");
      count *= v;
      i = j;
    } else {
      ++i;
    }
  }
  const std::string& d = out.dtype;
  if (d.size() < 3) throw Error(name + ": unsupported dtype '" + d + "'");
  char order = d[0], kind = d[1];
  int width = std::atoi(d.c_str() + 2);
  if (order == '>' && width > 1) throw Error(name + ": big-endian arrays are not supported ('" + d + "')");
  if (width <= 0 || width > 8) throw Error(name + ": unsupported dtype '" + d + "'");
  if (check) check(shape, d);
  size_t data_bytes = static_cast<size_t>(count) * static_cast<size_t>(width);
  const uint8_t* src = bytes.data() + offset + header_len;
  if (offset + header_len + data_bytes > bytes.size())
    throw Error(name + ": truncated .npy data (" + std::to_string(bytes.size() - offset - header_len) +
                " bytes for " + std::to_string(data_bytes) + ")");
  // Each array keeps its kind: floats become float32 (what kerasrt computes in), integers the
  // narrowest of int32/int64 that holds every value of their type, bytes and bools stay bytes.
  if (kind == 'f' && (width == 2 || width == 4 || width == 8)) {
    out.tensor = Tensor(shape, DType::kFloat32);
    float* dst = out.tensor.floats().data();
    if (width == 4) convert<float>(src, count, dst);
    else if (width == 8) convert<double>(src, count, dst);
    else
      for (int64_t i = 0; i < count; ++i) dst[i] = half_to_float(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
  } else if ((kind == 'i' && width <= 4) || (kind == 'u' && width == 2)) {
    out.tensor = Tensor(shape, DType::kInt32);
    int32_t* dst = out.tensor.values<int32_t>().data();
    if (kind == 'u') convert<uint16_t>(src, count, dst);
    else if (width == 1) convert<int8_t>(src, count, dst);
    else if (width == 2) convert<int16_t>(src, count, dst);
    else if (width == 4) convert<int32_t>(src, count, dst);
    else throw Error(name + ": unsupported dtype '" + d + "'");
  } else if ((kind == 'i' && width == 8) || (kind == 'u' && (width == 4 || width == 8))) {
    out.tensor = Tensor(shape, DType::kInt64);
    int64_t* dst = out.tensor.values<int64_t>().data();
    if (kind == 'i') convert<int64_t>(src, count, dst);
    else if (width == 4) convert<uint32_t>(src, count, dst);
    else convert<uint64_t>(src, count, dst);
  } else if ((kind == 'u' || kind == 'b') && width == 1) {
    out.tensor = Tensor(shape, kind == 'b' ? DType::kBool : DType::kUInt8);
    uint8_t* dst = out.tensor.values<uint8_t>().data();
    if (kind == 'b')
      for (int64_t i = 0; i < count; ++i) dst[i] = src[i] != 0;
    else
      std::memcpy(dst, src, static_cast<size_t>(count));
  } else {
    throw Error(name + ": unsupported dtype '" + d + "'");
  }
  return out;
}

std::vector<uint8_t> encode_npy(const Tensor& t) {
  const char* descr = "<f4";
  switch (t.dtype) {
    case DType::kFloat32: descr = "<f4"; break;
    case DType::kInt32: descr = "<i4"; break;
    case DType::kInt64: descr = "<i8"; break;
    case DType::kUInt8: descr = "|u1"; break;
    case DType::kBool: descr = "|b1"; break;
  }
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.shape.size(); ++i) {
    header += std::to_string(t.shape[i]);
    if (t.shape.size() == 1 || i + 1 < t.shape.size()) header += ",";
    if (i + 1 < t.shape.size()) header += " ";
  }
  header += "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                              static_cast<uint8_t>(header.size() & 0xff), static_cast<uint8_t>(header.size() >> 8)};
  out.insert(out.end(), header.begin(), header.end());
  static_assert(std::endian::native == std::endian::little);
  const auto* p = static_cast<const uint8_t*>(t.raw());
  out.insert(out.end(), p, p + t.nbytes());
  return out;
}

namespace {
using NpzCheck = std::function<void(const std::string&, const Shape&, const std::string&)>;

std::vector<std::pair<std::string, NpyArray>> read_npz_archive(const ZipReader& zip, const NpzCheck& check = {}) {
  std::vector<std::pair<std::string, NpyArray>> out;
  for (const std::string& entry : zip.entries()) {
    std::string key = entry;
    if (key.size() > 4 && key.ends_with(".npy")) key.resize(key.size() - 4);
    // A stored array is parsed where it lies in the archive: nothing is allocated before its header is checked.
    SharedBytes bytes = zip.read_shared(entry, kMaxArrayBytes);
    NpyCheck header_check;
    if (check) header_check = [&](const Shape& shape, const std::string& dtype) { check(key, shape, dtype); };
    out.emplace_back(key, parse_npy(bytes.bytes, zip.name() + ":" + entry, header_check));
  }
  return out;
}
}  // namespace

std::vector<std::pair<std::string, NpyArray>> read_npz(const std::string& path) {
  return read_npz_archive(ZipReader::from_file(path));
}

std::vector<std::pair<std::string, NpyArray>> read_npz(const std::string& path, const NpzCheck& check) {
  return read_npz_archive(ZipReader::from_file(path), check);
}

std::vector<std::pair<std::string, NpyArray>> read_npz(std::span<const uint8_t> bytes, const std::string& name) {
  return read_npz_archive(ZipReader::from_memory(bytes, name));
}

NpyArray read_npy(const std::string& path, const NpyCheck& check) {
  return parse_npy(read_file(path, kMaxArrayBytes), path, check);
}

void write_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> entries;
  for (const auto& [key, t] : arrays) entries.emplace_back(key + ".npy", encode_npy(t));
  write_zip(path, entries);
}

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw Error(path + ": cannot open file");
  auto size = f.tellg();
  if (size < 0) throw Error(path + ": cannot read file (is it a directory?)");
  if (static_cast<uint64_t>(size) > max_bytes) throw Error(path + ": file too large");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  f.seekg(0);
  if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size)) throw Error(path + ": cannot read file");
  return bytes;
}

}  // namespace kerasrt::io
