// Freed memory goes back to the OS without any explicit call: the resident
// set grows while ~256 MiB of small, medium or large blocks are live and falls
// back to near its starting point once they have stayed free for the purge
// delay and the program goes on calling the allocator. lite_malloc_trim then
// leaves no dirty pages behind.
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
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

// In a forked child, under RLIMIT_AS 96 MiB above the VmSize at start: fills
// the space with blocks of `fill` bytes until malloc fails with ENOMEM, frees
// them all, then checks that each of `then` can be allocated and touched, and
// that VmSize after malloc_trim(0) is back near its start. Exit codes: 0 ok,
// 10 setrlimit, 11 filled too little, 12 no ENOMEM, 13 a later block failed,
// 14 VmSize stays up.
void FillFreeThenAllocate(size_t fill, std::vector<size_t> then) {
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
    errno = 0;
    for (;;) {
      void* p = lite_malloc(fill);
      if (p == nullptr || blocks.size() == blocks.capacity()) break;
      memset(p, 1, std::min<size_t>(fill, 4096));
      blocks.push_back(p);
    }
    if (blocks.size() * fill < (size_t{32} << 20)) _exit(11);  // did not get far
    if (errno != ENOMEM) _exit(12);
    for (void* p : blocks) lite_free(p);
    blocks.clear();
    for (size_t n : then) {
      // A size below 1 KiB stands for a fill: 32 MiB of such blocks.
      const size_t count = n < 1024 ? (size_t{32} << 20) / n : 1;
      for (size_t i = 0; i < count; i++) {
        void* p = lite_malloc(n);
        if (p == nullptr) _exit(13);  // the freed blocks' space did not come back
        memset(p, 2, n);
        blocks.push_back(p);
      }
    }
    for (void* p : blocks) lite_free(p);
    lite_malloc_trim(0);
    const size_t end = VmSizeMiB();
    fprintf(stderr, "VmSize: %zu MiB at start, %zu MiB after free and trim\n", start, end);
    if (end > start + 32) _exit(14);  // VmSize does not follow the memory in use
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setrlimit, 11: filled too little, 12: no ENOMEM, "
                                       "13: a block after the free failed, 14: VmSize stays";
}

TEST(AddressSpace, SmallBlocksFreedUnderRlimitAsServeLargeOnes) {
  FillFreeThenAllocate(64, {100 * 1000, 5 * kMiB});
}

TEST(AddressSpace, LargeBlocksFreedUnderRlimitAsServeSmallOnes) {
  FillFreeThenAllocate(5 * kMiB, {64, 100 * 1000});
}

TEST(AddressSpace, MediumBlocksFreedUnderRlimitAsServeEveryKind) {
  FillFreeThenAllocate(100 * 1000, {5 * kMiB, 64});
}

// Large blocks freed and allocated again in bursts reuse the mappings they
// left (no mmap or munmap per burst once warm), and mappings that then stay
// unused for the purge delay are unmapped at the next allocator call.
lite_malloc_os_stats OsStats() {
  lite_malloc_os_stats s;
  memset(&s, 0, sizeof(s));
  lite_malloc_get_os_stats(&s);
  return s;
}

void Burst() {
  static const size_t sizes[] = {1 * kMiB, 3 * kMiB, 2 * kMiB + 4096, 6 * kMiB, 700 * kKiB};
  void* blocks[16];
  for (int i = 0; i < 16; i++) {
    const size_t n = sizes[i % 5];
    blocks[i] = lite_malloc(n);
    ASSERT_NE(blocks[i], nullptr);
    static_cast<char*>(blocks[i])[0] = 1;
    static_cast<char*>(blocks[i])[n - 1] = 1;
  }
  for (void* p : blocks) lite_free(p);
}

