// Misuse in the default build: each bad call stops the process with SIGABRT
// and exactly one line on stderr,
//
//   lite_malloc: <what> of 0x<address> (<reason>)
//
// checked whole (address included) by a death test: one forked child per
// misuse. The death tests run in the "fast" style (plain fork), so the child
// sees the blocks the test allocated before it, at the same addresses.
//
// Double frees: every free block carries a key word that malloc clears, and a
// free that finds it looks the block up in its page's lists (twice.c). So the
// default build catches a second free of a block wherever it waits in its
// page's free list or remote-free list, as glibc's tcache check does for its
// own lists (glibc's malloc/tst-tcfree2 is one test below). What it does NOT
// catch (the hardened build does, see misuse_hardened_test.cc): a second free
// after the block was handed out again (that is a free of the new owner's
// block), and a second free from another thread of a block that waits on a
// full page's delivery list. A second free of a block whose page has since
// gone back to its segment (all its blocks were free and it was not the
// current page) reads "invalid free ... (not allocated by lite_malloc)" rather
// than "double free".
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <string>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/faults/child_util.h"

namespace {

using lite_faults::Hex;
using lite_faults::kMiB;

int g_global[16];

// The regex for the whole of the child's stderr.
std::string Message(const char* what, const void* p, const char* reason) {
  return std::string("^lite_malloc: ") + what + " of " + Hex(p) + " \\(" + reason + "\\)\n?$";
}

// ThreadSanitizer refuses to start threads in a child forked from a process
// that has threads (its own), which is what the death tests' children are.
#if defined(__SANITIZE_THREAD__)
#define SKIP_THREADS_UNDER_TSAN() GTEST_SKIP() << "no threads in forked children under TSan"
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SKIP_THREADS_UNDER_TSAN() GTEST_SKIP() << "no threads in forked children under TSan"
#endif
#endif
#ifndef SKIP_THREADS_UNDER_TSAN
#define SKIP_THREADS_UNDER_TSAN() \
  do {                            \
  } while (0)
#endif

class MisuseDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "fast"); }
};

#define EXPECT_ABORT(statement, what, p, reason) \
  EXPECT_EXIT(statement, ::testing::KilledBySignal(SIGABRT), Message(what, p, reason))

// A block allocated by this thread, with a neighbour that stays live so its
// page is never handed back while the test runs.
struct Owned {
  void* neighbour;
  void* p;
  explicit Owned(size_t size) : neighbour(lite_malloc(size)), p(lite_malloc(size)) {
    EXPECT_NE(neighbour, nullptr);
    EXPECT_NE(p, nullptr);
  }
  ~Owned() { lite_free(neighbour); }
};

// -------------------------------------------------------------- invalid free

TEST_F(MisuseDeathTest, FreeOfAStackAddress) {
  int local[4] = {1, 2, 3, 4};
  EXPECT_ABORT(lite_free(&local[1]), "invalid free", &local[1], "not allocated by lite_malloc");
  EXPECT_EQ(local[1], 2);
}

TEST_F(MisuseDeathTest, FreeOfAGlobal) {
  EXPECT_ABORT(lite_free(&g_global[2]), "invalid free", &g_global[2],
               "not allocated by lite_malloc");
}

TEST_F(MisuseDeathTest, FreeOfASystemMallocBlock) {
  // The test binary's malloc is glibc's: lite_malloc is linked by its lite_
  // names only.
  void* g = malloc(64);
  ASSERT_NE(g, nullptr);
  EXPECT_ABORT(lite_free(g), "invalid free", g, "not allocated by lite_malloc");
  free(g);
}

TEST_F(MisuseDeathTest, FreeOfAnInteriorPointer) {
  Owned b(64);
  char* p = static_cast<char*>(b.p);
  EXPECT_ABORT(lite_free(p + 8), "invalid free", p + 8, "not the start of a block");
  EXPECT_ABORT(lite_free(p + 32), "invalid free", p + 32, "not the start of a block");
  lite_free(b.p);
}

