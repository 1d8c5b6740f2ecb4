// NumPy .npy / .npz arrays: inputs for the CLI and tests, outputs written back.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <kerasrt/kerasrt.hpp>

namespace kerasrt::io {

struct NpyArray {
  Tensor tensor;      // float arrays as float32, integers as int32/int64, bytes as uint8, bools as bool
  std::string dtype;  // numpy descr as stored, e.g. "<f4", "<i4", "|b1"
};

// Called with an array's shape and dtype once its header is read, before anything is decoded or
// allocated: throws to refuse an array the caller cannot use.
using NpyCheck = std::function<void(const Shape& shape, const std::string& dtype)>;

// Parses one .npy file. Supports little-endian bool, int8..int64, uint8..uint64, float16/32/64,
// C order. `name` is used in errors.
NpyArray parse_npy(std::span<const uint8_t> bytes, const std::string& name, const NpyCheck& check = {});
std::vector<uint8_t> encode_npy(const Tensor& t);  // its own dtype, C order

// Reads all arrays of an .npz (keys without the ".npy" suffix), in archive order.
std::vector<std::pair<std::string, NpyArray>> read_npz(const std::string& path);
// The same, with each array's header shown to `check(key, shape, dtype)` before it is decoded.
std::vector<std::pair<std::string, NpyArray>> read_npz(
    const std::string& path, const std::function<void(const std::string&, const Shape&, const std::string&)>& check);
std::vector<std::pair<std::string, NpyArray>> read_npz(std::span<const uint8_t> bytes, const std::string& name);
NpyArray read_npy(const std::string& path, const NpyCheck& check = {});
void write_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays);

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes);

}  // namespace kerasrt::io
