// The hardened build (:core_hardened, LITE_MALLOC_HARDENED=1): every double
// free is detected, free-list links are encoded and checked, sized frees are
// checked against the block, large blocks end in a guard page, and
// LITE_MALLOC_ZERO_FREED=1 zeroes small blocks as they are freed. The normal
// API behaves as in the default build. Death tests in the "fast" style (plain
// fork), messages checked whole.
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/faults/child_util.h"

namespace {

using lite_faults::CheckPattern;
using lite_faults::FillPattern;
using lite_faults::Hex;
using lite_faults::kKiB;
using lite_faults::kMiB;

std::string Message(const char* what, const void* p, const char* reason) {
  return std::string("^lite_malloc: ") + what + " of " + Hex(p) + " \\(" + reason + "\\)\n?$";
}

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

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LITE_TEST_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LITE_TEST_SANITIZER 1
#endif
#endif

// A write into a guard page: SIGSEGV. Sanitizers catch the signal and report
// it ("SEGV on unknown address") before exiting or aborting.
#if defined(LITE_TEST_SANITIZER)
#define EXPECT_GUARD_HIT(statement)                                                    \
  EXPECT_EXIT(                                                                         \
      statement,                                                                       \
      [](int status) {                                                                 \
        return (WIFSIGNALED(status) &&                                                 \
                (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGABRT)) ||       \
               (WIFEXITED(status) && WEXITSTATUS(status) != 0);                        \
      },                                                                               \
      "SEGV")
#else
#define EXPECT_GUARD_HIT(statement) \
  EXPECT_EXIT(statement, ::testing::KilledBySignal(SIGSEGV), "")
#endif

class HardenedDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "fast"); }
};

#define EXPECT_ABORT(statement, what, p, reason) \
  EXPECT_EXIT(statement, ::testing::KilledBySignal(SIGABRT), Message(what, p, reason))

void* Check(void* p) {
  EXPECT_NE(p, nullptr);
  return p;
}

// ---------------------------------------------------------------- double free

TEST_F(HardenedDeathTest, DoubleFreeDeeperInTheList) {
  void* keep = Check(lite_malloc(64));
  void* a = Check(lite_malloc(64));
  void* b = Check(lite_malloc(64));
  EXPECT_ABORT({ lite_free(a); lite_free(b); lite_free(a); }, "double free", a,
               "block is already free");
  lite_free(a);
  lite_free(b);
  lite_free(keep);
}

TEST_F(HardenedDeathTest, DoubleFreeLongAfter) {
  void* keep = Check(lite_malloc(100));
  std::vector<void*> blocks;
  for (int i = 0; i < 50; i++) blocks.push_back(Check(lite_malloc(100)));
  void* victim = blocks[7];
  EXPECT_ABORT(
      {
        for (void* p : blocks) lite_free(p);
        for (int i = 0; i < 10; i++) lite_free(Check(lite_malloc(100)));  // reuse some
        lite_free(victim);
      },
      "double free", victim, "block is already free");
  for (void* p : blocks) lite_free(p);
  lite_free(keep);
}

TEST_F(HardenedDeathTest, ImmediateDoubleFreeOfSmallMediumAndAligned) {
  void* keep_small = Check(lite_malloc(64));
  void* keep_medium = Check(lite_malloc(20000));
  void* small = Check(lite_malloc(64));
  void* medium = Check(lite_malloc(20000));
  void* aligned = Check(lite_aligned_alloc(64, 100));
  EXPECT_ABORT({ lite_free(small); lite_free(small); }, "double free", small,
               "block is already free");
  EXPECT_ABORT({ lite_free(medium); lite_free(medium); }, "double free", medium,
               "block is already free");
  EXPECT_ABORT({ lite_free(aligned); lite_free(aligned); }, "double free", aligned,
               "block is already free");
  lite_free(small);
  lite_free(medium);
  lite_free(aligned);
  lite_free(keep_small);
  lite_free(keep_medium);
}

