// fork() from a threaded process: the child finishes whatever the other
// threads were doing inside the allocator at that moment, purges, and reuses
// the memory of the threads it did not inherit (lifecycle issue, cases 5, 6).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
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

// Child exit codes: 0 fine, others name the check that failed.
enum { kOk = 0, kNoPurge = 2, kNoReuse = 3, kBadStats = 4, kNoMemory = 5 };

// Blocks that the parent's workers hold; the child frees what it finds.
constexpr int kWorkers = 8;
constexpr int kSlots = 1024;
std::atomic<void*> g_slots[kWorkers][kSlots];

int ChildChecks() {
  // Free everything the parent's threads held at the fork.
  for (auto& row : g_slots)
    for (auto& s : row) {
      void* p = s.exchange(nullptr, std::memory_order_relaxed);
      if (p != nullptr) lite_free(p);
    }
  lite_malloc_trim(0);
  const lite_malloc_stats trimmed = Stats();
  if (trimmed.dirty_bytes != 0) return kNoPurge;
  if (trimmed.bytes_in_use > 4 * kMiB) return kBadStats;
  // Allocate as much again: it fits in what the parent's threads left.
  std::vector<void*> mine;
  for (int i = 0; i < kWorkers * kSlots; i++) {
    void* p = lite_malloc(16 + (i * 37) % 1000);
    if (p == nullptr) return kNoMemory;
    mine.push_back(p);
  }
  for (void* p : mine) lite_free(p);
  lite_malloc_trim(0);
  if (Stats().dirty_bytes != 0) return kNoPurge;
  return kOk;
}

TEST(Fork, TwoHundredForksWhileThreadsAllocateFreeAndTrim) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; w++) {
    workers.emplace_back([&, w] {
      lite_test::Rng rng(w + 7);
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); i++) {
        std::atomic<void*>& s = g_slots[w][rng.Next() % kSlots];
        void* old = s.exchange(lite_malloc(16 + rng.Next() % 1000), std::memory_order_relaxed);
        if (old != nullptr) {
          // Some frees go to another worker's pages.
          lite_free(old);
        }
        if (i % 20000 == 0) lite_malloc_trim(0);
        if (i % 5000 == 0) {
          void* big = lite_malloc(64 << 10);
          lite_free(big);
        }
      }
    });
  }
  int failures = 0, codes[8] = {0};
  const int forks = lite_test::kAsan ? 50 : 200;
  for (int i = 0; i < forks; i++) {
    usleep(2000);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      alarm(20);  // a deadlock in the child fails the test instead of hanging it
      _exit(ChildChecks());
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      failures++;
      codes[WIFEXITED(status) ? (WEXITSTATUS(status) & 7) : 1]++;
    }
  }
  stop = true;
  for (auto& t : workers) t.join();
  for (auto& row : g_slots)
    for (auto& s : row) lite_free(s.exchange(nullptr));
  EXPECT_EQ(failures, 0) << "killed or hung " << codes[1] << ", no purge " << codes[kNoPurge]
                         << ", no reuse " << codes[kNoReuse] << ", bad stats " << codes[kBadStats]
                         << ", out of memory " << codes[kNoMemory];
}

// A worker builds 200 MiB of small objects and stays alive; the child frees
// them all, trims and builds as much again, within the same memory.
TEST(Fork, ChildAdoptsTheMemoryOfThreadsItDidNotInherit) {
  if (lite_test::kAsan) GTEST_SKIP() << "ASan's shadow memory skews RSS";
  constexpr size_t kTotal = 200 * kMiB, kSize = 100;
  std::vector<void*> objects;
  objects.reserve(kTotal / kSize);
  std::thread worker([&] {
    for (size_t i = 0; i < kTotal / kSize; i++) {
      void* p = lite_malloc(kSize);
      memset(p, 1, kSize);
      objects.push_back(p);
    }
  });
  worker.join();
  // The worker is gone in the parent too, so keep one alive across the fork:
  // its pages are the ones the child must adopt.
  std::atomic<bool> release{false}, holding{false};
  std::vector<void*> held;
  std::thread holder([&] {
    for (int i = 0; i < 100000; i++) held.push_back(lite_malloc(kSize));
    holding = true;
    while (!release.load()) usleep(1000);
  });
  while (!holding.load()) usleep(1000);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(60);
    const size_t full = lite_test::Rss();
    for (void* p : objects) lite_free(p);
    for (void* p : held) lite_free(p);
    lite_malloc_trim(0);
    const size_t trimmed = lite_test::Rss();
    std::vector<void*> again;
    again.reserve(kTotal / kSize);
    for (size_t i = 0; i < kTotal / kSize; i++) {
      void* p = lite_malloc(kSize);
      memset(p, 2, kSize);
      again.push_back(p);
    }
    const size_t rebuilt = lite_test::Rss();
    fprintf(stderr, "child RSS: full %zu MiB, trimmed %zu MiB, rebuilt %zu MiB\n", full / kMiB,
            trimmed / kMiB, rebuilt / kMiB);
    if (trimmed > full / 4) _exit(kNoPurge);
    if (rebuilt > full + full / 8) _exit(kNoReuse);
    _exit(kOk);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  release = true;
  holder.join();
  EXPECT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), kOk) << "2: not purged, 3: not reused";
  for (void* p : objects) lite_free(p);
  for (void* p : held) lite_free(p);
}

}  // namespace
