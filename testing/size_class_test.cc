// Size classes: every size around every class boundary (small classes step 16
// up to small_max, medium classes step 4096 up to medium_max, then direct
// mappings) is allocated, checked for alignment and usable size, written over
// its whole usable size and verified.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"

namespace {

using lite_test::kMiB;

lite_malloc_config Config() {
  lite_malloc_config c;
  memset(&c, 0, sizeof(c));
  lite_malloc_get_config(&c);
  return c;
}

// Sizes around the class boundaries (a superset: every multiple of 16 up to
// small_max), every multiple of 4096 from there to medium_max, and a few
// large sizes.
std::vector<size_t> Boundaries(const lite_malloc_config& c) {
  std::vector<size_t> b;
  b.push_back(8);
  for (size_t n = 16; n <= c.small_max; n += 16) b.push_back(n);
  for (size_t n = (c.small_max / 4096 + 1) * 4096; n <= c.medium_max; n += 4096) b.push_back(n);
  b.push_back(c.small_max);
  b.push_back(c.medium_max);
  b.push_back(256 * 1024);
  b.push_back(1 * kMiB);
  b.push_back(4 * kMiB);
  b.push_back(8 * kMiB);
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return b;
}

// n-1, n, n+1 around every boundary, plus 0.
std::vector<size_t> EdgeSizes(const lite_malloc_config& c) {
  std::set<size_t> s = {0, 1, 2, 3, 4, 5, 6, 7};
  for (size_t n : Boundaries(c)) {
    s.insert(n - 1);
    s.insert(n);
    s.insert(n + 1);
  }
  return std::vector<size_t>(s.begin(), s.end());
}

TEST(SizeClass, ConfigBoundariesAreSane) {
  lite_malloc_config c = Config();
  EXPECT_GT(c.small_max, 8u);
  EXPECT_EQ(c.small_max % 16, 0u);
  EXPECT_GT(c.medium_max, c.small_max);
  EXPECT_EQ(c.medium_max % 4096, 0u);
  EXPECT_EQ(c.small_max, c.miniblock_cache_size * 8);
  EXPECT_EQ(c.medium_max, c.superblock_cache_size * 4096);
}

TEST(SizeClass, EdgeSizesAreAlignedUsableAndWritable) {
  const lite_malloc_config c = Config();
  const std::vector<size_t> sizes = EdgeSizes(c);
  ASSERT_GT(sizes.size(), 100u);
  uint64_t seed = 1;
  for (size_t n : sizes) {
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr) << "lite_malloc(" << n << ")";
    const size_t align = lite_test::MinAlignmentFor(n);
    EXPECT_TRUE(lite_test::IsAligned(p, align))
        << "lite_malloc(" << n << ") = " << p << " is not " << align << "-aligned";
    const size_t usable = lite_malloc_usable_size(p);
    EXPECT_GE(usable, n) << "lite_malloc_usable_size(lite_malloc(" << n << "))";
    EXPECT_TRUE(lite_malloc_owns(p)) << "lite_malloc(" << n << ")";
    lite_test::FillPattern(p, usable, seed);
    EXPECT_EQ(lite_test::FindPatternMismatch(p, usable, seed), SIZE_MAX)
        << "size " << n << ", usable " << usable;
    lite_free(p);
    seed++;
  }
}

// Same sweep with many blocks of each edge size live at once, so neighbours
// in the same class would notice an overrun of the usable size.
TEST(SizeClass, NeighbouringBlocksKeepTheirContents) {
  const lite_malloc_config c = Config();
  for (size_t n : EdgeSizes(c)) {
    const int count = n <= c.small_max ? 16 : n <= c.medium_max ? 4 : 2;
    void* blocks[16];
    size_t usable[16];
    for (int i = 0; i < count; i++) {
      blocks[i] = lite_malloc(n);
      ASSERT_NE(blocks[i], nullptr) << "lite_malloc(" << n << ")";
      usable[i] = lite_malloc_usable_size(blocks[i]);
      ASSERT_GE(usable[i], n) << "lite_malloc(" << n << ")";
      lite_test::FillPattern(blocks[i], usable[i], n * 64 + i);
    }
    for (int i = 0; i < count; i++) {
      size_t bad = lite_test::FindPatternMismatch(blocks[i], usable[i], n * 64 + i);
      EXPECT_EQ(bad, SIZE_MAX) << "size " << n << " block " << i << " at " << blocks[i]
                               << " (usable " << usable[i] << ") corrupted at offset "
                               << bad;
      lite_free(blocks[i]);
    }
  }
}

