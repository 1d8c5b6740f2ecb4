// The arena that holds the tensors made while a model loads (its weights, mostly): blocks of huge
// pages handed out front to back and freed together when the last tensor in them goes. A load
// makes one current on its thread with ScopedTensorArena; Tensor's allocator finds it there.
#pragma once

#include <kerasrt/kerasrt.hpp>

#include <memory>
#include <mutex>
#include <vector>

namespace kerasrt::detail {

class TensorArena {
 public:
  TensorArena() = default;
  ~TensorArena();
  TensorArena(const TensorArena&) = delete;
  TensorArena& operator=(const TensorArena&) = delete;

  void* allocate(size_t bytes);  // 64-byte aligned; freed with the arena
  size_t reserved() const;       // bytes in blocks

 private:
  mutable std::mutex mutex_;  // a tensor copied into on another thread may allocate here later
  std::vector<void*> blocks_;
  size_t reserved_ = 0;
  uint8_t* next_ = nullptr;
  size_t left_ = 0;
};

// Makes a fresh arena current on this thread for its lifetime (and the previous one after).
class ScopedTensorArena {
 public:
  ScopedTensorArena();
  ~ScopedTensorArena();
  ScopedTensorArena(const ScopedTensorArena&) = delete;
  ScopedTensorArena& operator=(const ScopedTensorArena&) = delete;

 private:
  std::shared_ptr<TensorArena> previous_;
};

}  // namespace kerasrt::detail
