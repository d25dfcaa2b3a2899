// Walks the failure paths of the OS layer with fault injection (:core_faults,
// LITE_MALLOC_FAULT_INJECTION=1): for N = 0, 1, 2, ... a forked child makes
// the (N+1)th mmap (or munmap, or madvise) fail and runs a fixed mixed
// workload: every entry point, small to 40 MiB, aligned, reallocs that grow
// and shrink, two new threads (each one's first allocation maps its front)
// that free some of the main thread's blocks. Every failed call must be NULL
// (or ENOMEM from posix_memalign) with errno ENOMEM, every block handed out
// must keep its contents until freed, and nothing may crash. Then the child
// turns the faults off and runs the workload again: it must succeed
// completely. The parent process never allocates with lite_malloc, so each
// child starts from an empty allocator and the walk is the same every time.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <string>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/faults/child_util.h"

// Walks take every LITE_WALK_STRIDE-th N of their range (the hardened
// variant's workload is slower: without a cache of freed mappings, and with
// guard pages, large reallocs always copy).
#ifndef LITE_WALK_STRIDE
#define LITE_WALK_STRIDE 1
#endif

namespace {

using lite_faults::ChildReport;
using lite_faults::ChildResult;
using lite_faults::kKiB;
using lite_faults::kMiB;
using lite_faults::PatternByte;
using lite_faults::RunInChild;

// Patterns over the first and the last 4 KiB of a block (all of it when
// smaller): enough to see a lost or moved block, cheap for 40 MiB ones.
constexpr size_t kHead = 4 * kKiB, kTail = 4 * kKiB;

template <typename F>
void ForEdges(size_t n, F f) {
  if (n <= kHead + kTail) {
    for (size_t i = 0; i < n; i++) f(i);
    return;
  }
  for (size_t i = 0; i < kHead; i++) f(i);
  for (size_t i = n - kTail; i < n; i++) f(i);
}

// Byte i of the pattern is the same whatever the block's size, so a prefix
// can be checked after realloc.
void Fill(void* p, size_t n, uint64_t seed) {
  unsigned char* b = static_cast<unsigned char*>(p);
  if (n <= kHead + kTail) return lite_faults::FillPattern(p, n, seed);
  lite_faults::FillPattern(b, kHead, seed);
  ForEdges(n, [&](size_t i) {
    if (i >= kHead) b[i] = PatternByte(seed, i);
  });
}

// Checks the first n bytes of a block filled over `filled` bytes.
bool Check(const void* p, size_t n, size_t filled, uint64_t seed) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  size_t head = filled <= kHead + kTail ? filled : kHead;
  if (head > n) head = n;
  if (!lite_faults::CheckPattern(b, head, seed)) return false;
  bool ok = true;
  ForEdges(filled, [&](size_t i) {
    if (i >= head && i < n && b[i] != PatternByte(seed, i)) ok = false;
  });
  return ok;
}

bool EdgesZero(const void* p, size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  bool ok = true;
  ForEdges(n, [&](size_t i) {
    if (b[i] != 0) ok = false;
  });
  return ok;
}

struct Block {
  void* p;
  size_t size;
  uint64_t seed;
};

constexpr size_t kSizes[] = {16,    100,        1000,   5000,   20000,
                             40000, 100 * kKiB, 200000, 300000, 768 * kKiB};
constexpr size_t kNumSizes = sizeof kSizes / sizeof kSizes[0];

// One thread's share of the workload. `strict`: no call may fail.
struct Worker {
  Block blocks[256];
  size_t n = 0;
  size_t failures = 0;
  bool strict = false;

  // Records the result of an allocation of `size` bytes.
  void Took(void* p, size_t size, uint64_t seed, const char* what) {
    if (p == nullptr) {
      const int err = errno;
      failures++;
      CHILD_CHECK_MSG(err == ENOMEM, "%s(%zu) failed with errno %d", what, size, err);
      CHILD_CHECK_MSG(!strict, "%s(%zu) failed with faults off", what, size);
      return;
    }
    CHILD_CHECK_MSG(lite_malloc_usable_size(p) >= size, "%s(%zu): usable size %zu", what, size,
                    lite_malloc_usable_size(p));
    Fill(p, size, seed);
    blocks[n++] = {p, size, seed};
  }

