#include "api/tensor_arena.hpp"

#include <algorithm>
#include <new>

#include "io/byte_buffer.hpp"

namespace kerasrt::detail {
namespace {

// Blocks double (each as large as all before it), from 64 KiB for a small model to 64 MiB; those of
// 2 MiB and more are huge pages.
constexpr size_t kFirstBlock = size_t{64} << 10;
constexpr size_t kLargestBlock = size_t{64} << 20;
constexpr size_t kAlign = 64;

thread_local std::shared_ptr<TensorArena> current_arena;

}  // namespace

TensorArena::~TensorArena() {
  for (void* b : blocks_) io::free_large(b);
}

void* TensorArena::allocate(size_t bytes) {
  if (bytes > SIZE_MAX - kAlign) throw std::bad_alloc();
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;
  std::lock_guard<std::mutex> lock(mutex_);
  if (bytes > left_) {
    // The rest of the current block is left unused: tensors are made in order and rarely small
    // after a large one, so little is lost.
    const size_t size = std::max(bytes, std::clamp(reserved_, kFirstBlock, kLargestBlock));
    void* block = io::allocate_large(size);
    blocks_.push_back(block);
    reserved_ += size;
    next_ = static_cast<uint8_t*>(block);
    left_ = size;
  }
  void* p = next_;
  next_ += bytes;
  left_ -= bytes;
  return p;
}

size_t TensorArena::reserved() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reserved_;
}

ScopedTensorArena::ScopedTensorArena() : previous_(std::move(current_arena)) {
  current_arena = std::make_shared<TensorArena>();
}

ScopedTensorArena::~ScopedTensorArena() { current_arena = std::move(previous_); }

std::shared_ptr<TensorArena> current_tensor_arena() { return current_arena; }

void* tensor_storage_allocate(TensorArena* arena, size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) throw std::bad_alloc();
  if (arena) return arena->allocate(n * size);
  return ::operator new(n * size);
}

void tensor_storage_free(TensorArena* arena, void* p) noexcept {
  if (!arena) ::operator delete(p);
}

}  // namespace kerasrt::detail