TEST_F(HardenedDeathTest, DoubleFreeOfLargeBlocks) {
  void* large = Check(lite_malloc(kMiB));
  void* aligned = Check(lite_memalign(size_t{1} << 20, 10));
  EXPECT_ABORT({ lite_free(large); lite_free(large); }, "double free", large,
               "large block already freed");
  EXPECT_ABORT({ lite_free(aligned); lite_free(aligned); }, "double free", aligned,
               "large block already freed");
  lite_free(large);
  lite_free(aligned);
}

TEST_F(HardenedDeathTest, DoubleFreeDeeperInTheListFromAnotherThread) {
  SKIP_THREADS_UNDER_TSAN();
  void* keep = Check(lite_malloc(64));
  static void* a;
  static void* b;
  a = Check(lite_malloc(64));
  b = Check(lite_malloc(64));
  EXPECT_ABORT(
      {
        pthread_t t;
        pthread_create(
            &t, nullptr,
            [](void*) -> void* {
              lite_free(a);
              lite_free(b);
              lite_free(a);
              return nullptr;
            },
            nullptr);
        pthread_join(t, nullptr);
      },
      "double free", a, "block is already free");
  lite_free(a);
  lite_free(b);
  lite_free(keep);
}

// ------------------------------------------------------ use after free

TEST_F(HardenedDeathTest, UseAfterFreeWriteOfTheLink) {
  // The freed block's first word is its (encoded) link. Overwriting it with a
  // plain pointer, as an attacker steering malloc would, is caught when the
  // block is handed out again.
  static long target[8];
  void* keep = Check(lite_malloc(64));
  void* p = Check(lite_malloc(64));
  EXPECT_ABORT(
      {
        lite_free(p);
        *static_cast<void**>(p) = &target[0];
        // p is the head of its page's list: the next malloc hands it out
        // and follows the forged link (a second one would return it).
        for (int i = 0; i < 2; i++) (void)lite_malloc(64);
      },
      "corrupted free list", p, "link leaves its page");
  lite_free(p);
  lite_free(keep);
}

TEST_F(HardenedDeathTest, UseAfterFreeWriteOfARemotelyFreedBlock) {
  SKIP_THREADS_UNDER_TSAN();
  // Once the blocks carved so far are used up (a 4 KiB class page holds 16),
  // the owner collects the blocks other threads freed and hands them out.
  void* keep = Check(lite_malloc(4096));
  static void* p;
  p = Check(lite_malloc(4096));
  EXPECT_ABORT(
      {
        pthread_t t;
        pthread_create(&t, nullptr, [](void*) -> void* { lite_free(p); return nullptr; }, nullptr);
        pthread_join(t, nullptr);
        *static_cast<uintptr_t*>(p) = 0x4141414141414141ull;
        for (int i = 0; i < 64; i++) (void)lite_malloc(4096);
      },
      "corrupted free list", p, "link leaves its page");
  lite_free(p);
  lite_free(keep);
}

// ----------------------------------------------------------------- sized free

TEST_F(HardenedDeathTest, SizedFreeWithTheWrongSize) {
  void* small = Check(lite_malloc(100));  // 112-byte block
  void* medium = Check(lite_malloc(20000));
  void* large = Check(lite_malloc(kMiB));
  EXPECT_ABORT(lite_free_sized(small, 200), "invalid sized free", small,
               "size does not match the block");
  EXPECT_ABORT(lite_free_sized(small, 10), "invalid sized free", small,
               "size does not match the block");
  EXPECT_ABORT(lite_free_sized(medium, 5000), "invalid sized free", medium,
               "size does not match the block");
  EXPECT_ABORT(lite_free_sized(medium, 30000), "invalid sized free", medium,
               "size does not match the block");
  EXPECT_ABORT(lite_free_sized(large, 100 * kKiB), "invalid sized free", large,
               "size does not match the block");
  EXPECT_ABORT(lite_free_sized(large, 2 * kMiB), "invalid sized free", large,
               "size does not match the block");
  lite_free_sized(small, 100);
  lite_free_sized(medium, 20000);
  lite_free_sized(large, kMiB);
}

