#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kernels/context.hpp"

namespace kerasrt::kernels {

// One job at a time. A model runs thousands of short jobs per call (several per node), so waking a
// sleeping thread through the kernel for each would cost more than many jobs take: workers and the
// caller first spin for a while (about 50-100 us) on `generation` / `busy`, and only then sleep on
// the condition variables. Nothing here allocates after construction.
struct ThreadPool::State {
  static constexpr int kSpins = 1 << 12;  // PAUSE iterations before sleeping

  std::mutex mutex;
  std::mutex submit;  // serialises callers that share the pool
  std::condition_variable wake, done;
  std::vector<std::thread> workers;
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> stopping{false};

  // The current job; written before `generation` moves (release), read after it is seen (acquire).
  FunctionRef<void(int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0, chunk = 1;
  std::atomic<int64_t> next{0};
  std::atomic<int> busy{0};  // workers still inside the current job

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  void work_on_job() {
    for (;;) {
      int64_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n) return;
      (*fn)(begin, std::min(n, begin + chunk));
    }
  }

  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = generation.load(std::memory_order_acquire);
      for (int i = 0; g == seen && i < kSpins && !stopping.load(std::memory_order_relaxed); ++i) {
        pause();
        g = generation.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return stopping.load() || generation.load(std::memory_order_acquire) != seen; });
        g = generation.load(std::memory_order_acquire);
      }
      if (stopping.load()) return;
      seen = g;
      work_on_job();
      if (busy.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(mutex);  // the caller may be between its check and its wait
        done.notify_one();
      }
    }
  }
};

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)), state_(std::make_unique<State>()) {
  for (int i = 1; i < threads_; ++i) state_->workers.emplace_back([s = state_.get()] { s->worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  for (auto& t : state_->workers) t.join();
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, FunctionRef<void(int64_t, int64_t)> fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (threads_ == 1 || n <= grain) return fn(0, n);
  State& s = *state_;
  std::lock_guard submit(s.submit);
  // About four chunks per thread balances uneven work without much contention on `next`.
  int64_t chunk = std::max(grain, (n + threads_ * 4 - 1) / (threads_ * 4));
  {
    std::lock_guard lock(s.mutex);
    s.fn = &fn;
    s.n = n;
    s.chunk = chunk;
    s.next.store(0, std::memory_order_relaxed);
    s.busy.store(static_cast<int>(s.workers.size()), std::memory_order_relaxed);
    s.generation.fetch_add(1, std::memory_order_release);
  }
  s.wake.notify_all();
  s.work_on_job();
  for (int i = 0; i < State::kSpins && s.busy.load(std::memory_order_acquire) != 0; ++i) State::pause();
  if (s.busy.load(std::memory_order_acquire) != 0) {
    std::unique_lock lock(s.mutex);
    s.done.wait(lock, [&] { return s.busy.load(std::memory_order_acquire) == 0; });
  }
  s.fn = nullptr;
}

int ThreadPool::physical_cores() {
  // Count distinct (package, core) pairs; fall back to the logical count.
  std::set<std::pair<std::string, std::string>> cores;
  unsigned logical = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned cpu = 0; cpu < logical; ++cpu) {
    std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream pkg(base + "physical_package_id"), core(base + "core_id");
    std::string p, c;
    if (!(pkg >> p) || !(core >> c)) return static_cast<int>(logical);
    cores.emplace(p, c);
  }
  return std::max<int>(1, static_cast<int>(cores.size()));
}

}  // namespace kerasrt::kernels