// Small classes step by 16 bytes up to 1024, then by an eighth of the power of
// two below the size: rounding up wastes less than 16 bytes, or an eighth.
TEST(SizeClass, SmallClassesWasteLessThanOneStep) {
  const lite_malloc_config c = Config();
  for (size_t n = 0; n <= c.small_max; n++) {
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr) << "lite_malloc(" << n << ")";
    const size_t usable = lite_malloc_usable_size(p);
    const size_t limit = n + (n <= 16 ? 17 : std::max<size_t>(16, n / 8));
    EXPECT_GE(usable, n) << "lite_malloc(" << n << ")";
    EXPECT_LT(usable, limit) << "lite_malloc(" << n << ") has usable size " << usable;
    lite_free(p);
    if (HasFailure()) break;  // one report is enough, not thousands
  }
}

TEST(SizeClass, MediumClassesWasteLessThanOnePage) {
  const lite_malloc_config c = Config();
  for (size_t n = c.small_max + 1; n <= c.medium_max; n += (n % 4096 == 0 ? 1 : 511)) {
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr) << "lite_malloc(" << n << ")";
    const size_t usable = lite_malloc_usable_size(p);
    EXPECT_GE(usable, n) << "lite_malloc(" << n << ")";
    EXPECT_LT(usable, n + 4096) << "lite_malloc(" << n << ") has usable size " << usable;
    lite_free(p);
    if (HasFailure()) break;
  }
}

// The OS page is the kernel's (or the test build's); medium classes step by
// 4 KiB whatever it is.
TEST(SizeClass, PageSizeIsReadAtStartUp) {
  EXPECT_EQ(lite_malloc_page_size(), lite_test::ExpectedPageSize());
}

TEST(SizeClass, LargeBlocksHaveAtLeastTheirSize) {
  const lite_malloc_config c = Config();
  const size_t page = lite_malloc_page_size();
  const size_t sizes[] = {c.medium_max + 1, c.medium_max + 4095, c.medium_max + 4096,
                          c.medium_max + 4097, c.medium_max + 65536, 1 * kMiB - 1, 1 * kMiB, 3 * kMiB + 17,
                          4 * kMiB, 4 * kMiB + 1, 32 * kMiB + 5};
  for (size_t n : sizes) {
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr) << "lite_malloc(" << n << ")";
    EXPECT_TRUE(lite_test::IsAligned(p, 16)) << "lite_malloc(" << n << ") = " << p;
    const size_t usable = lite_malloc_usable_size(p);
    EXPECT_GE(usable, n) << "lite_malloc(" << n << ")";
    // Whole OS pages, starting on one.
    EXPECT_TRUE(lite_test::IsAligned(p, page)) << "lite_malloc(" << n << ") = " << p;
    EXPECT_EQ(usable, lite_test::RoundUp(n, page)) << "lite_malloc(" << n << ")";
    lite_test::FillPattern(p, usable, n);
    EXPECT_TRUE(lite_test::CheckPattern(p, usable, n)) << "size " << n;
    lite_free(p);
  }
}

TEST(SizeClass, UsableSizeIsStableForALiveBlock) {
  const lite_malloc_config c = Config();
  for (size_t n : EdgeSizes(c)) {
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr);
    size_t u1 = lite_malloc_usable_size(p);
    memset(p, 0x77, u1);
    size_t u2 = lite_malloc_usable_size(p);
    EXPECT_EQ(u1, u2) << "size " << n;
    lite_free(p);
  }
}

}  // namespace