TEST_F(HardenedDeathTest, AlignedSizedFreeWithTheWrongSize) {
  void* a = Check(lite_aligned_alloc(64, 100));
  void* b = nullptr;
  ASSERT_EQ(lite_posix_memalign(&b, 4096, 5000), 0);  // an 8 KiB block
  void* c = Check(lite_memalign(size_t{1} << 20, 10));
  EXPECT_ABORT(lite_free_aligned_sized(a, 64, 1000), "invalid sized free", a,
               "size does not match the block");
  EXPECT_ABORT(lite_free_aligned_sized(b, 4096, 100), "invalid sized free", b,
               "size does not match the block");
  EXPECT_ABORT(lite_free_aligned_sized(c, size_t{1} << 20, 100000), "invalid sized free", c,
               "size does not match the block");
  lite_free_aligned_sized(a, 64, 100);
  lite_free_aligned_sized(b, 4096, 5000);
  lite_free_aligned_sized(c, size_t{1} << 20, 10);
}

TEST(HardenedSizedFree, RightSizesPass) {
  // Every size that malloc could have been called with for the block.
  for (size_t size : {size_t{1}, size_t{8}, size_t{16}, size_t{17}, size_t{100}, size_t{1000},
                      size_t{8192}, size_t{8193}, size_t{20000}, size_t{128 * 1024},
                      size_t{128 * 1024 + 1}, kMiB, 3 * kMiB + 5}) {
    SCOPED_TRACE(size);
    void* p = Check(lite_malloc(size));
    FillPattern(p, size, size);
    lite_free_sized(p, size);
  }
  // The whole usable size is a right size too.
  void* p = Check(lite_malloc(100));
  lite_free_sized(p, lite_malloc_usable_size(p));
}

TEST(HardenedSizedFree, RightSizeAfterReallocInPlace) {
  void* p = Check(lite_malloc(100));
  FillPattern(p, 100, 1);
  void* q = lite_realloc(p, 60);  // more than half of 112: stays
  ASSERT_EQ(q, p);
  EXPECT_TRUE(CheckPattern(q, 60, 1));
  lite_free_sized(q, 60);

  p = Check(lite_malloc(100));
  q = lite_realloc(p, 110);  // still fits the 112-byte block
  ASSERT_EQ(q, p);
  lite_free_sized(q, 110);

  p = Check(lite_malloc(kMiB));
  FillPattern(p, kMiB, 2);
  q = lite_realloc(p, 700 * kKiB);  // a large block shrunk in place
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(CheckPattern(q, 700 * kKiB, 2));
  lite_free_sized(q, 700 * kKiB);

  p = Check(lite_malloc(20000));
  q = lite_realloc(p, 19000);
  ASSERT_EQ(q, p);
  lite_free_sized(q, 19000);
}

TEST(HardenedSizedFree, RightSizesForAlignedBlocks) {
  struct Case {
    size_t alignment, size;
  };
  for (Case c : {Case{16, 1}, Case{32, 100}, Case{64, 100}, Case{256, 1000}, Case{4096, 100},
                 Case{4096, 5000}, Case{65536, 70000}, Case{size_t{1} << 20, 10},
                 Case{size_t{1} << 20, 3 * kMiB}}) {
    SCOPED_TRACE(testing::Message() << c.alignment << " " << c.size);
    void* p = Check(lite_aligned_alloc(c.alignment, c.size));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % c.alignment, 0u);
    lite_free_aligned_sized(p, c.alignment, c.size);
    void* q = nullptr;
    ASSERT_EQ(lite_posix_memalign(&q, c.alignment < sizeof(void*) ? sizeof(void*) : c.alignment,
                                  c.size),
              0);
    lite_free_aligned_sized(q, c.alignment, c.size);
  }
}

