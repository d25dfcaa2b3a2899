// lite_free_sized and lite_free_aligned_sized: blocks handed back with their
// size (and alignment) are really freed, for every size-class kind.
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

lite_malloc_stats Stats() {
  lite_malloc_stats s;
  memset(&s, 0, sizeof(s));
  lite_malloc_get_stats(&s);
  return s;
}

const size_t kSizes[] = {0,     1,      8,      9,      16,      17,      100,      1000,
                         4096,  8191,   8192,   8193,   12288,   20000,   100000,   131072,
                         131073, 500000, 1 * kMiB, 5 * kMiB};

TEST(FreeSized, FreesBlocksFromMalloc) {
  for (size_t n : kSizes) {
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr) << "lite_malloc(" << n << ")";
    lite_test::FillPattern(p, n, n);
    EXPECT_TRUE(lite_test::CheckPattern(p, n, n));
    errno = EDOM;
    lite_free_sized(p, n);
    EXPECT_EQ(errno, EDOM) << "lite_free_sized changed errno, size " << n;
  }
}

TEST(FreeSized, FreesBlocksFromCallocAndRealloc) {
  void* a = lite_calloc(10, 30);
  ASSERT_NE(a, nullptr);
  lite_free_sized(a, 300);
  void* b = lite_malloc(100);
  ASSERT_NE(b, nullptr);
  b = lite_realloc(b, 50000);
  ASSERT_NE(b, nullptr);
  lite_free_sized(b, 50000);
}

// Repeated allocate/free_sized rounds must reuse memory: the mapped total
// stays flat instead of growing with the number of rounds.
TEST(FreeSized, MemoryIsReused) {
  const size_t sizes[] = {64, 5000, 40000, 300000};
  for (size_t n : sizes) {
    const int batch = n > 131072 ? 16 : 512;
    size_t mapped_after_first = 0;
    size_t large_after_first = 0;
    for (int round = 0; round < 40; round++) {
      std::vector<void*> blocks;
      for (int i = 0; i < batch; i++) {
        void* p = lite_malloc(n);
        ASSERT_NE(p, nullptr);
        memset(p, round, n);
        blocks.push_back(p);
      }
      for (void* p : blocks) lite_free_sized(p, n);
      if (round == 0) {
        mapped_after_first = Stats().mapped_bytes;
        large_after_first = Stats().large_blocks;
      }
    }
    lite_malloc_stats s = Stats();
    EXPECT_LE(s.mapped_bytes, mapped_after_first + 16 * kMiB)
        << "size " << n << ": mapped grew from " << mapped_after_first << " to "
        << s.mapped_bytes << " over 40 rounds of malloc/free_sized";
    EXPECT_LE(s.large_blocks, large_after_first) << "size " << n;
  }
}

TEST(FreeAlignedSized, FreesBlocksFromAlignedAlloc) {
  const size_t aligns[] = {1, 8, 16, 32, 64, 256, 4096, 65536, 1 * kMiB, 4 * kMiB};
  for (size_t a : aligns) {
    for (size_t n : kSizes) {
      void* p = lite_aligned_alloc(a, n);
      ASSERT_NE(p, nullptr) << "lite_aligned_alloc(" << a << ", " << n << ")";
      EXPECT_TRUE(lite_test::IsAligned(p, a));
      lite_test::FillPattern(p, n, a + n);
      EXPECT_TRUE(lite_test::CheckPattern(p, n, a + n));
      errno = EDOM;
      lite_free_aligned_sized(p, a, n);
      EXPECT_EQ(errno, EDOM) << "lite_free_aligned_sized changed errno";
    }
  }
}

TEST(FreeAlignedSized, MemoryIsReused) {
  const size_t aligns[] = {64, 4096, 65536};
  const size_t sizes[] = {100, 20000, 300000};
  for (size_t a : aligns) {
    for (size_t n : sizes) {
      size_t mapped_after_first = 0;
      for (int round = 0; round < 30; round++) {
        std::vector<void*> blocks;
        for (int i = 0; i < 32; i++) {
          void* p = lite_aligned_alloc(a, n);
          ASSERT_NE(p, nullptr);
          memset(p, round, n);
          blocks.push_back(p);
        }
        for (void* p : blocks) lite_free_aligned_sized(p, a, n);
        if (round == 0) mapped_after_first = Stats().mapped_bytes;
      }
      EXPECT_LE(Stats().mapped_bytes, mapped_after_first + 16 * kMiB)
          << "alignment " << a << " size " << n;
    }
  }
}

}  // namespace
