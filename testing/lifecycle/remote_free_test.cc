// Memory freed by other threads is reused and returned: producer/consumer
// queues stay bounded, and memory freed into idle threads' pages comes back on
// malloc_trim(0) from any thread (the lifecycle issue, cases 1 and 2).
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"

namespace {

using lite_test::kMiB;

size_t SliceBytes() {
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  return s.pages_in_use * (size_t{64} << 10);
}

size_t BytesInUse() {
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  return s.bytes_in_use;
}

// A single-producer single-consumer ring of `kLive` slots: at most kLive
// blocks are in flight at any time.
constexpr size_t kLive = 64;
struct Ring {
  std::atomic<void*> slot[kLive] = {};
};

// The producer mallocs, the consumer frees; slices in use are sampled by the
// producer. Returns the largest sample.
size_t ProducerConsumer(size_t size, size_t transfers) {
  Ring ring;
  std::atomic<bool> done{false};
  std::thread consumer([&] {
    size_t i = 0;
    for (;;) {
      void* p = ring.slot[i % kLive].exchange(nullptr, std::memory_order_acquire);
      if (p == nullptr) {
        if (done.load(std::memory_order_acquire)) {
          // Drain what is left.
          for (auto& s : ring.slot) lite_free(s.exchange(nullptr));
          return;
        }
        std::this_thread::yield();
        continue;
      }
      lite_free(p);
      i++;
    }
  });
  size_t peak = 0;
  for (size_t i = 0; i < transfers; i++) {
    void* p = lite_malloc(size);
    if (p == nullptr) abort();
    static_cast<char*>(p)[0] = 1;
    std::atomic<void*>& s = ring.slot[i % kLive];
    while (s.load(std::memory_order_acquire) != nullptr) std::this_thread::yield();
    s.store(p, std::memory_order_release);
    if (i % 65536 == 0) peak = std::max(peak, SliceBytes());
  }
  done.store(true, std::memory_order_release);
  consumer.join();
  return std::max(peak, SliceBytes());
}

class ProducerConsumerTest : public ::testing::TestWithParam<size_t> {};

// Slices in use stay within twice the live bytes plus a fixed allowance per
// thread (each thread's front and a page or two of the class), over 10^7
// transfers (fewer under sanitizers).
TEST_P(ProducerConsumerTest, SlicesStayBounded) {
  const size_t size = GetParam();
  const size_t transfers = 10000000 / lite_test::kWorkDivisor / (size >= (16 << 10) ? 2 : 1);
  const size_t before = SliceBytes();
  const size_t peak = ProducerConsumer(size, transfers);
  const size_t live = kLive * size;
  const size_t allowance = 2 * 2 * kMiB;  // two threads
  EXPECT_LE(peak, before + 2 * live + allowance)
      << "size " << size << ": " << peak / kMiB << " MiB of slices for " << live / 1024
      << " KiB live";
  // Nothing is live; the statistics say so exactly.
  EXPECT_EQ(BytesInUse(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ProducerConsumerTest,
                         ::testing::Values(16, 1024, 16 << 10, 64 << 10, 128 << 10));

// Owner threads allocate, a freer thread frees everything, the owners stay
// alive and idle; malloc_trim(0) from a third thread gives the memory back.
TEST(IdleOwners, TrimFromAnotherThreadReturnsRemoteFrees) {
  if (lite_test::kAsan || lite_test::kTsan) GTEST_SKIP() << "sanitizer shadow memory skews RSS";
  constexpr int kOwners = 4;
  constexpr size_t kPerOwner = 48 * kMiB;
  lite_malloc_trim(0);
  const size_t rss_start = lite_test::Rss();
  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;
  bool release = false;
  std::vector<std::vector<void*>> blocks(kOwners);
  std::vector<std::thread> owners;
  for (int t = 0; t < kOwners; t++) {
    owners.emplace_back([&, t] {
      lite_test::Rng rng(t + 1);
      size_t total = 0;
      while (total < kPerOwner) {
        size_t n = 16 + rng.Next() % 2048;
        char* p = static_cast<char*>(lite_malloc(n));
        memset(p, 1, n);
        blocks[t].push_back(p);
        total += n;
      }
      std::unique_lock<std::mutex> lock(mu);
      ready++;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });  // idle until the end
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready == kOwners; });
  }
  const size_t rss_full = lite_test::Rss();
  std::thread freer([&] {
    for (auto& v : blocks)
      for (void* p : v) lite_free(p);
  });
  freer.join();
  EXPECT_EQ(BytesInUse(), 0u);
  std::thread trimmer([] { lite_malloc_trim(0); });
  trimmer.join();
  const size_t rss_after = lite_test::Rss();
  const size_t margin = std::max(rss_start / 10, 8 * kMiB);
  EXPECT_LE(rss_after, rss_start + margin)
      << "start " << rss_start / kMiB << " MiB, full " << rss_full / kMiB << " MiB, after trim "
      << rss_after / kMiB << " MiB";
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : owners) t.join();
}

// Without any trim call: other threads' allocations drive purge ticks, which
// take the idle owners' free pages within a few purge delays.
TEST(IdleOwners, PurgeTicksReturnRemoteFrees) {
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false, release = false;
  std::vector<void*> blocks;
  std::thread owner([&] {
    for (size_t total = 0; total < 32 * kMiB; total += 512) blocks.push_back(lite_malloc(512));
    std::unique_lock<std::mutex> lock(mu);
    ready = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready; });
  }
  const size_t full = SliceBytes();
  for (void* p : blocks) lite_free(p);
  // This thread keeps allocating and freeing a little, as any live server does.
  size_t after = full;
  for (int round = 0; round < 400 && after > full / 4; round++) {
    std::vector<void*> mine;
    for (int i = 0; i < 2000; i++) mine.push_back(lite_malloc(1024));
    for (void* p : mine) lite_free(p);
    usleep(5000);
    after = SliceBytes();
  }
  EXPECT_LE(after, full / 4) << "full " << full / kMiB << " MiB, after " << after / kMiB << " MiB";
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  owner.join();
}

}  // namespace
