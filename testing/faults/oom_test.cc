// Out of memory under RLIMIT_AS. A forked child limits its address space to
// what it uses plus a margin, allocates until lite_malloc says no (large, then
// medium, then small blocks, round after round), and then checks every entry
// point: NULL (or ENOMEM from posix_memalign) with errno ENOMEM, old blocks
// intact after a failed realloc, a new thread's first allocation failing
// cleanly. Then it frees everything and checks that every entry point works
// again. Built twice: against //lite_malloc:core and against :core_faults
// (fault injection compiled in but not used), LITE_TEST_CORE_FAULTS=1.
//
// Segments are mapped in batches of 4 x 4 MiB with MAP_NORESERVE, which
// RLIMIT_AS counts all the same, so exhaustion is reached by allocating.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/faults/child_util.h"

#ifndef LITE_TEST_CORE_FAULTS
#define LITE_TEST_CORE_FAULTS 0
#endif

namespace {

using lite_faults::ChildResult;
using lite_faults::RunInChild;
using lite_faults::CheckPattern;
using lite_faults::FillPattern;
using lite_faults::kMiB;

// Address space this process has mapped (VmSize), in bytes.
size_t VmSize() {
  FILE* f = fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  size_t kb = 0;
  while (fgets(line, sizeof line, f) != nullptr) {
    if (sscanf(line, "VmSize: %zu kB", &kb) == 1) break;
  }
  fclose(f);
  return kb * 1024;
}

// Grows the main thread's stack mapping now, so that calls made once the
// address space is exhausted never need a new stack page.
__attribute__((noinline)) void PreGrowStack() {
  volatile char buf[512 * 1024];
  for (size_t i = 0; i < sizeof buf; i += 4096) buf[i] = 1;
  (void)buf[0];
}

bool LimitAddressSpace(size_t margin) {
  PreGrowStack();
  const size_t vm = VmSize();
  if (vm == 0) return false;
  // The soft limit only, so that it can be lifted again.
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0) return false;
  rl.rlim_cur = vm + margin;
  return setrlimit(RLIMIT_AS, &rl) == 0;
}

// Blocks chained through their first word, so keeping them needs no memory.
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

// Allocates `size` until NULL (at most `limit` blocks); returns how many.
size_t AllocateUntilNull(Chain* chain, size_t size, size_t limit) {
  size_t n = 0;
  for (; n < limit; n++) {
    errno = 0;
    void* p = lite_malloc(size);
    if (p == nullptr) {
      CHILD_CHECK_MSG(errno == ENOMEM, "malloc(%zu) failed with errno %d", size, errno);
      break;
    }
    chain->Push(p);
  }
  return n;
}

// A thread that waits for the go signal, then allocates once.
struct LateThread {
  int go[2] = {-1, -1};
  pthread_t thread;
  size_t size = 100;
  void* result = nullptr;
  int err = 0;
  static void* Main(void* arg) {
    LateThread* t = static_cast<LateThread*>(arg);
    char c;
    while (read(t->go[0], &c, 1) < 0 && errno == EINTR) {
    }
    errno = 0;
    t->result = lite_malloc(t->size);
    t->err = errno;
    if (t->result != nullptr) {
      memset(t->result, 0x77, t->size);
      lite_free(t->result);
    }
    return nullptr;
  }
  bool Start() { return pipe(go) == 0 && pthread_create(&thread, nullptr, Main, this) == 0; }
  void Run() {
    char c = 1;
    ssize_t w = write(go[1], &c, 1);
    (void)w;
    pthread_join(thread, nullptr);
  }
};

constexpr size_t kSmall = 100, kMedium = 20000, kLarge = 1 * kMiB;
constexpr size_t kMaxBlocks = size_t{1} << 22;

