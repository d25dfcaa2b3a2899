// Freed memory goes back to the OS without any explicit call: the resident
// set grows while ~256 MiB of small, medium or large blocks are live and falls
// back to near its starting point once they have stayed free for the purge
// delay and the program goes on calling the allocator. lite_malloc_trim then
// leaves no dirty pages behind.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"

namespace {

using lite_test::kKiB;
using lite_test::kMiB;

constexpr size_t kTotal = 256 * kMiB;
constexpr size_t kMinGrowth = 200 * kMiB;
// Under ASan the shadow of the blocks (1/8 of their size) may stay resident.
constexpr size_t kMaxRetained = 32 * kMiB + (lite_test::kAsan ? kTotal / 8 : 0);

using lite_test::Rss;

lite_malloc_stats Stats() {
  lite_malloc_stats s;
  memset(&s, 0, sizeof(s));
  lite_malloc_get_stats(&s);
  return s;
}

enum class Order { kForward, kReverse, kShuffled };

void CheckRssReturns(const char* kind, size_t block_size, Order order) {
  if (lite_test::kTsan) {
    GTEST_SKIP() << "ThreadSanitizer's shadow memory makes RSS meaningless";
  }
  const size_t count = kTotal / block_size;
  // The pointer array is allocated and touched before the first reading.
  std::vector<void*> ptrs(count, nullptr);
  std::vector<size_t> free_order(count);
  for (size_t i = 0; i < count; i++) free_order[i] = i;
  if (order == Order::kReverse) std::reverse(free_order.begin(), free_order.end());
  if (order == Order::kShuffled) {
    lite_test::Rng rng(count);
    for (size_t i = count - 1; i > 0; i--) std::swap(free_order[i], free_order[rng.Next() % (i + 1)]);
  }

  const size_t start = Rss();
  ASSERT_GT(start, 0u) << "cannot read /proc/self/statm";
  for (size_t i = 0; i < count; i++) {
    ptrs[i] = lite_malloc(block_size);
    ASSERT_NE(ptrs[i], nullptr) << "lite_malloc(" << block_size << ") #" << i;
    memset(ptrs[i], static_cast<int>(i | 1), block_size);
  }
  const size_t peak = Rss();
  const lite_malloc_stats live = Stats();
  for (size_t i : free_order) lite_free(ptrs[i]);
  const lite_malloc_stats freed = Stats();
  // Memory goes back once it has stayed free for LITE_MALLOC_PURGE_DELAY
  // (100 ms), at the next allocator call after that: keep calling for a while.
  size_t after = Rss();
  int waited_ms = 0;
  for (; after >= start + kMaxRetained && waited_ms < 5000; waited_ms += 20) {
    usleep(20 * 1000);
    for (int i = 0; i < 32; i++) lite_free(lite_malloc(kMiB));
    after = Rss();
  }
  printf("%s blocks (%zu x %zu bytes): RSS start %zu MiB, peak %zu MiB, after free %zu MiB; "
         "mapped live %zu MiB, after free %zu MiB, dirty after free %zu MiB; returned after %d ms\n",
         kind, count, block_size, start >> 20, peak >> 20, after >> 20, live.mapped_bytes >> 20,
         freed.mapped_bytes >> 20, freed.dirty_bytes >> 20, waited_ms);
  fflush(stdout);
  EXPECT_GT(peak, start + kMinGrowth) << kind << ": RSS did not grow while blocks were live";
  EXPECT_LT(after, start + kMaxRetained)
      << kind << " blocks: RSS start " << (start >> 20) << " MiB, peak " << (peak >> 20)
      << " MiB, after free " << (after >> 20) << " MiB: freed memory was not returned";
}

TEST(MemoryReturn, SmallBlocks) { CheckRssReturns("small", 256, Order::kShuffled); }

TEST(MemoryReturn, TinyBlocksForward) { CheckRssReturns("tiny", 64, Order::kForward); }

TEST(MemoryReturn, MediumBlocks) { CheckRssReturns("medium", 12 * kKiB, Order::kReverse); }

TEST(MemoryReturn, LargeBlocks) { CheckRssReturns("large", 1 * kMiB, Order::kShuffled); }

TEST(MemoryReturn, TrimLeavesNoDirtyPages) {
  std::vector<void*> blocks;
  const size_t sizes[] = {48, 1000, 8192, 20000, 100000, 1 * kMiB};
  for (int i = 0; i < 3000; i++) {
    const size_t n = sizes[i % 6];
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr);
    memset(p, 0x6b, n);
    blocks.push_back(p);
  }
  for (void* p : blocks) lite_free(p);
  const size_t rss_before = Rss();
  const lite_malloc_stats before = Stats();
  const int rc = lite_malloc_trim(0);
  const lite_malloc_stats after = Stats();
  const size_t rss_after = Rss();
  printf("trim: returned %d, dirty %zu KiB -> %zu KiB, purged %zu MiB -> %zu MiB, "
         "RSS %zu MiB -> %zu MiB\n",
         rc, before.dirty_bytes >> 10, after.dirty_bytes >> 10, before.purged_bytes >> 20,
         after.purged_bytes >> 20, rss_before >> 20, rss_after >> 20);
  EXPECT_TRUE(rc == 0 || rc == 1) << rc;
  EXPECT_EQ(after.dirty_bytes, 0u);
  EXPECT_GE(after.purged_bytes, before.purged_bytes);
  if (before.dirty_bytes > 0) {
    EXPECT_EQ(rc, 1) << "trim released dirty pages but returned 0";
  }
  EXPECT_LE(rss_after, rss_before);
  // A second trim has nothing left to do.
  EXPECT_EQ(lite_malloc_trim(0), 0);
  EXPECT_EQ(Stats().dirty_bytes, 0u);
}

