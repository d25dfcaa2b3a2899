// lite_realloc and lite_reallocarray: contents survive growing and shrinking
// across every size-class kind, small shrinks stay in place, realloc(p, 0)
// frees, and impossible sizes fail with ENOMEM leaving the old block intact.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"

namespace {

using lite_test::kMiB;

TEST(Realloc, NullPointerActsLikeMalloc) {
  const size_t sizes[] = {0, 1, 100, 8192, 20000, 200000, 2 * kMiB};
  for (size_t n : sizes) {
    void* p = lite_realloc(nullptr, n);
    ASSERT_NE(p, nullptr) << "lite_realloc(NULL, " << n << ")";
    EXPECT_TRUE(lite_test::IsAligned(p, lite_test::MinAlignmentFor(n))) << p;
    EXPECT_GE(lite_malloc_usable_size(p), n);
    memset(p, 0x11, n);
    lite_free(p);
  }
  errno = 0;
  EXPECT_EQ(lite_realloc(nullptr, SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(Realloc, ZeroSizeFreesAndReturnsNull) {
  const size_t sizes[] = {1, 100, 8192, 20000, 200000, 2 * kMiB};
  for (size_t n : sizes) {
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr);
    memset(p, 0x22, n);
    EXPECT_EQ(lite_realloc(p, 0), nullptr) << "lite_realloc(p, 0) for a block of " << n;
  }
  // Repeating it many times must not leak: large blocks are unmapped.
  lite_malloc_stats before;
  lite_malloc_get_stats(&before);
  for (int i = 0; i < 200; i++) {
    void* p = lite_malloc(3 * kMiB);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(lite_realloc(p, 0), nullptr);
  }
  lite_malloc_stats after;
  lite_malloc_get_stats(&after);
  EXPECT_LE(after.large_blocks, before.large_blocks)
      << "lite_realloc(p, 0) did not free large blocks";
}

// Walks a block through `chain`, checking at each step that the prefix
// written before the step survived, then rewriting the whole new size.
void WalkChain(const std::vector<size_t>& chain, uint64_t seed) {
  void* p = nullptr;
  size_t size = 0;
  for (size_t step = 0; step < chain.size(); step++) {
    const size_t n = chain[step];
    void* q = lite_realloc(p, n);
    ASSERT_NE(q, nullptr) << "lite_realloc(" << p << ", " << n << ") at step " << step;
    EXPECT_TRUE(lite_test::IsAligned(q, lite_test::MinAlignmentFor(n)))
        << "lite_realloc to " << n << " returned " << q;
    EXPECT_GE(lite_malloc_usable_size(q), n) << "lite_realloc to " << n;
    const size_t keep = size < n ? size : n;
    const size_t bad = lite_test::FindPatternMismatch(q, keep, seed + step);
    ASSERT_EQ(bad, SIZE_MAX) << "lite_realloc from " << size << " to " << n
                             << " lost the contents at offset " << bad << " (step " << step
                             << ", " << p << " -> " << q << ")";
    lite_test::FillPattern(q, n, seed + step + 1);
    p = q;
    size = n;
  }
  lite_free(p);
}

TEST(Realloc, KeepsContentsUpAndDownTheSizeChain) {
  const std::vector<size_t> up = {1,     7,      8,      9,       16,         17,
                                  100,   1000,   8192,   8193,    20000,      131072,
                                  131073, 1 * kMiB, 8 * kMiB};
  std::vector<size_t> chain = up;
  for (size_t i = up.size() - 1; i-- > 0;) chain.push_back(up[i]);
  WalkChain(chain, 1000);
}

TEST(Realloc, KeepsContentsAcrossEveryPairOfClassKinds) {
  // One representative per kind: small, medium, large. Every ordered pair.
  const size_t reps[][2] = {{24, 5000}, {12000, 100000}, {300000, 3 * kMiB}};
  uint64_t seed = 5000;
  for (int from = 0; from < 3; from++) {
    for (int to = 0; to < 3; to++) {
      for (size_t a : reps[from]) {
        for (size_t b : reps[to]) {
          SCOPED_TRACE(testing::Message() << a << " -> " << b);
          WalkChain({a, b}, seed);
          seed += 10;
        }
      }
    }
  }
}

TEST(Realloc, RandomWalkKeepsContents) {
  lite_test::Rng rng(7);
  void* blocks[32] = {};
  size_t sizes[32] = {};
  uint64_t seeds[32] = {};
  for (int i = 0; i < 6000; i++) {
    const int k = static_cast<int>(rng.Next() % 32);
    const size_t n = rng.Next() % 50 == 0 ? rng.LogSize(131073, 4 * kMiB) : rng.LogSize(1, 150000);
    void* q = lite_realloc(blocks[k], n);
    ASSERT_NE(q, nullptr) << "lite_realloc to " << n;
    const size_t keep = sizes[k] < n ? sizes[k] : n;
    const size_t bad = lite_test::FindPatternMismatch(q, keep, seeds[k]);
    ASSERT_EQ(bad, SIZE_MAX) << "lite_realloc from " << sizes[k] << " to " << n
                             << " lost the contents at offset " << bad << " (iteration " << i
                             << ")";
    seeds[k] = 100000 + i;
    lite_test::FillPattern(q, n, seeds[k]);
    blocks[k] = q;
    sizes[k] = n;
  }
  for (int k = 0; k < 32; k++) {
    EXPECT_TRUE(lite_test::CheckPattern(blocks[k], sizes[k], seeds[k]));
    lite_free(blocks[k]);
  }
}

TEST(Realloc, KeepsContentsOfAlignedBlocks) {
  const size_t aligns[] = {32, 4096, 65536, 1 * kMiB};
  const size_t sizes[] = {10, 5000, 50000, 300000};
  const size_t targets[] = {1, 3000, 70000, 2 * kMiB};
  uint64_t seed = 9000;
  for (size_t a : aligns) {
    for (size_t n : sizes) {
      for (size_t m : targets) {
        void* p = lite_aligned_alloc(a, n);
        ASSERT_NE(p, nullptr) << "lite_aligned_alloc(" << a << ", " << n << ")";
        lite_test::FillPattern(p, n, seed);
        void* q = lite_realloc(p, m);
        ASSERT_NE(q, nullptr) << "lite_realloc to " << m;
        const size_t keep = n < m ? n : m;
        EXPECT_EQ(lite_test::FindPatternMismatch(q, keep, seed), SIZE_MAX)
            << "lite_realloc of lite_aligned_alloc(" << a << ", " << n << ") to " << m;
        EXPECT_GE(lite_malloc_usable_size(q), m);
        lite_free(q);
        seed++;
      }
    }
  }
}

TEST(Realloc, SmallShrinkStaysInPlace) {
  struct Case {
    size_t from, to;
  } cases[] = {{1000, 990}, {4 * kMiB, 4 * kMiB - 100}, {100, 97}, {20000, 19990}};
  for (const Case& c : cases) {
    void* p = lite_malloc(c.from);
    ASSERT_NE(p, nullptr);
    lite_test::FillPattern(p, c.from, c.from);
    void* q = lite_realloc(p, c.to);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q, p) << "lite_realloc(" << c.from << " -> " << c.to << ") moved the block";
    EXPECT_TRUE(lite_test::CheckPattern(q, c.to, c.from));
    EXPECT_GE(lite_malloc_usable_size(q), c.to);
    lite_free(q);
  }
}

TEST(Realloc, SameSizeKeepsContents) {
  const size_t sizes[] = {1, 100, 8192, 20000, 131072, 2 * kMiB};
  for (size_t n : sizes) {
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr);
    lite_test::FillPattern(p, n, n + 3);
    void* q = lite_realloc(p, n);
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(lite_test::CheckPattern(q, n, n + 3)) << "size " << n;
    lite_free(q);
  }
}

// Buffers grown by 64 KiB steps to 4 MiB, round after round, as a program
// reading files of unknown size: once the first rounds have left their
// mappings in the cache, a round costs no mmap, munmap or mremap at all (a
// growing block takes a whole cached mapping and grows into it).
lite_malloc_os_stats OsStats() {
  lite_malloc_os_stats s;
  memset(&s, 0, sizeof(s));
  lite_malloc_get_os_stats(&s);
  return s;
}

TEST(Realloc, GrowingBuffersReuseFreedMappings) {
  // Rounds must take less than the purge delay, or the decay rightly unmaps
  // the cache between them: ThreadSanitizer is too slow for that.
  if (lite_test::kTsan) GTEST_SKIP() << "rounds outlast the purge delay under ThreadSanitizer";
  constexpr int kBuffers = 4;
  constexpr size_t kStep = 64 * 1024, kEnd = 4 << 20;
  lite_malloc_trim(0);  // what earlier tests left in the cache goes
  lite_malloc_os_stats warm = {};
  for (int round = 0; round < 6; round++) {
    if (round == 2) warm = OsStats();
    unsigned char* b[kBuffers] = {};
    for (size_t len = 0; len < kEnd; len += kStep) {
      for (int k = 0; k < kBuffers; k++) {
        b[k] = static_cast<unsigned char*>(lite_realloc(b[k], len + kStep));
        ASSERT_NE(b[k], nullptr);
        memset(b[k] + len, static_cast<int>(k + len / kStep), kStep);
      }
    }
    for (int k = 0; k < kBuffers; k++) {
      for (size_t off = 0; off < kEnd; off += 4096)
        ASSERT_EQ(b[k][off], static_cast<unsigned char>(k + off / kStep)) << off;
      lite_free(b[k]);
    }
  }
  const lite_malloc_os_stats end = OsStats();
  EXPECT_EQ(end.maps, warm.maps);
  EXPECT_EQ(end.unmaps, warm.unmaps);
  EXPECT_EQ(end.remaps, warm.remaps);
}

TEST(Realloc, ImpossibleSizeFailsAndKeepsOldBlock) {
  const size_t olds[] = {100, 20000, 2 * kMiB};
  const size_t news[] = {SIZE_MAX, SIZE_MAX - 4096, static_cast<size_t>(PTRDIFF_MAX) + 1};
  for (size_t o : olds) {
    for (size_t n : news) {
      void* p = lite_malloc(o);
      ASSERT_NE(p, nullptr);
      lite_test::FillPattern(p, o, o ^ n);
      errno = 0;
      void* q = lite_realloc(p, n);
      EXPECT_EQ(q, nullptr) << "lite_realloc(" << o << " -> " << n << ")";
      EXPECT_EQ(errno, ENOMEM) << "lite_realloc(" << o << " -> " << n << ")";
      ASSERT_TRUE(lite_test::CheckPattern(p, o, o ^ n))
          << "failed lite_realloc damaged the old block of " << o;
      EXPECT_GE(lite_malloc_usable_size(p), o);
      // The old block is still live and usable.
      void* r = lite_realloc(p, o + 10);
      ASSERT_NE(r, nullptr);
      EXPECT_TRUE(lite_test::CheckPattern(r, o, o ^ n));
      lite_free(r);
    }
  }
}

TEST(Reallocarray, NullPointerActsLikeMallocarray) {
  void* p = lite_reallocarray(nullptr, 10, 100);
  ASSERT_NE(p, nullptr);
  EXPECT_GE(lite_malloc_usable_size(p), 1000u);
  memset(p, 0x44, 1000);
  lite_free(p);
}

TEST(Reallocarray, KeepsContents) {
  auto* p = static_cast<unsigned char*>(lite_reallocarray(nullptr, 50, 20));
  ASSERT_NE(p, nullptr);
  lite_test::FillPattern(p, 1000, 77);
  p = static_cast<unsigned char*>(lite_reallocarray(p, 5000, 20));
  ASSERT_NE(p, nullptr);
  EXPECT_GE(lite_malloc_usable_size(p), 100000u);
  EXPECT_TRUE(lite_test::CheckPattern(p, 1000, 77));
  lite_test::FillPattern(p, 100000, 78);
  p = static_cast<unsigned char*>(lite_reallocarray(p, 3, 10));
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(lite_test::CheckPattern(p, 30, 78));
  lite_free(p);
}

TEST(Reallocarray, OverflowFailsWithEnomemAndKeepsOldBlock) {
  struct Case {
    size_t count, size;
  } cases[] = {{SIZE_MAX / 2, 3},           {3, SIZE_MAX / 2},       {SIZE_MAX, SIZE_MAX},
               {size_t{1} << 32, size_t{1} << 32}, {size_t{1} << 32, size_t{1} << 31}};
  for (const Case& c : cases) {
    void* p = lite_malloc(500);
    ASSERT_NE(p, nullptr);
    lite_test::FillPattern(p, 500, 9);
    errno = 0;
    void* q = lite_reallocarray(p, c.count, c.size);
    EXPECT_EQ(q, nullptr) << "lite_reallocarray(p, " << c.count << ", " << c.size << ")";
    EXPECT_EQ(errno, ENOMEM) << "lite_reallocarray(p, " << c.count << ", " << c.size << ")";
    EXPECT_TRUE(lite_test::CheckPattern(p, 500, 9))
        << "failed lite_reallocarray damaged the old block";
    lite_free(p);
  }
  errno = 0;
  EXPECT_EQ(lite_reallocarray(nullptr, SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(Reallocarray, ZeroProductFreesLikeRealloc) {
  void* p = lite_malloc(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(lite_reallocarray(p, 0, 100), nullptr);
  p = lite_malloc(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(lite_reallocarray(p, 100, 0), nullptr);
}

}  // namespace