TEST_F(MisuseDeathTest, FreeOfAMisalignedPointer) {
  Owned b(64);
  char* p = static_cast<char*>(b.p);
  EXPECT_ABORT(lite_free(p + 1), "invalid free", p + 1, "not the start of a block");
  lite_free(b.p);
}

TEST_F(MisuseDeathTest, FreeOfAnInteriorPointerFromAnotherThread) {
  SKIP_THREADS_UNDER_TSAN();
  Owned b(64);
  char* p = static_cast<char*>(b.p) + 16;
  EXPECT_ABORT(
      {
        pthread_t t;
        pthread_create(
            &t, nullptr, [](void* q) -> void* { lite_free(q); return nullptr; }, p);
        pthread_join(t, nullptr);
      },
      "invalid free", p, "not the start of a block");
  lite_free(b.p);
}

TEST_F(MisuseDeathTest, FreeOfAMediumInteriorPointer) {
  Owned b(20000);
  char* p = static_cast<char*>(b.p) + 4096;
  EXPECT_ABORT(lite_free(p), "invalid free", p, "not the start of a block");
  lite_free(b.p);
}

TEST_F(MisuseDeathTest, FreeOfALargeInteriorPointer) {
  char* p = static_cast<char*>(lite_malloc(kMiB));
  ASSERT_NE(p, nullptr);
  EXPECT_ABORT(lite_free(p + 4096), "invalid free", p + 4096, "not the start of a block");
  EXPECT_ABORT(lite_free(p + 1), "invalid free", p + 1, "not the start of a block");
  lite_free(p);
}

TEST_F(MisuseDeathTest, FreeOfABlockNeverHandedOut) {
  // Blocks are carved from a page a few KiB at a time: block 50 of a fresh
  // page of 768-byte blocks is inside the page but was never handed out.
  Owned b(768);
  char* first = static_cast<char*>(b.neighbour);
  char* never = first + 50 * 768;
  ASSERT_EQ(lite_malloc_usable_size(first), 768u);
  EXPECT_ABORT(lite_free(never), "invalid free", never, "block was never handed out");
  lite_free(b.p);
}

TEST_F(MisuseDeathTest, FreeOfASegmentHeader) {
  Owned b(64);
  void* header = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(b.p) & ~uintptr_t{4 * kMiB - 1});
  EXPECT_ABORT(lite_free(header), "invalid free", header, "not allocated by lite_malloc");
  lite_free(b.p);
}

// ---------------------------------------------------------------- double free

TEST_F(MisuseDeathTest, DoubleFreeOfASmallBlock) {
  Owned b(64);
  void* p = b.p;
  EXPECT_ABORT({ lite_free(p); lite_free(p); }, "double free", p, "block is already free");
  lite_free(p);
}

TEST_F(MisuseDeathTest, DoubleFreeOfTheSmallestBlock) {
  Owned b(1);
  void* p = b.p;
  EXPECT_ABORT({ lite_free(p); lite_free(p); }, "double free", p, "block is already free");
  lite_free(p);
}

TEST_F(MisuseDeathTest, DoubleFreeOfAMediumBlock) {
  Owned b(20000);
  void* p = b.p;
  EXPECT_ABORT({ lite_free(p); lite_free(p); }, "double free", p, "block is already free");
  lite_free(p);
}

TEST_F(MisuseDeathTest, DoubleFreeOfALargeBlock) {
  void* p = lite_malloc(kMiB);
  ASSERT_NE(p, nullptr);
  EXPECT_ABORT({ lite_free(p); lite_free(p); }, "double free", p, "large block already freed");
  lite_free(p);
}

TEST_F(MisuseDeathTest, DoubleFreeOfAnUncachedLargeBlock) {
  // 40 MiB: more than lite_malloc keeps of a freed mapping; it is unmapped.
  void* p = lite_malloc(40 * kMiB);
  ASSERT_NE(p, nullptr);
  EXPECT_ABORT({ lite_free(p); lite_free(p); }, "double free", p, "large block already freed");
  lite_free(p);
}

