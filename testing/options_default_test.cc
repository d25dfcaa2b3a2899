// The default build options of //lite_malloc:core, as reported by
// lite_malloc_get_config.
#include <string.h>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"

namespace {

TEST(OptionsDefault, ConfigHasDefaultValues) {
  lite_malloc_config c;
  memset(&c, 0xee, sizeof(c));
  lite_malloc_get_config(&c);
  EXPECT_EQ(c.engines_count, 32u);
  EXPECT_EQ(c.miniblock_cache_size, 1024u);
  EXPECT_EQ(c.superblock_cache_size, 32u);
  EXPECT_EQ(c.use_perthread_engines, 1);
  EXPECT_EQ(c.small_max, 8192u);
  EXPECT_EQ(c.medium_max, 131072u);
  EXPECT_GT(c.size_classes, 0u);
  EXPECT_LT(c.size_classes, 10000u);
}

TEST(OptionsDefault, ConfigIsStable) {
  // Also callable repeatedly, with identical answers.
  lite_malloc_config a, b;
  lite_malloc_get_config(&a);
  void* p = lite_malloc(1);
  lite_malloc_get_config(&b);
  lite_free(p);
  EXPECT_EQ(a.engines_count, b.engines_count);
  EXPECT_EQ(a.small_max, b.small_max);
  EXPECT_EQ(a.medium_max, b.medium_max);
  EXPECT_EQ(a.size_classes, b.size_classes);
}

}  // namespace
