// Owned bytes for large reads (a whole model file, a weights entry): not zero-filled, and on
// transparent huge pages when large. On this machine kind a process faults in a fresh 4 KiB page
// in ~10 µs (a 34 MB buffer: ~90 ms, more than everything else a load does); a 2 MiB page costs about
// what 4 KiB does, so a model file read into huge pages costs a few milliseconds.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace kerasrt::io {

class ByteBuffer {
 public:
  explicit ByteBuffer(size_t size);  // uninitialised
  ~ByteBuffer();
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Bytes and what keeps them alive: a view into a larger buffer, or a buffer of their own.
struct SharedBytes {
  std::shared_ptr<const void> owner;
  std::span<const uint8_t> bytes;
};

// Allocates `size` bytes, 64-byte aligned, and aligned and advised for huge pages when that is
// worth it; throws
// std::bad_alloc when it cannot.
void* allocate_large(size_t size);
void free_large(void* p);

// A whole file, refused above `max_bytes` before anything is allocated.
std::shared_ptr<const ByteBuffer> read_file_buffer(const std::string& path, uint64_t max_bytes);

}  // namespace kerasrt::io
