// Zip archives through libzip: the .keras container and .npz arrays.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kerasrt::io {

class ZipReader {
 public:
  // `bytes` is copied; `name` is used in error messages.
  static ZipReader from_memory(std::span<const uint8_t> bytes, const std::string& name);
  static ZipReader from_file(const std::string& path);
  ~ZipReader();
  ZipReader(ZipReader&&) noexcept;
  ZipReader& operator=(ZipReader&&) noexcept;

  std::vector<std::string> entries() const;
  bool has(const std::string& entry) const;
  // Reads one entry whole; refuses entries whose declared size exceeds `max_bytes`.
  std::vector<uint8_t> read(const std::string& entry, uint64_t max_bytes) const;
  const std::string& name() const { return name_; }

 private:
  ZipReader() = default;
  static ZipReader from_bytes(std::vector<uint8_t> bytes, const std::string& name);
  struct State;
  std::unique_ptr<State> state_;
  std::string name_;
};

// Writes an uncompressed archive (what numpy's savez writes).
void write_zip(const std::string& path,
               const std::vector<std::pair<std::string, std::vector<uint8_t>>>& entries);

}  // namespace kerasrt::io