  // The allocation of kind `k` (one per entry point) of `size` bytes.
  void Allocate(int k, size_t size, uint64_t seed) {
    errno = 0;
    switch (k % 7) {
      case 0:
        Took(lite_malloc(size), size, seed, "malloc");
        break;
      case 1: {
        void* p = lite_calloc(1, size);
        if (p != nullptr) CHILD_CHECK_MSG(EdgesZero(p, size), "calloc(%zu) not zero", size);
        Took(p, size, seed, "calloc");
        break;
      }
      case 2:
        Took(lite_memalign(64, size), size, seed, "memalign(64)");
        break;
      case 3: {
        void* p = lite_memalign(size_t{1} << 20, size);
        if (p != nullptr) CHILD_CHECK(reinterpret_cast<uintptr_t>(p) % (size_t{1} << 20) == 0);
        Took(p, size, seed, "memalign(1 MiB)");
        break;
      }
      case 4: {
        void* p = reinterpret_cast<void*>(0x1234);
        int rc = lite_posix_memalign(&p, 4096, size);
        if (rc != 0) {
          CHILD_CHECK_MSG(rc == ENOMEM, "posix_memalign(%zu) returned %d", size, rc);
          CHILD_CHECK_MSG(p == reinterpret_cast<void*>(0x1234), "posix_memalign wrote *memptr");
          errno = ENOMEM;
          p = nullptr;
        }
        Took(p, size, seed, "posix_memalign");
        break;
      }
      case 5:
        Took(lite_valloc(size), size, seed, "valloc");
        break;
      default:
        Took(lite_realloc(nullptr, size), size, seed, "realloc(NULL)");
        break;
    }
  }

  // Reallocates block i to `size`; on failure the block must be intact.
  void Realloc(size_t i, size_t size) {
    Block& b = blocks[i];
    errno = 0;
    void* q = lite_realloc(b.p, size);
    if (q == nullptr) {
      failures++;
      CHILD_CHECK_MSG(errno == ENOMEM, "realloc(%zu -> %zu) failed with errno %d", b.size, size,
                      errno);
      CHILD_CHECK_MSG(!strict, "realloc(%zu -> %zu) failed with faults off", b.size, size);
      CHILD_CHECK_MSG(Check(b.p, b.size, b.size, b.seed), "failed realloc(%zu -> %zu) lost data",
                      b.size, size);
      return;
    }
    const size_t kept = size < b.size ? size : b.size;
    CHILD_CHECK_MSG(Check(q, kept, b.size, b.seed), "realloc(%zu -> %zu) lost data", b.size, size);
    b.p = q;
    b.size = size;
    b.seed += 1000;
    Fill(q, size, b.seed);
  }

  void VerifyAll() {
    for (size_t i = 0; i < n; i++) {
      const Block& b = blocks[i];
      if (b.p == nullptr) continue;
      CHILD_CHECK_MSG(Check(b.p, b.size, b.size, b.seed), "block of %zu bytes lost its contents",
                      b.size);
      CHILD_CHECK_MSG(lite_malloc_owns(b.p), "block of %zu bytes not owned", b.size);
    }
  }

  void FreeAll() {
    for (size_t i = 0; i < n; i++) lite_free(blocks[i].p);
    n = 0;
  }
};

// Blocks the main thread hands to a thread to free (remote frees).
struct Handoff {
  Worker* owner;
  size_t first, step;
  Worker mine;
  uint64_t seed;
};

void* ThreadMain(void* arg) {
  Handoff* h = static_cast<Handoff*>(arg);
  Worker& w = h->mine;
  for (int i = 0; i < 14; i++) w.Allocate(i, kSizes[(i * 3 + h->seed) % kNumSizes], h->seed + i);
  // Free some of the main thread's blocks (its pages get remote frees).
  for (size_t i = h->first; i < h->owner->n; i += h->step) {
    Block& b = h->owner->blocks[i];
    CHILD_CHECK_MSG(Check(b.p, b.size, b.size, b.seed), "main's block of %zu bytes lost", b.size);
    lite_free(b.p);
    b.p = nullptr;
  }
  for (size_t i = 0; i < w.n; i++) w.Realloc(i, w.blocks[i].size * 3 / 2 + 1);
  for (size_t i = 0; i < w.n; i++) w.Realloc(i, w.blocks[i].size / 5 + 1);
  w.VerifyAll();
  w.FreeAll();
  return nullptr;
}

