// lite_malloc_get_stats: the figures follow what the program does with large
// blocks and never report nonsense.
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
  memset(&s, 0xee, sizeof(s));  // catch fields left unwritten
  lite_malloc_get_stats(&s);
  return s;
}

TEST(Stats, LargeBlockIsCountedAndUncounted) {
  const lite_malloc_stats before = Stats();
  void* p = lite_malloc(10 * kMiB);
  ASSERT_NE(p, nullptr);
  memset(p, 1, 10 * kMiB);
  const lite_malloc_stats live = Stats();
  EXPECT_GE(live.large_blocks, 1u);
  EXPECT_GE(live.large_blocks, before.large_blocks + 1);
  EXPECT_GE(live.large_bytes, 10 * kMiB);
  EXPECT_GE(live.large_bytes, before.large_bytes + 10 * kMiB);
  EXPECT_GE(live.mapped_bytes, live.large_bytes);
  lite_free(p);
  const lite_malloc_stats after = Stats();
  EXPECT_EQ(after.large_blocks, before.large_blocks);
  EXPECT_EQ(after.large_bytes, before.large_bytes);
}

TEST(Stats, SeveralLargeBlocksAddUp) {
  const lite_malloc_stats before = Stats();
  std::vector<void*> blocks;
  for (int i = 1; i <= 5; i++) {
    void* p = lite_malloc(i * kMiB);
    ASSERT_NE(p, nullptr);
    blocks.push_back(p);
  }
  const lite_malloc_stats live = Stats();
  EXPECT_EQ(live.large_blocks, before.large_blocks + 5);
  EXPECT_GE(live.large_bytes, before.large_bytes + 15 * kMiB);
  for (void* p : blocks) lite_free(p);
  const lite_malloc_stats after = Stats();
  EXPECT_EQ(after.large_blocks, before.large_blocks);
  EXPECT_EQ(after.large_bytes, before.large_bytes);
}

TEST(Stats, SmallAndMediumBlocksLiveInSegments) {
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; i++) {
    void* p = lite_malloc(i % 2 ? 100 : 20000);
    ASSERT_NE(p, nullptr);
    memset(p, 3, i % 2 ? 100 : 20000);
    blocks.push_back(p);
  }
  const lite_malloc_stats s = Stats();
  EXPECT_GE(s.segments, 1u);
  EXPECT_GE(s.pages_in_use, 1u);
  EXPECT_GE(s.mapped_bytes, 500 * 20000u);
  EXPECT_GE(s.mappings, 1u);
  EXPECT_GE(s.threads, 1u);
  for (void* p : blocks) lite_free(p);
}

TEST(Stats, FiguresAreConsistent) {
  const lite_malloc_stats s = Stats();
  EXPECT_GE(s.mapped_bytes, s.large_bytes);
  EXPECT_GE(s.mapped_bytes, s.dirty_bytes);
  EXPECT_LE(s.large_blocks, s.mappings);
  EXPECT_LT(s.threads, 1000u);
  EXPECT_LT(s.mapped_bytes, size_t{1} << 40);
}

TEST(Stats, PrintDoesNotCrash) {
  void* p = lite_malloc(100);
  lite_malloc_stats_print();
  lite_free(p);
}

}  // namespace