// ---------------------------------------------------------------- guard page

TEST_F(HardenedDeathTest, WritePastALargeBlockHitsTheGuardPage) {
  char* p = static_cast<char*>(Check(lite_malloc(kMiB)));
  ASSERT_EQ(lite_malloc_usable_size(p), kMiB);
  p[kMiB - 1] = 1;  // the last byte is fine
  EXPECT_GUARD_HIT({
    volatile char* v = p;
    v[kMiB] = 1;
  });
  lite_free(p);
}

TEST_F(HardenedDeathTest, WritePastAnyLargeBlockHitsTheGuardPage) {
  for (size_t size : {size_t{200 * 1024}, 3 * kMiB + 100}) {
    char* p = static_cast<char*>(Check(lite_malloc(size)));
    const size_t usable = lite_malloc_usable_size(p);
    ASSERT_GE(usable, size);
    memset(p, 1, usable);
    EXPECT_GUARD_HIT({
      volatile char* v = p;
      v[usable] = 1;
    });
    lite_free(p);
  }
  char* a = static_cast<char*>(Check(lite_memalign(size_t{1} << 20, kMiB)));
  EXPECT_GUARD_HIT({
    volatile char* v = a;
    v[kMiB] = 1;
  });
  lite_free(a);
}

// ------------------------------------------------------- zeroing on free

lite_faults::HelperResult RunHardenedHelper(const std::vector<std::string>& env) {
  return lite_faults::RunHelper(lite_faults::HelperPath("fault_helper_hardened"), {"zero_freed"},
                                env);
}

TEST(HardenedZeroFreed, FreedSmallBlocksReadAsZero) {
  lite_faults::HelperResult r = RunHardenedHelper({"LITE_MALLOC_ZERO_FREED=1"});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  EXPECT_EQ(r.err, "");
  for (const char* how : {"owner", "remote"}) {
    for (int size : {16, 100, 1000, 8000}) {
      const std::string name = std::string("nonzero_") + how + "_" + std::to_string(size);
      // The first 16 bytes hold the free-list link and key; the rest is zero.
      EXPECT_EQ(lite_faults::ValueOf(r.out, name), -1) << name << "\n" << r.out;
    }
  }
}

TEST(HardenedZeroFreed, OffByDefault) {
  lite_faults::HelperResult r = RunHardenedHelper({});
  ASSERT_TRUE(r.ExitedOk()) << r.Describe();
  for (const char* how : {"owner", "remote"}) {
    for (int size : {16, 100, 1000, 8000}) {
      const std::string name = std::string("nonzero_") + how + "_" + std::to_string(size);
      // Left as freed: the user's bytes (a 16-byte block has none past the key).
      EXPECT_EQ(lite_faults::ValueOf(r.out, name), size > 16 ? 16 : -1) << name << "\n" << r.out;
    }
  }
}

// ------------------------------------------- the normal API, hardened