// The workload; returns how many calls failed.
size_t RunWorkload(bool strict, bool bulk_small) {
  static Worker main_worker;
  Worker& w = main_worker;
  w = Worker();
  w.strict = strict;
  for (int i = 0; i < 42; i++) w.Allocate(i, kSizes[i % kNumSizes], static_cast<uint64_t>(i) + 1);
  // Larger than any mapping lite_malloc keeps for reuse: unmapped on free.
  for (int k = 0; k < 2; k++) {
    errno = 0;
    void* huge = k == 0 ? lite_malloc(40 * kMiB) : lite_calloc(1, 40 * kMiB);
    if (huge == nullptr) {
      w.failures++;
      CHILD_CHECK(errno == ENOMEM);
      CHILD_CHECK(!strict);
    } else {
      if (k == 1) CHILD_CHECK(EdgesZero(huge, 40 * kMiB));
      Fill(huge, 40 * kMiB, 77);
      CHILD_CHECK(Check(huge, 40 * kMiB, 40 * kMiB, 77));
      lite_free(huge);
    }
  }

  static Handoff h[2];
  pthread_t t[2];
  for (int k = 0; k < 2; k++) {
    h[k].owner = &w;
    h[k].first = static_cast<size_t>(k);
    h[k].step = 4;
    h[k].mine = Worker();
    h[k].mine.strict = strict;
    h[k].seed = 500 + 100 * static_cast<uint64_t>(k);
  }
  // One after the other: the remote frees must not race on main's table.
  for (int k = 0; k < 2; k++) {
    if (!CHILD_CHECK(pthread_create(&t[k], nullptr, ThreadMain, &h[k]) == 0)) return 0;
    pthread_join(t[k], nullptr);
  }

  // Compact main's table (the threads freed some of its blocks).
  size_t kept = 0;
  for (size_t i = 0; i < w.n; i++)
    if (w.blocks[i].p != nullptr) w.blocks[kept++] = w.blocks[i];
  w.n = kept;
  for (size_t i = 0; i < w.n; i++) w.Realloc(i, w.blocks[i].size * 3 / 2 + 1000);
  for (size_t i = 0; i < w.n; i++) w.Realloc(i, w.blocks[i].size / 4 + 1);
  w.VerifyAll();

  if (bulk_small) {
    // 6 MiB of small blocks, freed: pages go back, past the 4 MiB bound
    // purges run.
    static void* bulk[6144];
    size_t got = 0;
    for (size_t i = 0; i < 6144; i++) {
      errno = 0;
      void* p = lite_malloc(1000);
      if (p == nullptr) {
        w.failures++;
        CHILD_CHECK(errno == ENOMEM);
        CHILD_CHECK(!strict);
        continue;
      }
      memset(p, 0x42, 1000);
      bulk[got++] = p;
    }
    for (size_t i = 0; i < got; i++) lite_free(bulk[i]);
    w.VerifyAll();
  }
  int trimmed = lite_malloc_trim(0);
  CHILD_CHECK(trimmed == 0 || trimmed == 1);
  w.VerifyAll();
  w.FreeAll();
  trimmed = lite_malloc_trim(0);
  CHILD_CHECK(trimmed == 0 || trimmed == 1);
  return w.failures + h[0].mine.failures + h[1].mine.failures;
}

struct WalkResult {
  int children = 0;
  int with_failures = 0;  // children in which some call failed
  std::string problems;
};

// For N = 0, step, 2 step, ... <= max_n: fault `op` after N successful calls
// (`count` calls fail), run the workload, then run it again without faults.
WalkResult Walk(lite_malloc_fault op, unsigned long max_n, unsigned long step, unsigned long count,
                bool bulk_small) {
  WalkResult result;
  for (unsigned long n = 0; n <= max_n; n += step * LITE_WALK_STRIDE) {
    ChildResult r = RunInChild(
        [&] {
          if (!CHILD_CHECK(lite_malloc_fault_inject(op, n, count) == 0)) return;
          size_t failures = RunWorkload(false, bulk_small);
          CHILD_CHECK(lite_malloc_fault_inject(op, 0, 0) == 0);
          RunWorkload(true, bulk_small);
          ChildReport("failures=%zu", failures);
        },
        30);
    result.children++;
    if (!r.Passed()) {
      result.problems += "N=" + std::to_string(n) + ": " + r.Describe();
      continue;
    }
    long long failures = lite_faults::ValueOf(r.report, "failures");
    if (failures > 0) result.with_failures++;
  }
  printf("%d children, %d saw calls fail\n", result.children, result.with_failures);
  return result;
}

