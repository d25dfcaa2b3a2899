// lite_malloc_owns: true for live blocks of every kind, false for memory the
// allocator never handed out (stack, globals, NULL, the system malloc).
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"

namespace {

using lite_test::kMiB;

char g_global_buffer[4096];
const char g_const_global[64] = "read-only data";
int g_global_int = 5;

TEST(Owns, LiveBlocksOfEveryKind) {
  const size_t sizes[] = {0, 1, 8, 16, 100, 1000, 8192, 8193, 20000, 131072, 131073,
                          1 * kMiB, 16 * kMiB};
  std::vector<void*> blocks;
  for (size_t n : sizes) {
    void* p = lite_malloc(n);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(lite_malloc_owns(p)) << "lite_malloc(" << n << ") = " << p;
    blocks.push_back(p);
  }
  for (size_t a : {size_t{64}, size_t{4096}, size_t{1} << 20}) {
    for (size_t n : {size_t{10}, size_t{20000}, size_t{500000}}) {
      void* p = lite_aligned_alloc(a, n);
      ASSERT_NE(p, nullptr);
      EXPECT_TRUE(lite_malloc_owns(p)) << "lite_aligned_alloc(" << a << ", " << n << ")";
      blocks.push_back(p);
    }
  }
  void* c = lite_calloc(100, 100);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(lite_malloc_owns(c));
  blocks.push_back(c);
  void* r = lite_realloc(nullptr, 300000);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(lite_malloc_owns(r));
  blocks.push_back(r);
  for (void* p : blocks) {
    EXPECT_TRUE(lite_malloc_owns(p)) << p << " (checked again after other allocations)";
    lite_free(p);
  }
}

TEST(Owns, NullIsNotOwned) { EXPECT_FALSE(lite_malloc_owns(nullptr)); }

TEST(Owns, StackAddressesAreNotOwned) {
  char buffer[256];
  memset(buffer, 0, sizeof(buffer));
  int local = 3;
  EXPECT_FALSE(lite_malloc_owns(buffer));
  EXPECT_FALSE(lite_malloc_owns(&local));
  EXPECT_FALSE(lite_malloc_owns(buffer + 100));
}

TEST(Owns, GlobalsAndCodeAreNotOwned) {
  EXPECT_FALSE(lite_malloc_owns(g_global_buffer));
  EXPECT_FALSE(lite_malloc_owns(g_global_buffer + 2048));
  EXPECT_FALSE(lite_malloc_owns(g_const_global));
  EXPECT_FALSE(lite_malloc_owns(&g_global_int));
  EXPECT_FALSE(lite_malloc_owns(reinterpret_cast<const void*>(&lite_malloc)));
}

TEST(Owns, SystemMallocBlocksAreNotOwned) {
  const size_t sizes[] = {1, 100, 5000, 100000, 4 * kMiB};
  for (size_t n : sizes) {
    void* p = ::malloc(n);
    ASSERT_NE(p, nullptr);
    memset(p, 1, n);
    EXPECT_FALSE(lite_malloc_owns(p)) << "system malloc(" << n << ") = " << p;
    ::free(p);
  }
}

TEST(Owns, ForeignMappingsAreNotOwned) {
  const size_t len = 8 * kMiB;
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  for (size_t off = 0; off < len; off += 64 * 1024) {
    EXPECT_FALSE(lite_malloc_owns(static_cast<char*>(m) + off)) << "offset " << off;
  }
  munmap(m, len);
}

TEST(Owns, WildAddressesDoNotCrash) {
  // Must answer (false) without faulting, whatever the address.
  const uintptr_t addrs[] = {1, 8, 4096, 0x10000, 0x123456789ab0ull, 0x0000800000000000ull,
                             0xffff800000000000ull, ~uintptr_t{0} - 15};
  for (uintptr_t a : addrs) {
    EXPECT_FALSE(lite_malloc_owns(reinterpret_cast<const void*>(a))) << std::hex << a;
  }
}

// A lookup of an address past a large block's first 4 MiB, while another
// thread maps and unmaps such blocks, reads nothing that can be unmapped
// (large blocks' descriptors live apart from their mappings).
TEST(Owns, LookupsNeverFaultWhileLargeBlocksComeAndGo) {
  std::atomic<uintptr_t> base{0};
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      void* p = lite_malloc(40 * kMiB);
      base.store(reinterpret_cast<uintptr_t>(p), std::memory_order_relaxed);
      lite_free(p);
    }
  });
  long owned = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  for (long i = 0; (i & 1023) != 0 || std::chrono::steady_clock::now() < end; i++) {
    const uintptr_t b = base.load(std::memory_order_relaxed);
    if (b == 0) continue;
    owned += lite_malloc_owns(reinterpret_cast<void*>(b + 41 * kMiB));
    owned += lite_malloc_owns(reinterpret_cast<void*>(b + 4096));
  }
  stop = true;
  churn.join();
  EXPECT_EQ(owned, 0) << "an address inside a large block was taken for a block start";
}

// A huge block costs one radix-map entry, not one per 4 MiB: allocating,
// touching and freeing 16 TiB leaves no tables resident.
TEST(Owns, HugeBlocksLeaveNoMapTablesBehind) {
  if (lite_test::kAsan || lite_test::kTsan) GTEST_SKIP() << "sanitizers reserve the address space";
  const size_t before = lite_test::Rss();
  for (int round = 0; round < 2; round++) {
    const size_t n = size_t{16} << 40;
    char* p = static_cast<char*>(lite_malloc(n));
    if (p == nullptr) GTEST_SKIP() << "no 16 TiB of address space here";
    p[0] = 1;
    p[n - 1] = 1;
    EXPECT_TRUE(lite_malloc_owns(p));
    EXPECT_FALSE(lite_malloc_owns(p + n / 2));
    lite_free(p);
  }
  const size_t after = lite_test::Rss();
  EXPECT_LE(after, before + 4 * kMiB) << "RSS " << before / kMiB << " -> " << after / kMiB << " MiB";
}

}  // namespace
