// Zip archives through libzip: the .keras container and .npz arrays.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/byte_buffer.hpp"

namespace kerasrt::io {


// What reading an archive may expand to (LoadLimits in kerasrt.hpp documents the defaults).
struct ZipLimits {
  uint64_t max_total_bytes = uint64_t{16} << 30;  // all entries read, together
  double max_ratio = 100;                          // decompressed / compressed, entries over ratio_floor
  uint64_t ratio_floor = uint64_t{1} << 20;
};

class ZipReader {
 public:
  // `bytes` is copied; `name` is used in error messages.
  static ZipReader from_memory(std::span<const uint8_t> bytes, const std::string& name, const ZipLimits& limits = {});
  static ZipReader from_file(const std::string& path, const ZipLimits& limits = {});
  // Shares the bytes (no copy).
  static ZipReader from_shared(std::shared_ptr<const ByteBuffer> bytes, const std::string& name,
                               const ZipLimits& limits = {});
  ~ZipReader();
  ZipReader(ZipReader&&) noexcept;
  ZipReader& operator=(ZipReader&&) noexcept;

  std::vector<std::string> entries() const;
  bool has(const std::string& entry) const;
  // Reads one entry whole; refuses an entry whose declared size exceeds `max_bytes`, whose
  // compression ratio or whose addition to what was read exceeds the limits, before allocating.
  std::vector<uint8_t> read(const std::string& entry, uint64_t max_bytes) const;
  // The same, without a copy for a stored (uncompressed) entry: its bytes in the archive, after the
  // same checks and its CRC-32; a compressed entry is inflated into a buffer of its own.
  SharedBytes read_shared(const std::string& entry, uint64_t max_bytes) const;
  const std::string& name() const { return name_; }

 private:
  ZipReader() = default;
  static ZipReader from_bytes(std::shared_ptr<const ByteBuffer> bytes, const std::string& name, const ZipLimits& limits);
  struct Stat;
  Stat checked_stat(const std::string& entry, uint64_t max_bytes) const;
  std::span<const uint8_t> stored_bytes(const std::string& entry, const Stat& st) const;
  struct State;
  std::unique_ptr<State> state_;
  std::string name_;
};

// Writes an uncompressed archive (what numpy's savez writes).
void write_zip(const std::string& path,
               const std::vector<std::pair<std::string, std::vector<uint8_t>>>& entries);

}  // namespace kerasrt::io