TEST_F(MisuseDeathTest, DoubleFreeOfASmallAlignedBlock) {
  void* neighbour = lite_aligned_alloc(64, 100);
  void* p = lite_aligned_alloc(64, 100);
  ASSERT_NE(p, nullptr);
  EXPECT_ABORT({ lite_free(p); lite_free(p); }, "double free", p, "block is already free");
  lite_free(p);
  lite_free(neighbour);
}

TEST_F(MisuseDeathTest, DoubleFreeOfALargeAlignedBlock) {
  void* p = lite_memalign(size_t{1} << 20, 10);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (size_t{1} << 20), 0u);
  EXPECT_ABORT({ lite_free(p); lite_free(p); }, "double free", p, "large block already freed");
  lite_free(p);
}

TEST_F(MisuseDeathTest, DoubleFreeOfAPosixMemalignBlock) {
  void* p = nullptr;
  ASSERT_EQ(lite_posix_memalign(&p, 256 * 1024, 1000), 0);
  EXPECT_ABORT({ lite_free(p); lite_free(p); }, "double free", p, "large block already freed");
  lite_free(p);
}

TEST_F(MisuseDeathTest, DoubleFreeFromAnotherThread) {
  SKIP_THREADS_UNDER_TSAN();
  // Immediate second free by a thread that does not own the page: the block
  // is the head of the page's remote-free list.
  Owned b(64);
  void* p = b.p;
  EXPECT_ABORT(
      {
        pthread_t t;
        pthread_create(
            &t, nullptr, [](void* q) -> void* { lite_free(q); lite_free(q); return nullptr; }, p);
        pthread_join(t, nullptr);
      },
      "double free", p, "block is already free");
  lite_free(p);
}

TEST_F(MisuseDeathTest, DoubleFreeIntoAnAbandonedPage) {
  // A thread allocates two blocks and exits: their page goes to its engine
  // with both blocks live. Freeing one twice from here: the second free finds
  // it at the head of the page's remote-free list.
  static void* blocks[2];
  pthread_t t;
  ASSERT_EQ(pthread_create(
                &t, nullptr,
                [](void*) -> void* {
                  blocks[0] = lite_malloc(64);
                  blocks[1] = lite_malloc(64);
                  return nullptr;
                },
                nullptr),
            0);
  pthread_join(t, nullptr);
  void* p = blocks[1];
  ASSERT_NE(p, nullptr);
  EXPECT_ABORT({ lite_free(p); lite_free(p); }, "double free", p, "block is already free");
  lite_free(blocks[0]);
  lite_free(blocks[1]);
}

TEST_F(MisuseDeathTest, DoubleFreeViaReallocToZero) {
  Owned b(64);
  void* p = b.p;
  EXPECT_ABORT({ lite_realloc(p, 0); lite_free(p); }, "double free", p, "block is already free");
  lite_free(p);
}

// glibc 2.36's malloc/tst-tcfree2: 20 blocks of 20 bytes, all freed, then the
// first again. Under glibc it aborts; so must it here.
TEST_F(MisuseDeathTest, GlibcTcfree2) {
  void* blocks[20];
  for (void*& b : blocks) b = lite_malloc(20);
  EXPECT_ABORT(
      {
        for (void* b : blocks) lite_free(b);
        lite_free(blocks[0]);
      },
      "double free", blocks[0], "block is already free");
  for (void* b : blocks) lite_free(b);
}

// free(a); free(b); free(a): a is one below the head of the page's list.
TEST_F(MisuseDeathTest, DoubleFreeBelowTheHead) {
  Owned keep(64);
  void* a = lite_malloc(64);
  void* b = lite_malloc(64);
  EXPECT_ABORT({ lite_free(a); lite_free(b); lite_free(a); }, "double free", a,
               "block is already free");
  lite_free(a);
  lite_free(b);
}

