// Multi-thread stress: blocks allocated on one thread are verified and freed
// on another (through mutex-protected inboxes owned by the test), and a
// producer/consumer pair where one thread only allocates and the other only
// frees. Every block's full contents are checked when it is freed.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <atomic>
#include <condition_variable>
#include <deque>
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

// Failures seen on worker threads are counted here and reported (the first
// few in detail) from the main thread.
class ErrorLog {
 public:
  void Add(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (count_++ < 10) first_ += what + "\n";
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  std::string first() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_;
  }

 private:
  std::mutex mu_;
  int count_ = 0;
  std::string first_;
};

uint64_t SeedFor(int thread, uint64_t seq) { return (uint64_t(thread) << 40) ^ seq; }

bool Allocate(size_t n, int thread, uint64_t seq, ErrorLog* log, Block* out) {
  void* p = lite_malloc(n);
  if (p == nullptr) {
    log->Add("lite_malloc(" + std::to_string(n) + ") returned NULL");
    return false;
  }
  if (!lite_test::IsAligned(p, lite_test::MinAlignmentFor(n))) {
    log->Add("lite_malloc(" + std::to_string(n) + ") misaligned: " + lite_test::Hex(p));
  }
  const uint64_t seed = SeedFor(thread, seq);
  lite_test::FillPattern(p, n, seed);
  *out = {p, n, seed};
  return true;
}

void VerifyAndFree(const Block& b, ErrorLog* log, const char* where) {
  if (lite_malloc_usable_size(b.p) < b.size) {
    log->Add(std::string(where) + ": usable size " + std::to_string(lite_malloc_usable_size(b.p)) +
             " < " + std::to_string(b.size));
  }
  const size_t bad = lite_test::FindPatternMismatch(b.p, b.size, b.seed);
  if (bad != SIZE_MAX) {
    log->Add(std::string(where) + ": block " + lite_test::Hex(b.p) + " of " +
             std::to_string(b.size) + " bytes (thread " + std::to_string(b.seed >> 40) +
             ", seq " + std::to_string(b.seed & ((uint64_t(1) << 40) - 1)) +
             ") corrupted at offset " + std::to_string(bad));
  }
  lite_free(b.p);
}

struct Inbox {
  std::mutex mu;
  std::vector<Block> blocks;
};