// Bursts of large blocks of random sizes: the cache reuses freed mappings,
// but what live and cached mappings span (all of it resident here) stays
// within the budget: the peak of live large bytes plus 1/16 and 2 MiB.
TEST(AddressSpace, LargeBurstsOfRandomSizesStayWithinTheBudget) {
  if (lite_test::kAsan || lite_test::kTsan) GTEST_SKIP() << "sanitizers' shadow memory makes RSS meaningless";
  lite_malloc_trim(0);
  const size_t start = Rss();
  lite_test::Rng rng(11);
  size_t peak_live = 0, peak_rss = 0;
  for (int burst = 0; burst < 150; burst++) {
    void* blocks[12];
    const size_t count = 4 + rng.Next() % 9;
    size_t live = 0;
    for (size_t i = 0; i < count; i++) {
      const size_t n = 64 * kKiB + rng.Next() % (8 * kMiB - 64 * kKiB);
      blocks[i] = lite_malloc(n);
      ASSERT_NE(blocks[i], nullptr);
      for (size_t off = 0; off < n; off += 4096) static_cast<char*>(blocks[i])[off] = 1;
      live += n;
    }
    peak_live = std::max(peak_live, live);
    peak_rss = std::max(peak_rss, Rss());
    for (size_t i = 0; i < count; i++) lite_free(blocks[i]);
  }
  const size_t over = peak_rss > start + peak_live ? peak_rss - start - peak_live : 0;
  printf("random bursts: peak live %zu KiB, peak RSS %zu KiB over start, %zu KiB above the live peak\n",
         peak_live >> 10, (peak_rss - start) >> 10, over >> 10);
  // Budget (1/16 + 2 MiB), plus medium blocks' segments and a loaded machine's noise.
  EXPECT_LE(over, peak_live / 16 + 2 * kMiB + 8 * kMiB);
}

// Pages freed as large blocks of one size serve a block of another size:
// the cache moves them (mremap) into the new block instead of leaving them
// idle and faulting fresh ones in, and calloc still returns zeros.
long MinorFaults() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

void Touch(void* p, size_t n, char value) {
  for (size_t off = 0; off < n; off += 4096) static_cast<char*>(p)[off] = value;
}

TEST(AddressSpace, LargeBlocksFreedServeOtherSizesFromTheirPages) {
  if (lite_test::kAsan || lite_test::kTsan) GTEST_SKIP() << "sanitizers fault their shadow in";
  lite_malloc_trim(0);
  void* parts[4];
  for (void*& p : parts) {
    p = lite_malloc(3 * kMiB + 4096);
    ASSERT_NE(p, nullptr);
    Touch(p, 3 * kMiB + 4096, 1);
  }
  for (void* p : parts) lite_free(p);
  const size_t big = 10 * kMiB;
  const long before = MinorFaults();
  char* q = static_cast<char*>(lite_malloc(big));
  ASSERT_NE(q, nullptr);
  Touch(q, big, 2);
  const long faults = MinorFaults() - before;
  printf("a 10 MiB block after four freed 3 MiB ones: %ld page faults (%zu pages)\n", faults, big / 4096);
  EXPECT_LT(faults, static_cast<long>(big / 4096 / 4));  // most pages were already resident
  lite_free(q);
  char* z = static_cast<char*>(lite_calloc(1, big));
  ASSERT_NE(z, nullptr);
  size_t nonzero = 0;
  for (size_t i = 0; i < big; i++) nonzero += z[i] != 0;
  EXPECT_EQ(nonzero, 0u);
  lite_free(z);
  lite_malloc_trim(0);
}

// Blocks made of moved pages keep their contents through growth, shrinking
// and reuse, and the kernel mappings they are made of stay bounded.
size_t KernelMappings() {
  FILE* f = fopen("/proc/self/maps", "r");
  if (f == nullptr) return 0;
  size_t lines = 0;
  for (int c; (c = fgetc(f)) != EOF;) lines += c == '\n';
  fclose(f);
  return lines;
}

uint64_t Stamp(const void* p, size_t off) { return (reinterpret_cast<uintptr_t>(p) + off) * 0x9e3779b97f4a7c15ull; }

void Fill(void* p, size_t n) {
  for (size_t off = 0; off + 8 <= n; off += 4096) {
    const uint64_t v = Stamp(p, off);
    memcpy(static_cast<char*>(p) + off, &v, 8);
  }
}

// Checks the stamps Fill wrote at `from` in the first n bytes now at p.
bool Filled(const void* p, const void* from, size_t n) {
  for (size_t off = 0; off + 8 <= n; off += 4096) {
    uint64_t v;
    memcpy(&v, static_cast<const char*>(p) + off, 8);
    if (v != Stamp(from, off)) return false;
  }
  return true;
}

