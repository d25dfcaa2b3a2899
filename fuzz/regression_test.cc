// Deterministic reproductions of bugs the fuzz targets found, for the ones a
// corpus input can only reproduce by chance (they depend on where the kernel
// places mappings). Each test names the input or run that found it.
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"

namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGiB = size_t{1} << 30;

struct Range {
  uintptr_t start, end;
};

// The unmapped holes of the user address space (x86-64, 4-level page tables),
// except [keep.start, keep.end).
std::vector<Range> HolesExcept(Range keep) {
  std::vector<Range> holes;
  auto add = [&](uintptr_t start, uintptr_t end) {
    if (start < keep.start) holes.push_back({start, end < keep.start ? end : keep.start});
    if (end > keep.end) holes.push_back({start > keep.end ? start : keep.end, end});
  };
  FILE* maps = fopen("/proc/self/maps", "r");
  if (maps == nullptr) return holes;
  uintptr_t prev_end = 1 << 16;  // vm.mmap_min_addr
  unsigned long start, end;
  char line[512];
  while (fgets(line, sizeof(line), maps) != nullptr) {
    if (sscanf(line, "%lx-%lx", &start, &end) != 2) continue;
    if (start > prev_end) add(prev_end, start);
    if (end > prev_end) prev_end = end;
  }
  fclose(maps);
  const uintptr_t top = (uintptr_t{1} << 47) - 4096;
  if (prev_end < top) add(prev_end, top);
  return holes;
}

// Found by //fuzz:api_smoke_test (seed 1, input 77): posix_memalign(4 GiB)
// then memalign(1 GiB) placed the second block inside the unmapped gap
// between the first one's header and its block; freeing the first block then
// unregistered the second from the radix map, and malloc_usable_size of it
// aborted with "not allocated by lite_malloc".
//
// lite_large_map registers [base, block end) including the unmapped gap, and
// lite_large_unmap unregisters the whole range: any mapping the kernel puts
// in the gap meanwhile (a segment, another large block) loses its entries.
// Here every other hole of the address space is filled for a moment, so the
// kernel has to put the next mapping in the gap.
TEST(LargeBlockRegression, MappingInAlignmentGapSurvivesFreeOfTheAlignedBlock) {
  void* aligned = lite_memalign(kGiB, 1);
  ASSERT_NE(aligned, nullptr);
  const uintptr_t block = reinterpret_cast<uintptr_t>(aligned);
  const uintptr_t gap_start = block - kGiB + 4096;  // header page, then the gap

  // Fill every hole but the gap, map a large block, give the holes back. (No
  // system malloc in between: a sanitizer's allocator could find no room.)
  const std::vector<Range> holes = HolesExcept({gap_start, block});
  std::vector<Range> reserved;
  reserved.reserve(holes.size());
  for (const Range& hole : holes) {
    void* r = mmap(reinterpret_cast<void*>(hole.start), hole.end - hole.start, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (r == reinterpret_cast<void*>(hole.start)) {
      reserved.push_back(hole);
    } else if (r != MAP_FAILED) {
      munmap(r, hole.end - hole.start);
    }
  }
  void* large = lite_malloc(8 * kMiB);
  for (const Range& r : reserved) munmap(reinterpret_cast<void*>(r.start), r.end - r.start);
  ASSERT_NE(large, nullptr);
  const uintptr_t in_gap = reinterpret_cast<uintptr_t>(large);
  if (in_gap < gap_start || in_gap >= block) {
    lite_free(large);
    lite_free(aligned);
    GTEST_SKIP() << "the kernel did not place the block in the gap (sanitizer layout?)";
  }

  lite_free(aligned);
  const bool owned = lite_malloc_owns(large) != 0;
  EXPECT_TRUE(owned) << "the block at " << large << " (in the gap below " << aligned
                     << ") was unregistered when the aligned block was freed";
  if (owned) {
    EXPECT_GE(lite_malloc_usable_size(large), 8 * kMiB);
    lite_free(large);
  }
}

// Found by //fuzz:threads_smoke_test and //testing/stress:stress_test (they
// abort with "not allocated by lite_malloc" now and then): a realloc that
// shrinks a large block in place unmapped the tail before unregistering it
// from the radix map, so another thread's new mapping could land in the tail,
// register itself, and then lose its entries to the late unregister. The move
// of a growing block (lite_large_move) unregistered its old range after the
// pages had gone, the same way. A race: this test makes it likely, not sure.
TEST(LargeBlockRegression, NewMappingsSurviveConcurrentShrinksAndMoves) {
  std::atomic<bool> stop{false};
  std::atomic<long> lost{0};
  std::thread shrinker([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      void* p = lite_malloc(24 * kMiB);
      p = lite_realloc(p, 160 * 1024);   // shrinks in place: the tail goes
      p = lite_realloc(p, 12 * kMiB);    // grows: may move the block
      lite_free(p);
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline && lost.load() == 0) {
    void* blocks[16];
    for (void*& b : blocks) b = lite_malloc(2 * kMiB);
    for (void* b : blocks) {
      if (lite_malloc_owns(b)) {
        lite_free(b);
      } else {
        lost++;  // freeing it would abort; leave it
      }
    }
  }
  stop = true;
  shrinker.join();
  EXPECT_EQ(lost.load(), 0) << "large blocks lost their radix-map entries to a concurrent realloc";
}

// Found by the long run of //testing/stress:stress (SIGSEGV reading offset
// 0x238 of an unmapped large-block header) and by TSan in the stress tests
// (data race on large_map_end): lite_large_cache_take reads the span of a
// cached mapping before it owns it. Another thread can take that mapping
// meanwhile, and unmap it (a purge drains the cache) or resize it and put the
// same pointer back (so the CAS succeeds on a mapping of another size). Here
// two threads cycle large blocks through the cache while a third keeps
// draining it.
TEST(LargeBlockRegression, CacheTakeSurvivesConcurrentDrains) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  // Fill the cache with 1 MiB mappings, over and over.
  for (int i = 0; i < 2; i++) {
    threads.emplace_back([&] {
      void* blocks[8];
      while (!stop.load(std::memory_order_relaxed)) {
        for (void*& p : blocks) p = lite_malloc(kMiB);
        for (void* p : blocks) lite_free(p);
      }
    });
  }
  // Ask for sizes no cached mapping fits: each call reads every slot's span.
  // More threads than cores, so that some are preempted in the middle of it.
  for (int i = 0; i < 8; i++) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) lite_free(lite_malloc(3 * kMiB));
    });
  }
  // Drain the cache (a purge unmaps every cached mapping).
  threads.emplace_back([&] {
    while (!stop.load(std::memory_order_relaxed)) lite_malloc_trim(0);
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  for (std::thread& t : threads) t.join();
}

}  // namespace
