// Threads that exit leave nothing behind: their fronts and slices are
// released, however many lived at once, and allocations made after
// lite_malloc's own key destructor has run are not stranded (the lifecycle
// issue, cases 3 and 4).
#include <malloc.h>
#include <pthread.h>

#include <atomic>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"

namespace {

using lite_test::kMiB;

lite_malloc_stats Stats() {
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  return s;
}

pthread_barrier_t g_barrier;

void* Worker(void*) {
  // A few KiB in several classes, as a short-lived worker does.
  void* p[8];
  for (int i = 0; i < 8; i++) {
    p[i] = lite_malloc(16u << i);
    memset(p[i], 1, 16u << i);
  }
  pthread_barrier_wait(&g_barrier);
  for (int i = 0; i < 8; i++) lite_free(p[i]);
  return nullptr;
}

// Starts n threads with small stacks, all alive at once, then joins them.
void RunAtOnce(int n) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_barrier_init(&g_barrier, nullptr, n + 1);
  std::vector<pthread_t> threads(n);
  for (int i = 0; i < n; i++) ASSERT_EQ(pthread_create(&threads[i], &attr, Worker, nullptr), 0);
  pthread_barrier_wait(&g_barrier);
  for (pthread_t t : threads) pthread_join(t, nullptr);
  pthread_barrier_destroy(&g_barrier);
  pthread_attr_destroy(&attr);
}

TEST(ThreadExit, TenThousandThreadsLeaveNothingBehind) {
  const int n = lite_test::kTsan ? 2000 : 10000;
  RunAtOnce(100);
  lite_malloc_trim(0);
  malloc_trim(0);
  const lite_malloc_stats base = Stats();
  const size_t rss_base = lite_test::Rss();
  RunAtOnce(n);
  lite_malloc_trim(0);
  malloc_trim(0);  // glibc's own heap holds the threads' TLS descriptors
  const lite_malloc_stats after = Stats();
  const size_t rss_after = lite_test::Rss();
  EXPECT_EQ(after.threads, base.threads);
  EXPECT_EQ(after.bytes_in_use, base.bytes_in_use);
  // A little slack for pages of the handle table and the radix map.
  EXPECT_LE(after.pages_in_use, base.pages_in_use + 4)
      << "slices in use: " << base.pages_in_use << " -> " << after.pages_in_use;
  if (!lite_test::kAsan && !lite_test::kTsan) {
    // glibc keeps up to 40 MiB of exited threads' stacks cached; they are
    // 64 KiB here and mostly untouched.
    EXPECT_LE(rss_after, rss_base + 16 * kMiB)
        << "RSS " << rss_base / kMiB << " -> " << rss_after / kMiB << " MiB";
  }
}

// A key destructor that allocates in every destructor round, after
// lite_malloc's own destructor has released the thread's front.
pthread_key_t g_late_key;
std::atomic<long> g_late_allocs{0};

void LateDestructor(void* value) {
  // Free what the previous round left, allocate again, and ask for one more
  // round (glibc runs up to PTHREAD_DESTRUCTOR_ITERATIONS).
  lite_free(value);
  void* p = lite_malloc(100);
  memset(p, 2, 100);
  void* q = lite_malloc(3000);
  lite_free(q);
  g_late_allocs.fetch_add(1, std::memory_order_relaxed);
  pthread_setspecific(g_late_key, p);
}

void* LateWorker(void*) {
  lite_free(lite_malloc(64));  // the thread gets its front (and lite_malloc's key)
  pthread_setspecific(g_late_key, lite_malloc(50));
  return nullptr;
}

TEST(ThreadExit, AllocationInTheLastDestructorRoundLeavesNothing) {
  // TSan's runtime tears down its own thread state before glibc's last key
  // destructor rounds, and instrumented code running there crashes it.
  if (lite_test::kTsan) GTEST_SKIP() << "TSan cannot run code in late destructor rounds";
  // Make sure lite_malloc's key exists before ours: it then runs first in
  // each round, so ours allocates after the front was released.
  lite_free(lite_malloc(8));
  ASSERT_EQ(pthread_key_create(&g_late_key, LateDestructor), 0);
  lite_malloc_trim(0);
  const lite_malloc_stats base = Stats();
  const int n = 2000;
  for (int i = 0; i < n; i += 50) {
    pthread_t t[50];
    for (auto& x : t) ASSERT_EQ(pthread_create(&x, nullptr, LateWorker, nullptr), 0);
    for (auto& x : t) pthread_join(x, nullptr);
  }
  EXPECT_GE(g_late_allocs.load(), n);
  lite_malloc_trim(0);
  const lite_malloc_stats after = Stats();
  EXPECT_EQ(after.threads, base.threads);
  // What the last round left in the key's value is never freed (glibc drops
  // it): 100 bytes per thread at most, in pages nobody owns.
  EXPECT_LE(after.bytes_in_use, base.bytes_in_use + size_t{112} * n);
  // Threads exiting at the same time each may start a page of their own.
  EXPECT_LE(after.pages_in_use, base.pages_in_use + 8 + (112 * n) / (64 << 10))
      << "slices in use: " << base.pages_in_use << " -> " << after.pages_in_use;
  pthread_key_delete(g_late_key);
}

}  // namespace
