// Thread churn: thousands of short-lived threads allocate, free, and leave
// some blocks behind for the main thread. Per-thread state must be recycled:
// attached thread fronts and mapped memory stay bounded, not proportional to
// the number of threads that ever ran.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"

namespace {

using lite_test::kKiB;
using lite_test::kMiB;

struct Block {
  void* p;
  size_t size;
  uint64_t seed;
};

lite_malloc_stats Stats() {
  lite_malloc_stats s;
  memset(&s, 0, sizeof(s));
  lite_malloc_get_stats(&s);
  return s;
}

struct Shared {
  std::mutex mu;
  std::vector<Block> leftovers;        // freed by main after each batch
  std::vector<Block> long_leftovers;   // freed by main at the very end
  std::atomic<int> errors{0};
  std::atomic<size_t> max_threads_while_running{0};
};

void ShortLivedThread(int id, Shared* shared) {
  lite_test::Rng rng(id * 7919 + 1);
  std::vector<Block> mine;
  const int count = 40;
  for (int i = 0; i < count; i++) {
    size_t n;
    const uint64_t r = rng.Next() % 100;
    if (r < 80) {
      n = rng.LogSize(1, 8 * kKiB);  // small
    } else if (r < 98) {
      n = rng.LogSize(8 * kKiB + 1, 128 * kKiB);  // medium
    } else {
      n = 256 * kKiB + rng.Next() % (512 * kKiB);  // large
    }
    void* p = lite_malloc(n);
    if (p == nullptr) {
      shared->errors++;
      continue;
    }
    const uint64_t seed = (uint64_t(id) << 20) | i;
    lite_test::FillPattern(p, n, seed);
    mine.push_back({p, n, seed});
  }
  // While this thread holds blocks it is attached: the count is live, so the
  // bound checked at the end means something.
  lite_malloc_stats st;
  lite_malloc_get_stats(&st);
  size_t seen = shared->max_threads_while_running.load();
  while (st.threads > seen && !shared->max_threads_while_running.compare_exchange_weak(seen, st.threads)) {
  }
  // Free most of them here, in a scrambled order.
  while (mine.size() > 3) {
    size_t k = rng.Next() % mine.size();
    if (!lite_test::CheckPattern(mine[k].p, mine[k].size, mine[k].seed)) shared->errors++;
    lite_free(mine[k].p);
    mine[k] = mine.back();
    mine.pop_back();
  }
  // Leave the rest for the main thread.
  std::lock_guard<std::mutex> lock(shared->mu);
  for (const Block& b : mine) {
    (id % 100 == 0 ? shared->long_leftovers : shared->leftovers).push_back(b);
  }
}

void FreeAll(std::vector<Block>* blocks, Shared* shared) {
  for (const Block& b : *blocks) {
    if (!lite_test::CheckPattern(b.p, b.size, b.seed)) shared->errors++;
    lite_free(b.p);
  }
  blocks->clear();
}

TEST(ThreadChurn, ThousandsOfShortLivedThreads) {
  constexpr int kTotalThreads = 3000;
  constexpr int kBatch = 8;
  Shared shared;
  const lite_malloc_stats start = Stats();
  size_t max_threads_seen = 0;
  size_t max_mapped = 0;
  size_t mapped_after_500 = 0;
  for (int first = 0; first < kTotalThreads; first += kBatch) {
    std::vector<std::thread> batch;
    for (int id = first; id < first + kBatch && id < kTotalThreads; id++) {
      batch.emplace_back(ShortLivedThread, id, &shared);
    }
    for (auto& th : batch) th.join();
    FreeAll(&shared.leftovers, &shared);
    const lite_malloc_stats s = Stats();
    if (s.threads > max_threads_seen) max_threads_seen = s.threads;
    if (s.mapped_bytes > max_mapped) max_mapped = s.mapped_bytes;
    if (first + kBatch == 504) mapped_after_500 = s.mapped_bytes;
  }
  const lite_malloc_stats before_final_free = Stats();
  FreeAll(&shared.long_leftovers, &shared);
  const lite_malloc_stats end = Stats();
  printf("threads attached: start %zu, max while running %zu, max after a batch %zu, end %zu\n",
         start.threads, shared.max_threads_while_running.load(), max_threads_seen, end.threads);
  printf("mapped: start %zu MiB, after 504 threads %zu MiB, max %zu MiB, end %zu MiB "
         "(%zu mappings, %zu segments, dirty %zu MiB)\n",
         start.mapped_bytes >> 20, mapped_after_500 >> 20, max_mapped >> 20,
         end.mapped_bytes >> 20, end.mappings, end.segments, end.dirty_bytes >> 20);
  EXPECT_EQ(shared.errors.load(), 0) << "failed allocations or corrupted blocks";
  EXPECT_GE(shared.max_threads_while_running.load(), 1u)
      << "lite_malloc_stats.threads does not count running threads";
  EXPECT_LE(end.threads, 16u) << "thread fronts of exited threads are not released";
  EXPECT_LE(before_final_free.threads, 16u);
  EXPECT_LT(end.mapped_bytes, 256 * kMiB) << "memory grows with the number of threads";
  EXPECT_LT(max_mapped, 256 * kMiB) << "memory grows with the number of threads";
}

// A thread that ends with live blocks leaves its pages to its engine. Trim
// cannot return them while the blocks live, and must still find them on a
// later trim, once the blocks have been freed from another thread.
TEST(ThreadChurn, TrimReturnsAbandonedPagesOnceFreed) {
  constexpr int kBlocks = 4000;
  lite_malloc_trim(0);
  const size_t pages_before = Stats().pages_in_use;
  std::vector<void*> blocks;
  std::thread([&blocks] {
    for (int i = 0; i < kBlocks; i++) {
      void* p = lite_malloc(64 + 48 * (i % 40));  // 40 classes, 4 KiB-ish pages each
      ASSERT_NE(p, nullptr);
      memset(p, 0x5a, 64);
      blocks.push_back(p);
    }
  }).join();
  const size_t pages_live = Stats().pages_in_use;
  ASSERT_GT(pages_live, pages_before + 20) << "the thread's blocks are not in pages";

  lite_malloc_trim(0);  // every abandoned page still has live blocks: keeps them
  EXPECT_GE(Stats().pages_in_use, pages_live) << "trim released pages with live blocks";
  lite_malloc_trim(0);  // and again: nothing changes
  EXPECT_GE(Stats().pages_in_use, pages_live);

  for (void* p : blocks) lite_free(p);
  lite_malloc_trim(0);
  const size_t pages_after = Stats().pages_in_use;
  printf("pages in use: before %zu, with the blocks live %zu, after free and trim %zu\n",
         pages_before, pages_live, pages_after);
  EXPECT_LE(pages_after, pages_before) << "abandoned pages were not returned once empty";
}

}  // namespace
