// The snapshot of an HDF5 file that H5File works on: the tree of groups, string attributes and
// numeric datasets (as float32), as one byte stream. The in-process reader (hdf5_reader.cpp) writes
// it; the tests write it with the HDF5 C library too and compare the two byte for byte.
//
// Stream: magic, then 'X' + message (the file could not be read) or a node, then 'E'.
// node: kind; u32 #attrs, each name + ('S' u32 #strings, strings | 'N' problem);
//   group: u32 #children, each name + node; dataset: problem, u32 rank, u64 dims, u64 n, n floats
//   (or, when the stream is not to carry values: u64 n|kSnapshotInPlace, u64 offset of n little-endian
//   float32 in the image); other: note. Strings are u64 length + bytes; children and attributes in name (byte) order.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kerasrt::io {

namespace h5limits {
constexpr int64_t kMaxElements = int64_t{1} << 30;  // one dataset, float32 elements
constexpr int kMaxDepth = 64;                       // group nesting
constexpr int64_t kMaxObjects = int64_t{1} << 20;   // per file
constexpr size_t kMaxAttrs = 1 << 16;               // per object
constexpr size_t kMaxNameBytes = 1 << 16;
constexpr uint64_t kMaxAttrBytes = uint64_t{1} << 28;  // one attribute's strings, all together
constexpr int64_t kMaxAttrStrings = int64_t{1} << 24;  // one attribute's elements
}  // namespace h5limits

constexpr uint64_t kSnapshotInPlace = uint64_t{1} << 63;
constexpr char kSnapshotMagic[8] = {'K', 'R', 'H', '5', 'S', 'N', 'P', '1'};

class SnapshotSink {
 public:
  void write(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
  }
  void u8(uint8_t v) { write(&v, 1); }
  void u32(uint32_t v) { write(&v, 4); }
  void u64(uint64_t v) { write(&v, 8); }
  void str(std::string_view s) {
    u64(s.size());
    write(s.data(), s.size());
  }
  std::vector<uint8_t> bytes;
};

// What a link name must be to be listed (others only appear in corrupt files).
inline bool usable_link_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.size() <= h5limits::kMaxNameBytes;
}

// Writes the snapshot of an HDF5 file image, reading it in this process with every offset, length
// and count checked against the image and the limits above. Never throws for a bad file: the
// stream then carries 'X' and why. Without `values_inline`, contiguous float32 datasets are recorded
// by their place in the image (no copy; the image must outlive the snapshot's use).
std::vector<uint8_t> hdf5_snapshot(std::span<const uint8_t> image, bool values_inline = true);

}  // namespace kerasrt::io