TEST(MemoryReturn, AllocatorWorksAfterTrim) {
  lite_malloc_trim(0);
  void* a = lite_malloc(100);
  void* b = lite_malloc(20000);
  void* c = lite_malloc(2 * kMiB);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  memset(a, 1, 100);
  memset(b, 2, 20000);
  memset(c, 3, 2 * kMiB);
  lite_free(a);
  lite_free(b);
  lite_free(c);
  lite_malloc_trim(0);
}

// Address space comes back too: entirely free segments are unmapped (all but
// their 64 KiB header), so under RLIMIT_AS memory freed as small blocks can be
// mapped again as a large block, and VmSize follows the memory in use.
size_t VmSizeMiB() { return lite_test::VmSize() >> 20; }

TEST(AddressSpace, SmallBlocksFreedUnderRlimitAsServeALargeOne) {
  if (lite_test::kAsan || lite_test::kTsan) GTEST_SKIP() << "sanitizers reserve terabytes";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(60);
    std::vector<void*> blocks;
    blocks.reserve(4u << 20);  // before the limit: the array is not part of the test
    lite_free(lite_malloc(64));
    const size_t start = VmSizeMiB();
    struct rlimit rl = {(start + 96) << 20, (start + 96) << 20};
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(10);
    for (;;) {
      void* p = lite_malloc(64);
      if (p == nullptr || blocks.size() == blocks.capacity()) break;
      blocks.push_back(p);
    }
    if (blocks.size() < (size_t{32} << 20) / 64) _exit(11);  // did not get far
    for (void* p : blocks) lite_free(p);
    void* big = lite_malloc(size_t{5} << 20);
    if (big == nullptr) _exit(12);  // the freed small blocks' space did not come back
    memset(big, 1, size_t{5} << 20);
    lite_free(big);
    lite_malloc_trim(0);
    const size_t end = VmSizeMiB();
    fprintf(stderr, "VmSize: %zu MiB at start, %zu MiB after free and trim\n", start, end);
    if (end > start + 16) _exit(13);  // VmSize does not follow the memory in use
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10: setrlimit, 11: filled too little, 12: no 5 MiB block after the free, 13: VmSize stays";
}

}  // namespace
