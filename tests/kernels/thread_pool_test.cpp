// The intra-op pool: every index of every job runs exactly once, whether the workers are still
// spinning from the last job (back-to-back jobs, as in a model run) or asleep (jobs far apart).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "kernels/context.hpp"

namespace kerasrt::kernels {
namespace {

void expect_each_index_once(ThreadPool& pool, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "index " << i << " of " << n;
}

TEST(ThreadPool, BackToBackJobsRunEveryIndexOnce) {
  for (int threads : {2, 3, 4}) {
    ThreadPool pool(threads);
    for (int job = 0; job < 3000; ++job) expect_each_index_once(pool, 1 + job % 97, 1 + job % 5);
  }
}

TEST(ThreadPool, JobsAfterTheWorkersSleptRunEveryIndexOnce) {
  ThreadPool pool(2);
  for (int job = 0; job < 20; ++job) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // longer than the workers spin
    expect_each_index_once(pool, 1000, 1);
  }
}

TEST(ThreadPool, UsesItsWorkers) {
  ThreadPool pool(2);
  std::atomic<int> inside{0}, most{0};
  pool.parallel_for(2, 1, [&](int64_t, int64_t) {
    int now = ++inside;
    for (int spin = 0; spin < 200 && most.load() < 2; ++spin) {
      most.store(std::max(most.load(), now));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      now = inside.load();
    }
    --inside;
  });
  EXPECT_EQ(most.load(), 2);  // both chunks ran at the same time
}

}  // namespace
}  // namespace kerasrt::kernels