// One workload makes a few dozen mmap calls (fewer when the kernel takes the
// alignment hint), up to 140 munmap calls and a dozen madvise calls (strace):
// the single-fault walks take every mmap call, every third munmap call and the
// first madvise calls. N past the last call of the workload injects nothing.
TEST(FaultWalk, EachMmapFailsOnce) {
  WalkResult r = Walk(LITE_FAULT_MMAP, 69, 1, 1, false);
  EXPECT_EQ(r.problems, "");
  // The walk reaches failures that callers see (some are absorbed: a failed
  // batch of segments falls back to a single segment).
  EXPECT_GE(r.with_failures, 8) << r.children << " children";
}

TEST(FaultWalk, EveryMmapFailsFromTheNth) {
  WalkResult r = Walk(LITE_FAULT_MMAP, 72, 8, 1000000, false);
  EXPECT_EQ(r.problems, "");
  // Until N passes the number of mmap calls of the workload, some call fails.
  EXPECT_GE(r.with_failures, 2) << r.children << " children";
}

TEST(FaultWalk, EachMunmapFailsOnce) {
  WalkResult r = Walk(LITE_FAULT_MUNMAP, 140, 3, 1, false);
  EXPECT_EQ(r.problems, "");
}

TEST(FaultWalk, EveryMunmapFailsFromTheNth) {
  WalkResult r = Walk(LITE_FAULT_MUNMAP, 100, 10, 1000000, false);
  EXPECT_EQ(r.problems, "");
}

TEST(FaultWalk, EachMadviseFailsOnce) {
  WalkResult r = Walk(LITE_FAULT_MADVISE, 11, 1, 1, true);
  EXPECT_EQ(r.problems, "");
}

TEST(FaultWalk, EveryMadviseFails) {
  WalkResult r = Walk(LITE_FAULT_MADVISE, 0, 1, 1000000, true);
  EXPECT_EQ(r.problems, "");
}

// madvise failing while the statistics watch: a purge that could not return
// memory, and trim, leave consistent figures and working memory.
TEST(FaultWalk, TrimWithFailingMadvise) {
  ChildResult r = RunInChild([] {
    static void* v[20000];
    for (size_t i = 0; i < 20000; i++) {
      v[i] = lite_malloc(1000);
      if (!CHILD_CHECK(v[i] != nullptr)) return;
      memset(v[i], 0x33, 1000);
    }
    CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MADVISE, 0, 1000000) == 0);
    for (size_t i = 0; i < 20000; i++) lite_free(v[i]);
    int trimmed = lite_malloc_trim(0);
    CHILD_CHECK(trimmed == 0 || trimmed == 1);
    lite_malloc_stats s;
    lite_malloc_get_stats(&s);
    CHILD_CHECK(s.mapped_bytes >= s.dirty_bytes);
    // The memory is still usable, contents as written.
    for (size_t i = 0; i < 20000; i++) {
      v[i] = lite_malloc(1000);
      if (!CHILD_CHECK(v[i] != nullptr)) return;
      memset(v[i], 0x44, 1000);
    }
    for (size_t i = 0; i < 20000; i++) {
      const unsigned char* b = static_cast<const unsigned char*>(v[i]);
      if (!CHILD_CHECK(b[0] == 0x44 && b[999] == 0x44)) break;
      lite_free(v[i]);
    }
    CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MADVISE, 0, 0) == 0);
    trimmed = lite_malloc_trim(0);
    CHILD_CHECK(trimmed == 0 || trimmed == 1);
  });
  EXPECT_TRUE(r.Passed()) << r.Describe();
}