TEST(AddressSpace, LargeBlocksOfMovedPagesKeepTheirContents) {
  lite_malloc_trim(0);
  const size_t mappings_before = KernelMappings();
  lite_test::Rng rng(29);
  size_t most_mappings = 0;
  for (int burst = 0; burst < 200 / lite_test::kWorkDivisor; burst++) {
    void* blocks[10];
    size_t sizes[10];
    const size_t count = 3 + rng.Next() % 8;
    for (size_t i = 0; i < count; i++) {
      sizes[i] = 200 * kKiB + rng.Next() % (6 * kMiB);
      blocks[i] = lite_malloc(sizes[i]);
      ASSERT_NE(blocks[i], nullptr);
      Fill(blocks[i], sizes[i]);
    }
    for (size_t i = 0; i < count; i++) {
      ASSERT_TRUE(Filled(blocks[i], blocks[i], sizes[i])) << "burst " << burst << " block " << i;
      if (rng.Next() % 3 == 0) {  // grow or shrink, then check what was kept
        const size_t n = 200 * kKiB + rng.Next() % (9 * kMiB);
        void* from = blocks[i];
        void* q = lite_realloc(blocks[i], n);
        ASSERT_NE(q, nullptr);
        ASSERT_TRUE(Filled(q, from, std::min(n, sizes[i]) & ~size_t{4095})) << "realloc in burst " << burst;
        blocks[i] = q;
        sizes[i] = n;
        Fill(q, n);
      }
    }
    most_mappings = std::max(most_mappings, KernelMappings());
    for (size_t i = 0; i < count; i++) {
      ASSERT_TRUE(Filled(blocks[i], blocks[i], sizes[i])) << "burst " << burst << " block " << i;
      lite_free(blocks[i]);
    }
  }
  printf("kernel mappings: %zu before, at most %zu during the bursts\n", mappings_before, most_mappings);
  // 32 cached mappings of at most 32 pieces each, plus the live blocks'.
  EXPECT_LE(most_mappings, mappings_before + 32 * 32 + 10 * 32);
  EXPECT_EQ(Stats().large_blocks, 0u);
  lite_malloc_trim(0);
}

// Each fresh large mapping is placed at its first try, right below the one
// before it, whatever its size: one mmap and no munmap. (A try at an address
// that is taken costs a failed mmap, then an over-sized one and two munmaps
// to trim it; that happened to every block larger than the one before.)
TEST(AddressSpace, FreshLargeMappingsOfGrowingSizesCostOneMmapEach) {
  lite_malloc_trim(0);  // nothing cached: every block below is a fresh mapping
  const lite_malloc_os_stats before = OsStats();
  void* blocks[12];
  for (size_t i = 0; i < 12; i++) {
    blocks[i] = lite_malloc((i + 1) * kMiB + 12345);
    ASSERT_NE(blocks[i], nullptr);
    memset(blocks[i], 1, 4096);
  }
  const lite_malloc_os_stats after = OsStats();
  for (void* p : blocks) lite_free(p);
  lite_malloc_trim(0);
  printf("12 growing large blocks: %llu mmap, %llu munmap\n",
         static_cast<unsigned long long>(after.maps - before.maps),
         static_cast<unsigned long long>(after.unmaps - before.unmaps));
  // Margin: another thread or the kernel may take the next address once or
  // twice, and a new descriptor chunk or map table is one more mmap.
  EXPECT_LE(after.maps - before.maps, 12u + 4u);
  EXPECT_LE(after.unmaps - before.unmaps, 4u);
}

TEST(AddressSpace, LargeBurstsReuseTheirMappingsUntilTheyStayIdle) {
  lite_malloc_trim(0);
  for (int i = 0; i < 3; i++) Burst();  // warm up
  const lite_malloc_os_stats warm = OsStats();
  for (int i = 0; i < 20; i++) Burst();
  const lite_malloc_os_stats after = OsStats();
  printf("20 bursts of 16 large blocks: %llu mmap, %llu munmap, %llu mremap; %zu MiB cached\n",
         static_cast<unsigned long long>(after.maps - warm.maps),
         static_cast<unsigned long long>(after.unmaps - warm.unmaps),
         static_cast<unsigned long long>(after.remaps - warm.remaps), after.large_cached_bytes >> 20);
  EXPECT_EQ(after.maps, warm.maps);
  EXPECT_EQ(after.unmaps, warm.unmaps);
  EXPECT_GE(after.large_cached_bytes, 16 * kMiB);
  // Idle for longer than the delay, then a few calls: the cache is unmapped.
  lite_malloc_os_stats idle = after;
  for (int waited_ms = 0; waited_ms < 5000 && idle.large_cached_bytes != 0; waited_ms += 50) {
    usleep(50 * 1000);
    void* v[64];  // fresh medium blocks: the allocator's slow path, where the decay ticks
    for (void*& p : v) p = lite_malloc(64 * kKiB);
    for (void* p : v) lite_free(p);
    idle = OsStats();
  }
  EXPECT_EQ(idle.large_cached_bytes, 0u);
  EXPECT_GT(idle.unmaps, after.unmaps);
}

}  // namespace
