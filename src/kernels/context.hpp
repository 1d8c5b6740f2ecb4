// What every kernel receives besides its node and tensors: the intra-op thread pool and scratch
// memory carved from the plan's arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "kernels/function_ref.hpp"

namespace kerasrt::kernels {

// A fixed set of worker threads that split a range of independent tasks. parallel_for blocks until
// every task has run; the calling thread works too. With one thread it runs inline.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // Calls fn(begin, end) over disjoint chunks covering [0, n); chunks are at least `grain` long.
  void parallel_for(int64_t n, int64_t grain, FunctionRef<void(int64_t, int64_t)> fn);

  // The number of physical cores (hyper-threads of one core count once); at least 1.
  static int physical_cores();

 private:
  struct State;
  int threads_;
  std::unique_ptr<State> state_;
};

struct ExecContext {
  ThreadPool* pool = nullptr;      // never null while a plan runs
  std::span<std::byte> scratch;    // this node's scratch, sized by its kernel's scratch_bytes()

  // Runs fn over [0, n) on the pool, inline when there is no pool or one thread.
  void parallel_for(int64_t n, int64_t grain, FunctionRef<void(int64_t, int64_t)> fn) const {
    if (pool) pool->parallel_for(n, grain, fn);
    else if (n > 0) fn(0, n);
  }
  int threads() const { return pool ? pool->threads() : 1; }
};

}  // namespace kerasrt::kernels