TEST(ThreadStress, BlocksFreedOnOtherThreads) {
  constexpr int kThreads = 8;
  // 100k allocations + 100k frees in all (fewer under sanitizers).
  constexpr int kAllocsPerThread = 12500 / lite_test::kWorkDivisor;
  std::vector<Inbox> inboxes(kThreads);
  ErrorLog log;
  std::atomic<uint64_t> frees{0}, remote_frees{0}, allocs{0};

  auto worker = [&](int t) {
    lite_test::Rng rng(0x5eed0000 + t);
    std::vector<Block> live;
    std::vector<Block> incoming;
    for (uint64_t seq = 0; seq < kAllocsPerThread; seq++) {
      size_t n = rng.Next() % 400 == 0 ? kMiB + rng.Next() % (64 * kKiB)
                                        : rng.LogSize(8, 64 * kKiB);
      Block b;
      if (!Allocate(n, t, seq, &log, &b)) continue;
      allocs++;
      if (rng.Next() % 3 == 0) {
        // Hand it to another thread.
        int to = static_cast<int>((t + 1 + rng.Next() % (kThreads - 1)) % kThreads);
        std::lock_guard<std::mutex> lock(inboxes[to].mu);
        inboxes[to].blocks.push_back(b);
      } else {
        live.push_back(b);
      }
      if (live.size() > 96 || (live.size() > 0 && rng.Next() % 2 == 0)) {
        size_t k = rng.Next() % live.size();
        VerifyAndFree(live[k], &log, "local free");
        frees++;
        live[k] = live.back();
        live.pop_back();
      }
      if (seq % 16 == 0) {
        {
          std::lock_guard<std::mutex> lock(inboxes[t].mu);
          incoming.swap(inboxes[t].blocks);
        }
        for (const Block& in : incoming) {
          VerifyAndFree(in, &log, "remote free");
          remote_frees++;
        }
        incoming.clear();
      }
    }
    for (const Block& b : live) {
      VerifyAndFree(b, &log, "final local free");
      frees++;
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  // Whatever is left in the inboxes belongs to threads that have exited.
  for (Inbox& box : inboxes) {
    for (const Block& b : box.blocks) {
      VerifyAndFree(b, &log, "main-thread free");
      remote_frees++;
    }
    box.blocks.clear();
  }
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  printf("allocations %llu, local frees %llu, remote frees %llu; mapped %zu MiB, dirty %zu MiB\n",
         (unsigned long long)allocs.load(), (unsigned long long)frees.load(),
         (unsigned long long)remote_frees.load(), s.mapped_bytes >> 20, s.dirty_bytes >> 20);
  EXPECT_EQ(log.count(), 0) << log.first();
  EXPECT_EQ(allocs.load(), frees.load() + remote_frees.load());
  EXPECT_GT(remote_frees.load(), allocs.load() / 5);
}

TEST(ThreadStress, ProducerConsumer) {
  constexpr int kBlocks = 100000 / lite_test::kWorkDivisor;
  constexpr size_t kMaxQueued = 2048;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Block> queue;
  bool done = false;
  ErrorLog log;
  std::atomic<int> consumed{0};
  lite_malloc_stats before;
  lite_malloc_get_stats(&before);

  std::thread producer([&] {
    lite_test::Rng rng(99);
    for (int i = 0; i < kBlocks; i++) {
      size_t n = rng.Next() % 1000 == 0 ? 300 * kKiB : rng.LogSize(8, 32 * kKiB);
      Block b;
      if (!Allocate(n, 1, i, &log, &b)) continue;
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return queue.size() < kMaxQueued; });
      queue.push_back(b);
      cv.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  });
  std::thread consumer([&] {
    std::vector<Block> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !queue.empty() || done; });
        if (queue.empty() && done) break;
        while (!queue.empty() && batch.size() < 256) {
          batch.push_back(queue.front());
          queue.pop_front();
        }
        cv.notify_all();
      }
      for (const Block& b : batch) {
        VerifyAndFree(b, &log, "consumer free");
        consumed++;
      }
      batch.clear();
    }
  });
  producer.join();
  consumer.join();
  EXPECT_EQ(log.count(), 0) << log.first();
  EXPECT_EQ(consumed.load(), kBlocks);

  // At most kMaxQueued blocks (a few MiB) were ever live at once: the address
  // space taken must reflect that, not the 100k blocks (~600 MiB) that went
  // through the queue, i.e. blocks freed by the consumer are reused.
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  printf("producer/consumer: mapped %zu MiB before, %zu MiB after, dirty %zu MiB\n",
         before.mapped_bytes >> 20, s.mapped_bytes >> 20, s.dirty_bytes >> 20);
  EXPECT_LT(s.mapped_bytes, before.mapped_bytes + 128 * kMiB)
      << "memory freed by the consumer thread is not reused by the producer";
}

TEST(ThreadStress, ConcurrentReallocAndAlignedAllocations) {
  constexpr int kThreads = 6;
  ErrorLog log;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([t, &log] {
      lite_test::Rng rng(1234 + t);
      Block slots[16] = {};
      for (int i = 0; i < 6000 / lite_test::kWorkDivisor; i++) {
        Block& s = slots[rng.Next() % 16];
        const size_t n = rng.LogSize(1, 200 * kKiB);
        if (rng.Next() % 4 == 0) {
          // Replace with an aligned block.
          if (s.p != nullptr) VerifyAndFree(s, &log, "aligned slot free");
          const size_t align = size_t{1} << rng.Range(3, 16);
          void* p = lite_aligned_alloc(align, n);
          if (p == nullptr || !lite_test::IsAligned(p, align)) {
            log.Add("lite_aligned_alloc(" + std::to_string(align) + ", " + std::to_string(n) +
                    ") = " + lite_test::Hex(p));
            s = {};
            if (p) lite_free(p);
            continue;
          }
          s = {p, n, SeedFor(t, i)};
          lite_test::FillPattern(p, n, s.seed);
        } else {
          void* q = lite_realloc(s.p, n);
          if (q == nullptr) {
            log.Add("lite_realloc to " + std::to_string(n) + " returned NULL");
            continue;
          }
          const size_t keep = s.size < n ? s.size : n;
          const size_t bad = lite_test::FindPatternMismatch(q, keep, s.seed);
          if (bad != SIZE_MAX) {
            log.Add("lite_realloc " + std::to_string(s.size) + " -> " + std::to_string(n) +
                    " lost contents at offset " + std::to_string(bad));
          }
          s = {q, n, SeedFor(t, i)};
          lite_test::FillPattern(q, n, s.seed);
        }
      }
      for (Block& s : slots) {
        if (s.p != nullptr) VerifyAndFree(s, &log, "slot free");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(log.count(), 0) << log.first();
}

}  // namespace
