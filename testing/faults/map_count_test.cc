// The kernel's limit on mappings per process (vm.max_map_count). A forked
// child fills it with one-page mappings of alternating protection (so the
// kernel cannot merge neighbours) until mmap fails; lite_malloc must then
// answer every request that needs a new mapping with NULL and ENOMEM, keep
// serving what fits in memory it already holds, and work again once some
// mappings are gone.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/faults/child_util.h"

namespace {

using lite_faults::CheckPattern;
using lite_faults::ChildResult;
using lite_faults::FillPattern;
using lite_faults::kMiB;
using lite_faults::RunInChild;

long MaxMapCount() {
  FILE* f = fopen("/proc/sys/vm/max_map_count", "r");
  if (f == nullptr) return -1;
  long n = -1;
  if (fscanf(f, "%ld", &n) != 1) n = -1;
  fclose(f);
  return n;
}

// Above this the test would need too much time and kernel memory.
constexpr long kMaxMapCountTested = 1 << 20;

// One-page mappings that fill the process's mapping table.
struct MapFiller {
  void** pages = nullptr;
  size_t count = 0, capacity = 0;

  // Maps pages until mmap fails; false if it never failed (within capacity).
  bool Fill(long max_map_count) {
    capacity = static_cast<size_t>(max_map_count) + 1000;
    pages = static_cast<void**>(mmap(nullptr, capacity * sizeof(void*), PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
    if (pages == MAP_FAILED) return false;
    while (count < capacity) {
      void* p = mmap(nullptr, 4096, count % 2 ? PROT_READ : PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return errno == ENOMEM;
      pages[count++] = p;
    }
    return false;
  }
  // Unmaps the last n (whole mappings, so no split is needed).
  void Release(size_t n) {
    while (n-- > 0 && count > 0) munmap(pages[--count], 4096);
  }
  void ReleaseAll() {
    Release(count);
    munmap(pages, capacity * sizeof(void*));
  }
};

// Blocks chained through their first word.
struct Chain {
  void* head = nullptr;
  size_t count = 0;
  void Push(void* p) {
    *static_cast<void**>(p) = head;
    head = p;
    count++;
  }
  void FreeAll() {
    while (head != nullptr) {
      void* next = *static_cast<void**>(head);
      lite_free(head);
      head = next;
    }
    count = 0;
  }
};

TEST(MapCount, ExhaustedMappingTableGivesEnomemAndRecovers) {
  const long max = MaxMapCount();
  if (max <= 0) GTEST_SKIP() << "no /proc/sys/vm/max_map_count";
  if (max > kMaxMapCountTested) GTEST_SKIP() << "vm.max_map_count is " << max << ", too many to fill";

  ChildResult r = RunInChild([max] {
    // Memory lite_malloc holds before the table is full: a first segment
    // batch (the current segment and spares), a live large block, a live
    // small block.
    void* keep = lite_malloc(100);
    void* big = lite_malloc(2 * kMiB);
    if (!CHILD_CHECK(keep != nullptr && big != nullptr)) return;
    FillPattern(keep, 100, 1);
    FillPattern(big, 2 * kMiB, 2);
    lite_malloc_stats before;
    lite_malloc_get_stats(&before);

    MapFiller filler;
    if (!CHILD_CHECK_MSG(filler.Fill(max), "mmap never failed after %zu mappings", filler.count))
      return;

    // Every request that needs a new mapping fails cleanly.
#define EXPECT_ENOMEM(call)                                                     \
  do {                                                                          \
    errno = 0;                                                                  \
    void* r_ = (call);                                                          \
    CHILD_CHECK_MSG(r_ == nullptr, "%s returned %p", #call, r_);                \
    CHILD_CHECK_MSG(errno == ENOMEM, "%s: errno %d", #call, errno);             \
    if (r_ != nullptr) lite_free(r_);                                           \
  } while (0)
    EXPECT_ENOMEM(lite_malloc(kMiB));
    EXPECT_ENOMEM(lite_malloc(64 * kMiB));
    EXPECT_ENOMEM(lite_calloc(1, 4 * kMiB));
    EXPECT_ENOMEM(lite_memalign(size_t{1} << 20, 100));
    EXPECT_ENOMEM(lite_aligned_alloc(size_t{1} << 22, size_t{1} << 22));
    void* out = reinterpret_cast<void*>(0x1234);
    CHILD_CHECK(lite_posix_memalign(&out, 256 * 1024, 100) == ENOMEM);
    CHILD_CHECK(out == reinterpret_cast<void*>(0x1234));

    // Small blocks come from the segments already mapped, until those are
    // full; then they fail the same way.
    errno = 0;
    void* small = lite_malloc(100);
    CHILD_CHECK_MSG(small != nullptr, "malloc(100) from a mapped segment failed");
    lite_free(small);
    Chain chain;
    for (size_t i = 0; i < (size_t{1} << 22); i++) {
      errno = 0;
      void* p = lite_malloc(1000);
      if (p == nullptr) {
        CHILD_CHECK_MSG(errno == ENOMEM, "malloc(1000) failed with errno %d", errno);
        break;
      }
      chain.Push(p);
    }
    CHILD_CHECK_MSG(chain.count >= 1000, "only %zu small blocks", chain.count);
    CHILD_CHECK_MSG(chain.count < (size_t{1} << 22), "small blocks never ran out");
    EXPECT_ENOMEM(lite_malloc(1000));
    EXPECT_ENOMEM(lite_malloc(20000));

    // A failed realloc keeps the block; a large block can still be freed
    // (possibly without giving its mapping back).
    EXPECT_ENOMEM(lite_realloc(keep, 64 * kMiB));
    CHILD_CHECK(CheckPattern(keep, 100, 1));
    void* grown = lite_realloc(big, 64 * kMiB);
    if (grown == nullptr) {
      CHILD_CHECK(errno == ENOMEM);
      CHILD_CHECK(CheckPattern(big, 2 * kMiB, 2));
    } else {
      CHILD_CHECK(CheckPattern(grown, 2 * kMiB, 2));
      big = grown;
    }
    chain.FreeAll();
    lite_malloc_trim(0);

    lite_malloc_stats full;
    lite_malloc_get_stats(&full);
    CHILD_CHECK(full.mappings >= before.mappings);

    // Room for a few mappings again: everything works.
    filler.Release(256);
    void* large = lite_malloc(kMiB);
    CHILD_CHECK_MSG(large != nullptr, "malloc(1 MiB) fails after mappings were released");
    if (large != nullptr) memset(large, 1, kMiB);
    for (size_t i = 0; i < 20000; i++) {
      void* p = lite_malloc(1000);
      if (!CHILD_CHECK_MSG(p != nullptr, "malloc(1000) #%zu fails after release", i)) break;
      chain.Push(p);
    }
    void* aligned = lite_memalign(size_t{1} << 20, 100);
    CHILD_CHECK(aligned != nullptr);
    lite_free(aligned);
    lite_free(large);
    chain.FreeAll();
    CHILD_CHECK(CheckPattern(keep, 100, 1));
    CHILD_CHECK(CheckPattern(big, 2 * kMiB, 2));
    lite_free(keep);
    lite_free(big);
    filler.ReleaseAll();
#undef EXPECT_ENOMEM
  });
  EXPECT_TRUE(r.Passed()) << r.Describe();
}

// Frees that must unmap (a large block beyond the cache, an aligned block
// with an unmapped gap, a realloc that shrinks a large block) while the
// mapping table is full: the kernel may refuse to split a mapping; nothing
// may crash and the blocks count as freed.
TEST(MapCount, FreesWhileTheTableIsFull) {
  const long max = MaxMapCount();
  if (max <= 0) GTEST_SKIP() << "no /proc/sys/vm/max_map_count";
  if (max > kMaxMapCountTested) GTEST_SKIP() << "vm.max_map_count is " << max << ", too many to fill";

  ChildResult r = RunInChild([max] {
    void* huge = lite_malloc(40 * kMiB);
    void* aligned = lite_memalign(size_t{1} << 20, 3 * kMiB);
    void* shrink = lite_malloc(8 * kMiB);
    void* small = lite_malloc(100);
    if (!CHILD_CHECK(huge && aligned && shrink && small)) return;
    FillPattern(shrink, 8 * kMiB, 3);
    lite_malloc_stats before;
    lite_malloc_get_stats(&before);

    MapFiller filler;
    if (!CHILD_CHECK(filler.Fill(max))) return;
    // Shrinking in place unmaps a tail, which splits a mapping; a build that
    // keeps a guard page moves the block instead, which needs a new mapping
    // and may fail (then the block stays as it was).
    errno = 0;
    void* shrunk = lite_realloc(shrink, 1 * kMiB);
    if (shrunk != nullptr) {
      CHILD_CHECK(CheckPattern(shrunk, kMiB, 3));
    } else {
      CHILD_CHECK(errno == ENOMEM);
      CHILD_CHECK(CheckPattern(shrink, 8 * kMiB, 3));
      shrunk = shrink;
    }
    lite_free(huge);
    lite_free(aligned);
    lite_free(shrunk);
    lite_free(small);
    lite_malloc_trim(0);
    lite_malloc_stats after;
    lite_malloc_get_stats(&after);
    CHILD_CHECK_MSG(after.large_blocks + 3 == before.large_blocks, "large blocks %zu -> %zu",
                    before.large_blocks, after.large_blocks);
    filler.ReleaseAll();
    void* p = lite_malloc(40 * kMiB);
    CHILD_CHECK(p != nullptr);
    lite_free(p);
  });
  EXPECT_TRUE(r.Passed()) << r.Describe();
}

}  // namespace
