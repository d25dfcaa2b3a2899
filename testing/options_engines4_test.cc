// //lite_malloc:core_engines4 is built with LITE_MALLOC_ENGINES_COUNT=4,
// USE_PERTHREAD_ENGINES=0, MINIBLOCK_CACHE_SIZE=64, SUPERBLOCK_CACHE_SIZE=4:
// lite_malloc_get_config reports exactly that, and the allocator works with
// the resulting class boundaries and with threads sharing four engines.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <atomic>
#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"

namespace {

lite_malloc_config Config() {
  lite_malloc_config c;
  memset(&c, 0xee, sizeof(c));
  lite_malloc_get_config(&c);
  return c;
}

TEST(OptionsEngines4, ConfigReportsBuildOptions) {
  const lite_malloc_config c = Config();
  EXPECT_EQ(c.engines_count, 4u);
  EXPECT_EQ(c.use_perthread_engines, 0);
  EXPECT_EQ(c.miniblock_cache_size, 64u);
  EXPECT_EQ(c.superblock_cache_size, 4u);
  EXPECT_EQ(c.small_max, 64u * 8);
  EXPECT_EQ(c.medium_max, 4u * 4096);
  EXPECT_GT(c.size_classes, 0u);
  EXPECT_LT(c.size_classes, 10000u);
}

TEST(OptionsEngines4, SizesAroundTheShiftedBoundariesWork) {
  const lite_malloc_config c = Config();
  std::set<size_t> sizes = {0, 1, 7, 8, 9};
  for (size_t n = 16; n <= c.small_max; n += 16) sizes.insert({n - 1, n, n + 1});
  for (size_t n = 4096; n <= c.medium_max + 4096; n += 4096) sizes.insert({n - 1, n, n + 1});
  sizes.insert({c.small_max - 1, c.small_max, c.small_max + 1});
  sizes.insert({c.medium_max - 1, c.medium_max, c.medium_max + 1});
  sizes.insert({size_t{100000}, size_t{1} << 20});
  for (size_t n : sizes) {
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr) << "lite_malloc(" << n << ")";
    EXPECT_TRUE(lite_test::IsAligned(p, lite_test::MinAlignmentFor(n))) << n << " -> " << p;
    const size_t usable = lite_malloc_usable_size(p);
    EXPECT_GE(usable, n);
    if (n <= c.small_max) {
      // 16-byte steps to 1024, then steps of an eighth (size_class_test.cc).
      EXPECT_LT(usable, n + (n <= 16 ? 17 : std::max<size_t>(16, n / 8))) << "lite_malloc(" << n << ")";
    }
    lite_test::FillPattern(p, usable, n);
    EXPECT_TRUE(lite_test::CheckPattern(p, usable, n)) << "size " << n;
    void* q = lite_realloc(p, n * 2 + 1);
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(lite_test::CheckPattern(q, n, n)) << "realloc " << n << " -> " << n * 2 + 1;
    lite_free(q);
  }
}

TEST(OptionsEngines4, EightThreadsShareFourEngines) {
  constexpr int kThreads = 8;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([t, &errors] {
      lite_test::Rng rng(t + 1);
      struct Block {
        void* p;
        size_t n;
        uint64_t seed;
      };
      std::vector<Block> live;
      for (int i = 0; i < 5000; i++) {
        const size_t n = rng.LogSize(1, 40000);
        void* p = lite_malloc(n);
        if (p == nullptr) {
          errors++;
          continue;
        }
        const uint64_t seed = (uint64_t(t) << 32) | i;
        lite_test::FillPattern(p, n, seed);
        live.push_back({p, n, seed});
        if (live.size() > 64 || rng.Next() % 2) {
          size_t k = rng.Next() % live.size();
          if (!lite_test::CheckPattern(live[k].p, live[k].n, live[k].seed)) errors++;
          lite_free(live[k].p);
          live[k] = live.back();
          live.pop_back();
        }
      }
      for (const Block& b : live) {
        if (!lite_test::CheckPattern(b.p, b.n, b.seed)) errors++;
        lite_free(b.p);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0) << "failed allocations or corrupted blocks";
}

}  // namespace
