// Basic glibc-compatible semantics of lite_malloc / lite_calloc / lite_free:
// zero-size requests, impossible sizes, calloc overflow and zeroing, free(NULL)
// and errno preservation across free.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"

namespace {

using lite_test::kMiB;

TEST(MallocBasic, ZeroSizeReturnsUniqueFreeablePointers) {
  void* a = lite_malloc(0);
  void* b = lite_malloc(0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_TRUE(lite_test::IsAligned(a, 8)) << a;
  EXPECT_TRUE(lite_test::IsAligned(b, 8)) << b;
  lite_free(a);
  lite_free(b);

  // Many live zero-size blocks are all distinct.
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; i++) {
    void* p = lite_malloc(0);
    ASSERT_NE(p, nullptr) << "i=" << i;
    blocks.push_back(p);
  }
  std::vector<void*> sorted = blocks;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end())
      << "lite_malloc(0) returned the same pointer twice while both were live";
  for (void* p : blocks) lite_free(p);
}

TEST(MallocBasic, SizesAbovePtrdiffMaxFailWithEnomem) {
  const size_t sizes[] = {
      SIZE_MAX,
      SIZE_MAX - 1,
      SIZE_MAX - 4095,
      SIZE_MAX - 65536,
      static_cast<size_t>(PTRDIFF_MAX) + 1,
      static_cast<size_t>(PTRDIFF_MAX) + 4096,
      SIZE_MAX / 2 + 12345,
  };
  for (size_t n : sizes) {
    errno = 0;
    void* p = lite_malloc(n);
    EXPECT_EQ(p, nullptr) << "lite_malloc(" << n << ")";
    EXPECT_EQ(errno, ENOMEM) << "lite_malloc(" << n << ")";
    if (p != nullptr) lite_free(p);
  }
}

TEST(MallocBasic, UnsatisfiableSizesFailWithEnomem) {
  // Not above PTRDIFF_MAX, but far beyond any address space: the mapping fails.
  const size_t sizes[] = {static_cast<size_t>(PTRDIFF_MAX), size_t{1} << 62,
                          size_t{1} << 56};
  for (size_t n : sizes) {
    errno = 0;
    void* p = lite_malloc(n);
    EXPECT_EQ(p, nullptr) << "lite_malloc(" << n << ")";
    EXPECT_EQ(errno, ENOMEM) << "lite_malloc(" << n << ")";
    if (p != nullptr) lite_free(p);
  }
}

TEST(MallocBasic, AllocatorStillWorksAfterFailedRequests) {
  errno = 0;
  EXPECT_EQ(lite_malloc(SIZE_MAX), nullptr);
  void* p = lite_malloc(100);
  ASSERT_NE(p, nullptr);
  memset(p, 0x5a, 100);
  lite_free(p);
}

TEST(MallocBasic, CallocOverflowFailsWithEnomem) {
  struct Case {
    size_t count, size;
  } cases[] = {
      {SIZE_MAX / 2, 3},
      {3, SIZE_MAX / 2},
      {SIZE_MAX, 2},
      {2, SIZE_MAX},
      {SIZE_MAX, SIZE_MAX},
      {size_t{1} << 32, size_t{1} << 32},
      {(size_t{1} << 33) + 1, size_t{1} << 31},
      // No overflow, but the product is above PTRDIFF_MAX.
      {size_t{1} << 32, size_t{1} << 31},
      {SIZE_MAX, 1},
  };
  for (const Case& c : cases) {
    errno = 0;
    void* p = lite_calloc(c.count, c.size);
    EXPECT_EQ(p, nullptr) << "lite_calloc(" << c.count << ", " << c.size << ")";
    EXPECT_EQ(errno, ENOMEM) << "lite_calloc(" << c.count << ", " << c.size << ")";
    if (p != nullptr) lite_free(p);
  }
}

TEST(MallocBasic, CallocZeroCountOrSizeReturnsFreeablePointer) {
  void* a = lite_calloc(0, 16);
  void* b = lite_calloc(16, 0);
  void* c = lite_calloc(0, 0);
  EXPECT_NE(a, nullptr);
  EXPECT_NE(b, nullptr);
  EXPECT_NE(c, nullptr);
  lite_free(a);
  lite_free(b);
  lite_free(c);
}

// Allocates `rounds` batches of blocks of `size`, dirties them, frees them and
// then callocs the same size: the (likely reused) memory must read as zero.
void CheckCallocZeroedAfterReuse(size_t size, int batch, int rounds) {
  for (int round = 0; round < rounds; round++) {
    std::vector<void*> blocks;
    for (int i = 0; i < batch; i++) {
      void* p = lite_malloc(size);
      ASSERT_NE(p, nullptr) << "lite_malloc(" << size << ")";
      memset(p, 0xff, lite_malloc_usable_size(p));
      blocks.push_back(p);
    }
    // Free in reverse order too, so both LIFO and FIFO reuse are exercised.
    for (int i = batch - 1; i >= 0; i--) lite_free(blocks[i]);
    for (int i = 0; i < batch; i++) {
      void* p = lite_calloc(1, size);
      ASSERT_NE(p, nullptr) << "lite_calloc(1, " << size << ")";
      size_t bad = lite_test::FindNonZero(p, size);
      EXPECT_EQ(bad, SIZE_MAX) << "lite_calloc(1, " << size << ") block " << p
                               << " has a nonzero byte at offset " << bad << " (round "
                               << round << ", block " << i << ")";
      blocks[i] = p;
    }
    for (void* p : blocks) lite_free(p);
  }
}