// The block is deep in its page's free list, under blocks freed and reused.
TEST_F(MisuseDeathTest, DoubleFreeDeepInTheFreeList) {
  Owned keep(100);
  void* blocks[200];
  for (void*& b : blocks) b = lite_malloc(100);
  void* victim = blocks[3];
  EXPECT_ABORT(
      {
        for (void* b : blocks) lite_free(b);
        for (int i = 0; i < 50; i++) lite_free(lite_malloc(100));
        lite_free(victim);
      },
      "double free", victim, "block is already free");
  for (void* b : blocks) lite_free(b);
}

// Each size class and a medium one, freed twice with other frees between.
TEST_F(MisuseDeathTest, DoubleFreeBelowTheHeadAtEverySize) {
  for (size_t size : {1, 8, 16, 24, 100, 1024, 8192, 20000}) {
    Owned keep(size);
    void* a = lite_malloc(size);
    void* b = lite_malloc(size);
    EXPECT_ABORT({ lite_free(a); lite_free(b); lite_free(a); }, "double free", a,
                 "block is already free")
        << "size " << size;
    lite_free(a);
    lite_free(b);
  }
}

// Runs fn(arg) on a thread of its own and waits for it.
void OnAnotherThread(void* (*fn)(void*), void* arg) {
  pthread_t t;
  pthread_create(&t, nullptr, fn, arg);
  pthread_join(t, nullptr);
}
void* FreeIt(void* p) {
  lite_free(p);
  return nullptr;
}

// Eight blocks of this thread's that another thread has freed: they wait on
// their page's remote-free list.
void* g_remote[8];
void* FreeTheRemoteBlocks(void*) {
  for (void* b : g_remote) lite_free(b);
  return nullptr;
}

// After another thread has freed them, `again` frees one of them again.
void ExpectDoubleFreeInTheRemoteList(void (*again)(void* victim)) {
  Owned keep(64);
  for (void*& b : g_remote) b = lite_malloc(64);
  void* victim = g_remote[2];
  EXPECT_ABORT(
      {
        OnAnotherThread(FreeTheRemoteBlocks, nullptr);
        again(victim);
      },
      "double free", victim, "block is already free");
  for (void* b : g_remote) lite_free(b);
}

// The owner frees one of them again.
TEST_F(MisuseDeathTest, OwnerFreesABlockInTheRemoteList) {
  SKIP_THREADS_UNDER_TSAN();
  ExpectDoubleFreeInTheRemoteList([](void* victim) { lite_free(victim); });
}

// Yet another thread frees one of them again.
TEST_F(MisuseDeathTest, AnotherThreadFreesABlockInTheRemoteList) {
  SKIP_THREADS_UNDER_TSAN();
  ExpectDoubleFreeInTheRemoteList([](void* victim) { OnAnotherThread(FreeIt, victim); });
}

// Another thread frees twice a block the owner freed into its own list.
TEST_F(MisuseDeathTest, AnotherThreadFreesABlockInTheOwnersList) {
  SKIP_THREADS_UNDER_TSAN();
  Owned keep(64);
  void* a = lite_malloc(64);
  void* b = lite_malloc(64);
  EXPECT_ABORT(
      {
        lite_free(a);
        lite_free(b);
        OnAnotherThread(FreeIt, a);
      },
      "double free", a, "block is already free");
  lite_free(a);
  lite_free(b);
}

// A block whose user data holds what a free block holds (a copy of a freed
// block's bytes) is freed normally: the key alone is never taken for a free.
TEST_F(MisuseDeathTest, BlockHoldingAFreeBlocksBytesFreesNormally) {
  Owned keep(64);
  void* a = lite_malloc(64);
  void* b = lite_malloc(64);
  void* c = lite_malloc(64);
  lite_free(a);
  memcpy(c, a, 16);  // reads freed memory on purpose: its key word
  for (int i = 0; i < 3; i++) lite_free(lite_malloc(64));
  lite_free(c);
  lite_free(b);
  void* d = lite_malloc(64);
  void* e = lite_malloc(64);
  EXPECT_NE(d, e);
  lite_free(d);
  lite_free(e);
}

