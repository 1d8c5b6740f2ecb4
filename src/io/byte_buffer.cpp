#include "io/byte_buffer.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <kerasrt/kerasrt.hpp>
#include <new>

namespace kerasrt::io {
namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

void* allocate_large(size_t size) {
  if (size < kHugePage) {
    void* p = nullptr;
    if (posix_memalign(&p, 64, size == 0 ? 1 : size) != 0) throw std::bad_alloc();
    return p;
  }
  void* p = nullptr;
  if (posix_memalign(&p, kHugePage, size) != 0) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // Advice only: where huge pages are off or unavailable the memory is ordinary pages.
  madvise(p, (size + kHugePage - 1) / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  return p;
}

void free_large(void* p) { std::free(p); }

ByteBuffer::ByteBuffer(size_t size) : data_(static_cast<uint8_t*>(allocate_large(size))), size_(size) {}
ByteBuffer::~ByteBuffer() { free_large(data_); }

std::shared_ptr<const ByteBuffer> read_file_buffer(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open file (" + std::strerror(errno) + ")");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0) throw Error(path + ": cannot read file (" + std::strerror(errno) + ")");
  if (S_ISDIR(st.st_mode)) throw Error(path + ": cannot read file (it is a directory)");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) throw Error(path + ": file too large (" + std::to_string(size >> 20) + " MiB)");
  auto buffer = std::make_shared<ByteBuffer>(static_cast<size_t>(size));
  size_t have = 0;
  while (have < size) {
    ssize_t got = ::read(fd, buffer->data() + have, static_cast<size_t>(size) - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(path + ": cannot read file (" + std::strerror(errno) + ")");
    if (got == 0) throw Error(path + ": the file shrank while it was read");
    have += static_cast<size_t>(got);
  }
  return buffer;
}

}  // namespace kerasrt::io