// Checks that every entry point fails with ENOMEM (the address space is
// exhausted). `keep` (kSmall bytes, seed 1) and `big` (2 MiB, seed 2) are live
// and must come through failed reallocs intact; `spare` (kSmall bytes, seed 3)
// is reallocated smaller and is freed here.
void CheckEverythingFails(void* keep, void* big, void* spare) {
#define EXPECT_ENOMEM(call)                                                                 \
  do {                                                                                      \
    errno = 0;                                                                              \
    void* r_ = (call);                                                                      \
    CHILD_CHECK_MSG(r_ == nullptr, "%s returned %p", #call, r_);                            \
    CHILD_CHECK_MSG(errno == ENOMEM, "%s: errno %d, not ENOMEM", #call, errno);             \
  } while (0)
  EXPECT_ENOMEM(lite_malloc(kSmall));
  EXPECT_ENOMEM(lite_malloc(24));
  EXPECT_ENOMEM(lite_malloc(0));
  EXPECT_ENOMEM(lite_malloc(kMedium));
  EXPECT_ENOMEM(lite_malloc(50000));
  EXPECT_ENOMEM(lite_malloc(kLarge));
  EXPECT_ENOMEM(lite_malloc(64 * kMiB));
  EXPECT_ENOMEM(lite_calloc(1, kSmall));
  EXPECT_ENOMEM(lite_calloc(10, 10));
  EXPECT_ENOMEM(lite_calloc(1000, 1000));
  EXPECT_ENOMEM(lite_calloc(1, 64 * kMiB));
  EXPECT_ENOMEM(lite_memalign(64, 100));
  EXPECT_ENOMEM(lite_memalign(4096, 4096));
  EXPECT_ENOMEM(lite_memalign(size_t{1} << 20, 10));
  EXPECT_ENOMEM(lite_aligned_alloc(64, 100));
  EXPECT_ENOMEM(lite_aligned_alloc(size_t{1} << 21, size_t{1} << 21));
  EXPECT_ENOMEM(lite_valloc(100));
  EXPECT_ENOMEM(lite_pvalloc(100));
  EXPECT_ENOMEM(lite_realloc(nullptr, kSmall));
  EXPECT_ENOMEM(lite_reallocarray(nullptr, 10, 10));

  void* const sentinel = reinterpret_cast<void*>(0x1234);
  for (size_t alignment : {size_t{64}, size_t{4096}, size_t{1} << 20}) {
    void* out = sentinel;
    errno = 0;
    int rc = lite_posix_memalign(&out, alignment, 100);
    CHILD_CHECK_MSG(rc == ENOMEM, "posix_memalign(%zu) returned %d", alignment, rc);
    CHILD_CHECK_MSG(out == sentinel, "posix_memalign(%zu) wrote *memptr", alignment);
  }

  // Failed reallocs leave the block where it was, with its contents.
  EXPECT_ENOMEM(lite_realloc(keep, kLarge));
  EXPECT_ENOMEM(lite_realloc(keep, kMedium));
  EXPECT_ENOMEM(lite_reallocarray(keep, 1000, 1000));
  CHILD_CHECK(CheckPattern(keep, kSmall, 1));
  CHILD_CHECK(lite_malloc_owns(keep));
  EXPECT_ENOMEM(lite_realloc(big, 64 * kMiB));
  EXPECT_ENOMEM(lite_reallocarray(big, 64, kMiB));
  CHILD_CHECK(CheckPattern(big, 2 * kMiB, 2));
  CHILD_CHECK(lite_malloc_owns(big));
  // A shrink that has to move (to a class with no page yet) may fail too; if
  // it does, the block stays intact.
  errno = 0;
  void* shrunk = lite_realloc(spare, 40);
  if (shrunk == nullptr) {
    CHILD_CHECK(errno == ENOMEM);
    CHILD_CHECK(CheckPattern(spare, kSmall, 3));
    lite_free(spare);
  } else {
    CHILD_CHECK(CheckPattern(shrunk, 40, 3));
    lite_free(shrunk);
  }
#undef EXPECT_ENOMEM
}

// `huge`: the largest request that must fit once everything is freed.
void CheckEverythingWorks(void** keep, void** big, size_t huge) {
#define EXPECT_WORKS(call, size)                                       \
  do {                                                                 \
    void* r_ = (call);                                                 \
    CHILD_CHECK_MSG(r_ != nullptr, "%s failed again", #call);          \
    if (r_ != nullptr) {                                               \
      memset(r_, 0x3c, (size));                                        \
      lite_free(r_);                                                   \
    }                                                                  \
  } while (0)
  EXPECT_WORKS(lite_malloc(kSmall), kSmall);
  EXPECT_WORKS(lite_malloc(24), 24);
  EXPECT_WORKS(lite_malloc(0), 8);
  EXPECT_WORKS(lite_malloc(kMedium), kMedium);
  EXPECT_WORKS(lite_malloc(50000), 50000);
  EXPECT_WORKS(lite_malloc(kLarge), kLarge);
  EXPECT_WORKS(lite_malloc(huge), huge);
  EXPECT_WORKS(lite_calloc(1, kSmall), kSmall);
  EXPECT_WORKS(lite_calloc(1000, 1000), 1000000);
  EXPECT_WORKS(lite_memalign(64, 100), 100);
  EXPECT_WORKS(lite_memalign(size_t{1} << 20, 10), 10);
  EXPECT_WORKS(lite_aligned_alloc(64, 100), 100);
  EXPECT_WORKS(lite_valloc(100), 100);
  EXPECT_WORKS(lite_pvalloc(100), 100);
  void* out = nullptr;
  CHILD_CHECK(lite_posix_memalign(&out, 4096, 100) == 0);
  lite_free(out);

  void* grown = lite_realloc(*keep, kLarge);
  if (CHILD_CHECK(grown != nullptr)) {
    CHILD_CHECK(CheckPattern(grown, kSmall, 1));
    *keep = grown;
  }
  void* bigger = lite_realloc(*big, huge);
  if (CHILD_CHECK(bigger != nullptr)) {
    CHILD_CHECK(CheckPattern(bigger, 2 * kMiB, 2));
    *big = bigger;
  }
#undef EXPECT_WORKS
}

void OutOfMemoryScenario(size_t margin, size_t min_large) {
  void* keep = lite_malloc(kSmall);
  void* big = lite_malloc(2 * kMiB);
  void* spare = lite_malloc(kSmall);
  if (!CHILD_CHECK(keep != nullptr && big != nullptr && spare != nullptr)) return;
  FillPattern(keep, kSmall, 1);
  FillPattern(big, 2 * kMiB, 2);
  FillPattern(spare, kSmall, 3);
  LateThread late_fail, late_ok;
  if (!CHILD_CHECK(late_fail.Start() && late_ok.Start())) return;

  if (!CHILD_CHECK(LimitAddressSpace(margin))) return;
  Chain large, medium, small;
  for (int round = 0; round < 8; round++) {
    size_t got = AllocateUntilNull(&large, kLarge, kMaxBlocks);
    got += AllocateUntilNull(&medium, kMedium, kMaxBlocks);
    got += AllocateUntilNull(&small, kSmall, kMaxBlocks);
    if (got == 0) break;
  }
  CHILD_CHECK_MSG(large.count >= min_large, "only %zu large blocks fit in the margin",
                  large.count);
  CHILD_CHECK(medium.count >= 1);
  CHILD_CHECK(small.count >= 1);

  CheckEverythingFails(keep, big, spare);

  // A thread whose first allocation needs memory for its front.
  late_fail.Run();
  CHILD_CHECK_MSG(late_fail.result == nullptr, "a new thread allocated %p", late_fail.result);
  CHILD_CHECK(late_fail.err == ENOMEM);

  // Give the memory back; everything works again.
  large.FreeAll();
  medium.FreeAll();
  small.FreeAll();
  CheckEverythingWorks(&keep, &big, margin / 4);
  late_ok.Run();
  CHILD_CHECK_MSG(late_ok.result != nullptr, "a new thread cannot allocate after the frees");

  // And the cycle can be repeated: exhaust again, free again. Segments are
  // never unmapped (README, Limits), so address space that small blocks took
  // serves only small and medium blocks afterwards. A large block maps
  // 4 MiB-aligned, which can take its size + 4 MiB of address space, so it is
  // sure to fit again only when at least 5 large blocks were freed.
  for (int round = 0; round < 8; round++) {
    if (AllocateUntilNull(&large, kLarge, kMaxBlocks) +
            AllocateUntilNull(&small, kSmall, kMaxBlocks) ==
        0)
      break;
  }
  errno = 0;
  CHILD_CHECK(lite_malloc(kLarge) == nullptr && errno == ENOMEM);
  errno = 0;
  CHILD_CHECK(lite_malloc(kSmall) == nullptr && errno == ENOMEM);
  const bool had_large = large.count >= 5;
  large.FreeAll();
  small.FreeAll();
  void* again = lite_malloc(kSmall);
  CHILD_CHECK(again != nullptr);
  lite_free(again);
  if (had_large) {
    again = lite_malloc(kLarge);
    CHILD_CHECK(again != nullptr);
    lite_free(again);
  }
  CHILD_CHECK(CheckPattern(keep, kSmall, 1));
  CHILD_CHECK(CheckPattern(big, 2 * kMiB, 2));
  lite_free(keep);
  lite_free(big);
}

TEST(OutOfMemory, EveryEntryPointFailsWithEnomemAndRecovers) {
  ChildResult r = RunInChild([] { OutOfMemoryScenario(64 * kMiB, 8); });
  EXPECT_TRUE(r.Passed()) << r.Describe();
}

// A tight margin: the first segment batch (16 MiB) does not fit, only single
// 4 MiB segments do, and large blocks hardly. Small and medium blocks run out
// and come back.
TEST(OutOfMemory, TightLimit) {
  ChildResult r = RunInChild([] {
    void* keep = lite_malloc(kSmall);
    void* big = lite_malloc(2 * kMiB);
    void* spare = lite_malloc(kSmall);
    if (!CHILD_CHECK(keep != nullptr && big != nullptr && spare != nullptr)) return;
    FillPattern(keep, kSmall, 1);
    FillPattern(big, 2 * kMiB, 2);
    FillPattern(spare, kSmall, 3);
    if (!CHILD_CHECK(LimitAddressSpace(12 * kMiB))) return;
    Chain large, medium, small;
    for (int round = 0; round < 8; round++) {
      size_t got = AllocateUntilNull(&small, kSmall, kMaxBlocks);
      got += AllocateUntilNull(&medium, kMedium, kMaxBlocks);
      got += AllocateUntilNull(&large, kLarge, kMaxBlocks);
      if (got == 0) break;
    }
    CHILD_CHECK(small.count >= 10000);
    CheckEverythingFails(keep, big, spare);
    small.FreeAll();
    medium.FreeAll();
    large.FreeAll();
    for (size_t size : {size_t{0}, size_t{24}, kSmall, size_t{1000}, kMedium}) {
      void* p = lite_malloc(size);
      CHILD_CHECK_MSG(p != nullptr, "malloc(%zu) fails after the frees", size);
      if (p != nullptr) memset(p, 0x11, size);
      lite_free(p);
    }
    CHILD_CHECK(AllocateUntilNull(&small, kSmall, 20000) == 20000);
    small.FreeAll();
    CHILD_CHECK(CheckPattern(keep, kSmall, 1));
    CHILD_CHECK(CheckPattern(big, 2 * kMiB, 2));
    lite_free(keep);
    lite_free(big);
  });
  EXPECT_TRUE(r.Passed()) << r.Describe();
}

// No allocation at all has happened in the child before the limit: the very
// first one (thread front, radix map leaf, first segment) fails cleanly.
TEST(OutOfMemory, FirstAllocationOfTheProcessFails) {
  ChildResult r = RunInChild([] {
    lite_malloc_stats s;
    lite_malloc_get_stats(&s);
    if (s.mapped_bytes != 0) {
      lite_faults::ChildReport("skipped: lite_malloc was used before the fork");
      return;
    }
    if (!CHILD_CHECK(LimitAddressSpace(0))) return;
    for (size_t size : {size_t{8}, kSmall, kMedium, kLarge}) {
      errno = 0;
      void* p = lite_malloc(size);
      CHILD_CHECK_MSG(p == nullptr && errno == ENOMEM, "malloc(%zu): %p errno %d", size, p, errno);
    }
    struct rlimit rl;
    CHILD_CHECK(getrlimit(RLIMIT_AS, &rl) == 0);
    rl.rlim_cur = rl.rlim_max;
    CHILD_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    for (size_t size : {size_t{8}, kSmall, kMedium, kLarge}) {
      void* p = lite_malloc(size);
      CHILD_CHECK_MSG(p != nullptr, "malloc(%zu) fails after the limit is lifted", size);
      if (p != nullptr) memset(p, 1, size);
      lite_free(p);
    }
  });
  EXPECT_TRUE(r.Passed()) << r.Describe();
}

// Freed large blocks may be cached by lite_malloc; under a limit, memory that
// the program has freed must still be usable for other sizes.
TEST(OutOfMemory, FreedLargeBlocksServeOtherSizes) {
  ChildResult r = RunInChild([] {
    void* warm = lite_malloc(kSmall);  // the thread's front and a first segment batch
    if (!CHILD_CHECK(warm != nullptr)) return;
    if (!CHILD_CHECK(LimitAddressSpace(48 * kMiB))) return;
    Chain small, large;
    for (int round = 0; round < 8; round++) {
      if (AllocateUntilNull(&large, 3 * kMiB, kMaxBlocks) +
              AllocateUntilNull(&small, kSmall, kMaxBlocks) ==
          0)
        break;
    }
    CHILD_CHECK(large.count >= 4);
    // Free the large blocks: 12 MiB and more of address space come back. The
    // small class still needs a new segment (4 MiB), which must now fit.
    large.FreeAll();
    errno = 0;
    void* p = lite_malloc(kSmall);
    CHILD_CHECK_MSG(p != nullptr, "malloc(%zu) fails after freeing the large blocks (errno %d)",
                    kSmall, errno);
    size_t more = AllocateUntilNull(&small, kSmall, 400000);
    CHILD_CHECK_MSG(more >= 100000, "only %zu more small blocks after freeing 3 MiB blocks", more);
    lite_free(p);
    small.FreeAll();
    lite_free(warm);
  });
  EXPECT_TRUE(r.Passed()) << r.Describe();
}

TEST(FaultInjection, AvailableOnlyInTheFaultsBuild) {
  ChildResult r = RunInChild([] {
    if (LITE_TEST_CORE_FAULTS) {
      CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MMAP, 0, 0) == 0);
      CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MADVISE, 0, 0) == 0);
      CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MUNMAP, 0, 0) == 0);
      CHILD_CHECK(lite_malloc_fault_inject(static_cast<lite_malloc_fault>(3), 0, 1) == -1);
      // The next mmap fails: the first allocation of the process maps.
      CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MMAP, 0, 1000) == 0);
      errno = 0;
      void* p = lite_malloc(kLarge);
      CHILD_CHECK(p == nullptr && errno == ENOMEM);
      CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MMAP, 0, 0) == 0);
      p = lite_malloc(kLarge);
      CHILD_CHECK(p != nullptr);
      lite_free(p);
    } else {
      CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MMAP, 0, 1) == -1);
      CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MADVISE, 0, 1) == -1);
      CHILD_CHECK(lite_malloc_fault_inject(LITE_FAULT_MUNMAP, 0, 1) == -1);
      // Nothing was injected: allocation works.
      void* p = lite_malloc(kLarge);
      CHILD_CHECK(p != nullptr);
      lite_free(p);
      p = lite_malloc(kSmall);
      CHILD_CHECK(p != nullptr);
      lite_free(p);
    }
  });
  EXPECT_TRUE(r.Passed()) << r.Describe();
}

}  // namespace