// Cached large mappings lend their pages to a larger block (gathering) and
// give their tails to smaller ones (splitting), both by mremap. With the
// N-th mapping call failing, for every N the walk reaches, each block that
// malloc or calloc returns is whole: every page can be written (a failed
// move may leave its target unmapped, and the allocator must map it again),
// calloc's is zero, and everything freed works again afterwards.
TEST(FaultWalk, FailingMovesOfCachedLargePagesLeaveWholeBlocks) {
  int with_failures = 0;
  for (unsigned long n = 0; n <= 24; n++) {
    ChildResult r = RunInChild(
        [n] {
          static const size_t sizes[] = {3 * kMiB + 4096, 700 * 1024, 5 * kMiB, 2 * kMiB + 8192};
          void* cached[4];
          for (int i = 0; i < 4; i++) {
            cached[i] = lite_malloc(sizes[i]);
            if (!CHILD_CHECK(cached[i] != nullptr)) return;
            memset(cached[i], 0x5a, sizes[i]);
          }
          for (void* p : cached) lite_free(p);
          CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MMAP, n, 1) == 0);
          size_t failures = 0;
          static const size_t wants[] = {10 * kMiB, 300 * 1024, 6 * kMiB, 1 * kMiB};
          for (int round = 0; round < 3; round++) {
            for (size_t want : wants) {
              bool zero = round == 1;
              unsigned char* p = static_cast<unsigned char*>(zero ? lite_calloc(1, want) : lite_malloc(want));
              if (p == nullptr) {
                failures++;
                continue;
              }
              if (zero)
                for (size_t i = 0; i < want; i += 512)
                  if (!CHILD_CHECK(p[i] == 0)) return;
              memset(p, 0x11, want);  // a hole in the block faults here
              lite_free(p);
            }
          }
          CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MMAP, 0, 0) == 0);
          for (size_t want : wants) {
            void* p = lite_malloc(want);
            if (!CHILD_CHECK(p != nullptr)) return;
            memset(p, 0x22, want);
            lite_free(p);
          }
          ChildReport("failures=%zu", failures);
        },
        30);
    ASSERT_TRUE(r.Passed()) << "N=" << n << ": " << r.Describe();
    if (lite_faults::ValueOf(r.report, "failures") > 0) with_failures++;
  }
  printf("%d of 25 children saw an allocation fail\n", with_failures);
}

// A large block that cannot grow in place (the address space right after it
// is taken) moves on realloc: its contents must move with it, whatever its
// alignment (an alignment of 8 to 64 KiB puts the block up to 64 KiB past its
// mapping's header, with no gap unmapped between them).
TEST(LargeRealloc, BlockThatCannotGrowInPlaceKeepsItsContents) {
  for (size_t alignment : {size_t{0}, size_t{8192}, size_t{16384}, size_t{65536},
                           size_t{1} << 20}) {
    SCOPED_TRACE(testing::Message() << "alignment " << alignment);
    const size_t size = 200000;
    unsigned char* p = static_cast<unsigned char*>(
        alignment == 0 ? lite_malloc(size) : lite_memalign(alignment, size));
    ASSERT_NE(p, nullptr);
    if (alignment != 0) EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignment, 0u);
    lite_faults::FillPattern(p, size, alignment + 1);
    // A page right after the block, so that it cannot grow in place (in a
    // hardened build the guard page is there already and this fails).
    void* end = p + lite_malloc_usable_size(p);
    void* wall = mmap(end, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                      -1, 0);
    unsigned char* q = static_cast<unsigned char*>(lite_realloc(p, kMiB));
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(lite_faults::CheckPattern(q, size, alignment + 1))
        << "realloc " << static_cast<void*>(p) << " -> " << static_cast<void*>(q)
        << " lost the contents";
    EXPECT_GE(lite_malloc_usable_size(q), kMiB);
    memset(q, 0x11, kMiB);
    lite_free(q);
    if (wall != MAP_FAILED) munmap(wall, 4096);
  }
}

// The same when the gap before an aligned block could not be unmapped (munmap
// failing): the block sits 1 MiB past its header.
TEST(LargeRealloc, AlignedBlockWithItsGapStillMappedKeepsItsContents) {
  ChildResult r = RunInChild([] {
    CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MUNMAP, 0, 1000000) == 0);
    const size_t size = 200000;
    unsigned char* p = static_cast<unsigned char*>(lite_memalign(size_t{1} << 20, size));
    if (!CHILD_CHECK(p != nullptr)) return;
    lite_faults::FillPattern(p, size, 5);
    void* end = p + lite_malloc_usable_size(p);
    void* wall = mmap(end, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                      -1, 0);
    unsigned char* q = static_cast<unsigned char*>(lite_realloc(p, kMiB));
    if (!CHILD_CHECK(q != nullptr)) return;
    CHILD_CHECK_MSG(lite_faults::CheckPattern(q, size, 5), "realloc %p -> %p lost the contents",
                    static_cast<void*>(p), static_cast<void*>(q));
    lite_free(q);
    if (wall != MAP_FAILED) munmap(wall, 4096);
  });
  EXPECT_TRUE(r.Passed()) << r.Describe();
}

}  // namespace