// ------------------------------------------- usable_size and realloc misuse

TEST_F(MisuseDeathTest, UsableSizeOfAForeignPointer) {
  void* g = malloc(64);
  int local = 0;
  EXPECT_ABORT(lite_malloc_usable_size(g), "malloc_usable_size", g, "not allocated by lite_malloc");
  EXPECT_ABORT(lite_malloc_usable_size(&local), "malloc_usable_size", &local,
               "not allocated by lite_malloc");
  EXPECT_ABORT(lite_malloc_usable_size(&g_global[1]), "malloc_usable_size", &g_global[1],
               "not allocated by lite_malloc");
  free(g);
}

TEST_F(MisuseDeathTest, UsableSizeOfAnInteriorPointer) {
  Owned b(64);
  char* p = static_cast<char*>(b.p) + 8;
  EXPECT_ABORT(lite_malloc_usable_size(p), "malloc_usable_size", p, "not the start of a block");
  char* large = static_cast<char*>(lite_malloc(kMiB));
  ASSERT_NE(large, nullptr);
  EXPECT_ABORT(lite_malloc_usable_size(large + 64), "malloc_usable_size", large + 64,
               "not the start of a block");
  lite_free(large);
  lite_free(b.p);
}

TEST_F(MisuseDeathTest, ReallocOfAForeignPointer) {
  void* g = malloc(64);
  int local = 0;
  EXPECT_ABORT(lite_realloc(g, 100), "invalid realloc", g, "not allocated by lite_malloc");
  EXPECT_ABORT(lite_realloc(g, 10 * kMiB), "invalid realloc", g, "not allocated by lite_malloc");
  EXPECT_ABORT(lite_realloc(&local, 100), "invalid realloc", &local,
               "not allocated by lite_malloc");
  EXPECT_ABORT(lite_reallocarray(&g_global[3], 4, 4), "invalid realloc", &g_global[3],
               "not allocated by lite_malloc");
  free(g);
}

TEST_F(MisuseDeathTest, ReallocOfAnInteriorPointer) {
  Owned b(64);
  char* p = static_cast<char*>(b.p) + 16;
  EXPECT_ABORT(lite_realloc(p, 100), "invalid realloc", p, "not the start of a block");
  char* large = static_cast<char*>(lite_malloc(kMiB));
  ASSERT_NE(large, nullptr);
  EXPECT_ABORT(lite_realloc(large + 4096, 2 * kMiB), "invalid realloc", large + 4096,
               "not the start of a block");
  lite_free(large);
  lite_free(b.p);
}

TEST_F(MisuseDeathTest, ReallocToZeroOfAForeignPointerIsAnInvalidFree) {
  void* g = malloc(64);
  EXPECT_ABORT(lite_realloc(g, 0), "invalid free", g, "not allocated by lite_malloc");
  free(g);
}

// ------------------------------------------------- what is not misuse

TEST(MisuseNot, NullIsFine) {
  lite_free(nullptr);
  lite_free_sized(nullptr, 0);
  lite_free_aligned_sized(nullptr, 64, 0);
  EXPECT_EQ(lite_malloc_usable_size(nullptr), 0u);
  EXPECT_FALSE(lite_malloc_owns(nullptr));
}

TEST(MisuseNot, OwnsNeverAborts) {
  int local = 0;
  void* g = malloc(64);
  EXPECT_FALSE(lite_malloc_owns(&local));
  EXPECT_FALSE(lite_malloc_owns(g));
  EXPECT_FALSE(lite_malloc_owns(&g_global[0]));
  char* p = static_cast<char*>(lite_malloc(64));
  EXPECT_TRUE(lite_malloc_owns(p));
  EXPECT_FALSE(lite_malloc_owns(p + 8));
  EXPECT_FALSE(lite_malloc_owns(p + 1));
  lite_free(p);
  free(g);
}

}  // namespace