TEST(MallocBasic, CallocIsZeroedForSmallSizes) {
  const size_t sizes[] = {1, 7, 8, 9, 16, 24, 48, 100, 256, 1000, 4096, 8000, 8192};
  for (size_t n : sizes) {
    SCOPED_TRACE(testing::Message() << "size " << n);
    CheckCallocZeroedAfterReuse(n, 256, 3);
  }
}

TEST(MallocBasic, CallocIsZeroedForMediumSizes) {
  const size_t sizes[] = {8193, 12288, 20000, 65536, 100000, 131072};
  for (size_t n : sizes) {
    SCOPED_TRACE(testing::Message() << "size " << n);
    CheckCallocZeroedAfterReuse(n, 32, 3);
  }
}

TEST(MallocBasic, CallocIsZeroedForLargeSizes) {
  const size_t sizes[] = {131073, 1 * kMiB, 4 * kMiB + 1, 16 * kMiB};
  for (size_t n : sizes) {
    SCOPED_TRACE(testing::Message() << "size " << n);
    CheckCallocZeroedAfterReuse(n, 4, 3);
  }
}

TEST(MallocBasic, CallocWithCountAndSizeIsZeroed) {
  // The product, not either factor, decides the block size.
  std::vector<void*> dirty;
  for (int i = 0; i < 64; i++) {
    void* p = lite_malloc(3000);
    ASSERT_NE(p, nullptr);
    memset(p, 0xab, 3000);
    dirty.push_back(p);
  }
  for (void* p : dirty) lite_free(p);
  for (int i = 0; i < 64; i++) {
    unsigned char* p = static_cast<unsigned char*>(lite_calloc(100, 30));
    ASSERT_NE(p, nullptr);
    ASSERT_GE(lite_malloc_usable_size(p), 3000u);
    EXPECT_EQ(lite_test::FindNonZero(p, 3000), SIZE_MAX);
    lite_free(p);
  }
}

TEST(MallocBasic, FreeNullIsNoOp) {
  errno = EDOM;
  lite_free(nullptr);
  EXPECT_EQ(errno, EDOM);
  lite_free_sized(nullptr, 0);
  lite_free_sized(nullptr, 100);
  lite_free_aligned_sized(nullptr, 64, 100);
  EXPECT_EQ(errno, EDOM);
}

TEST(MallocBasic, FreePreservesErrno) {
  const size_t sizes[] = {1, 100, 8192, 8193, 20000, 131072, 131073, 1 * kMiB, 10 * kMiB};
  const int values[] = {EDOM, 1234, ENOMEM, 0};
  for (size_t n : sizes) {
    for (int v : values) {
      void* p = lite_malloc(n);
      ASSERT_NE(p, nullptr) << "lite_malloc(" << n << ")";
      memset(p, 1, n);
      errno = v;
      lite_free(p);
      EXPECT_EQ(errno, v) << "lite_free changed errno for a block of " << n << " bytes";
    }
  }
  // Also when a whole batch is freed (which may return memory to the OS).
  for (size_t n : sizes) {
    std::vector<void*> blocks;
    for (int i = 0; i < (n > 131072 ? 4 : 512); i++) {
      void* p = lite_malloc(n);
      ASSERT_NE(p, nullptr);
      memset(p, 2, n);
      blocks.push_back(p);
    }
    for (void* p : blocks) {
      errno = EDOM;
      lite_free(p);
      ASSERT_EQ(errno, EDOM) << "lite_free changed errno for a block of " << n << " bytes";
    }
  }
}

TEST(MallocBasic, UsableSizeOfNullIsZero) { EXPECT_EQ(lite_malloc_usable_size(nullptr), 0u); }

TEST(MallocBasic, DistinctLiveBlocksDoNotOverlap) {
  lite_test::Rng rng(42);
  struct Block {
    unsigned char* p;
    size_t n;
    uint64_t seed;
  };
  std::vector<Block> blocks;
  for (int i = 0; i < 4000; i++) {
    size_t n = rng.LogSize(1, 300000);
    auto* p = static_cast<unsigned char*>(lite_malloc(n));
    ASSERT_NE(p, nullptr) << "lite_malloc(" << n << ")";
    lite_test::FillPattern(p, n, i);
    blocks.push_back({p, n, static_cast<uint64_t>(i)});
    if (rng.Next() % 3 == 0) {
      size_t victim = rng.Next() % blocks.size();
      ASSERT_TRUE(lite_test::CheckPattern(blocks[victim].p, blocks[victim].n, blocks[victim].seed))
          << "block of " << blocks[victim].n << " bytes at " << (void*)blocks[victim].p
          << " was overwritten";
      lite_free(blocks[victim].p);
      blocks[victim] = blocks.back();
      blocks.pop_back();
    }
  }
  for (const Block& b : blocks) {
    EXPECT_TRUE(lite_test::CheckPattern(b.p, b.n, b.seed))
        << "block of " << b.n << " bytes at " << (void*)b.p << " was overwritten";
    lite_free(b.p);
  }
}

}  // namespace