TEST(HardenedApi, SmallestBlockIs16Bytes) {
  void* p = Check(lite_malloc(1));
  EXPECT_EQ(lite_malloc_usable_size(p), 16u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
  lite_free(p);
  p = Check(lite_malloc(0));
  EXPECT_EQ(lite_malloc_usable_size(p), 16u);
  lite_free(p);
}

TEST(HardenedApi, MallocCallocReallocKeepContents) {
  std::vector<std::pair<void*, size_t>> blocks;
  for (size_t size = 1; size < 300000; size = size * 3 / 2 + 7) {
    void* p = Check(lite_malloc(size));
    FillPattern(p, size, size);
    blocks.push_back({p, size});
  }
  for (auto& b : blocks) {
    ASSERT_TRUE(CheckPattern(b.first, b.second, b.second)) << b.second;
    void* q = lite_realloc(b.first, b.second * 2 + 1);
    ASSERT_NE(q, nullptr);
    ASSERT_TRUE(CheckPattern(q, b.second, b.second)) << b.second;
    b.first = q;
  }
  for (auto& b : blocks) {
    void* q = lite_realloc(b.first, b.second / 3 + 1);
    ASSERT_NE(q, nullptr);
    ASSERT_TRUE(CheckPattern(q, b.second / 3 + 1, b.second)) << b.second;
    lite_free(q);
  }
  for (size_t size : {size_t{1}, size_t{100}, size_t{20000}, 2 * kMiB}) {
    unsigned char* z = static_cast<unsigned char*>(Check(lite_calloc(1, size)));
    for (size_t i = 0; i < size; i++) ASSERT_EQ(z[i], 0) << size << " " << i;
    lite_free(z);
  }
}

TEST(HardenedApi, ReusedBlocksAreFine) {
  // Many cycles through the encoded free lists and the allocation bitmap.
  std::vector<void*> v;
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 2000; i++) v.push_back(Check(lite_malloc(16 + (i % 50) * 16)));
    for (size_t i = round % 2; i < v.size(); i += 2) {
      lite_free(v[i]);
      v[i] = nullptr;
    }
    std::vector<void*> keep;
    for (void* p : v)
      if (p != nullptr) keep.push_back(p);
    v.swap(keep);
  }
  for (void* p : v) lite_free(p);
}

TEST(HardenedApi, FreesFromOtherThreads) {
  std::vector<void*> blocks;
  for (int i = 0; i < 5000; i++) {
    void* p = Check(lite_malloc(24 + (i % 20) * 40));
    FillPattern(p, 24, i);
    blocks.push_back(p);
  }
  pthread_t t;
  ASSERT_EQ(pthread_create(
                &t, nullptr,
                [](void* arg) -> void* {
                  auto* v = static_cast<std::vector<void*>*>(arg);
                  for (size_t i = 0; i < v->size(); i += 2) lite_free((*v)[i]);
                  return nullptr;
                },
                &blocks),
            0);
  pthread_join(t, nullptr);
  for (size_t i = 1; i < blocks.size(); i += 2) {
    EXPECT_TRUE(CheckPattern(blocks[i], 24, i));
    lite_free(blocks[i]);
  }
  // The remotely freed blocks are collected and handed out again.
  for (int i = 0; i < 5000; i++) lite_free(Check(lite_malloc(24 + (i % 20) * 40)));
}

TEST(HardenedApi, AlignedAllocation) {
  for (size_t alignment = 16; alignment <= 4 * kMiB; alignment *= 4) {
    for (size_t size : {size_t{1}, size_t{100}, size_t{5000}, size_t{300000}}) {
      void* p = Check(lite_memalign(alignment, size));
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignment, 0u) << alignment;
      EXPECT_GE(lite_malloc_usable_size(p), size);
      memset(p, 0x5a, size);
      lite_free(p);
    }
  }
  void* out = nullptr;
  EXPECT_EQ(lite_posix_memalign(&out, 3, 100), EINVAL);
  EXPECT_EQ(out, nullptr);
}

TEST(HardenedApi, EnomemForImpossibleSizes) {
  errno = 0;
  EXPECT_EQ(lite_malloc(SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(lite_calloc(SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(HardenedApi, StatsAreConsistent) {
  lite_malloc_stats before;
  lite_malloc_get_stats(&before);
  void* p = Check(lite_malloc(10 * kMiB));
  lite_malloc_stats live;
  lite_malloc_get_stats(&live);
  EXPECT_EQ(live.large_blocks, before.large_blocks + 1);
  EXPECT_GE(live.large_bytes, before.large_bytes + 10 * kMiB);
  lite_free(p);
  lite_malloc_stats after;
  lite_malloc_get_stats(&after);
  EXPECT_EQ(after.large_blocks, before.large_blocks);
}

}  // namespace
