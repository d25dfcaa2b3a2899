// lite_malloc_owns: true for live blocks of every kind, false for memory the
// allocator never handed out (stack, globals, NULL, the system malloc).
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

// Lookups of every page (and of odd offsets) in the neighbourhood of large
// blocks that two other threads map, free and map again, for 10 s, read
// nothing that can be unmapped meanwhile (large blocks' descriptors live apart
// from their mappings, segments keep their header slice mapped): no fault, and
// no address inside a block is taken for a block start.
TEST(Owns, LookupsNeverFaultWhileLargeBlocksComeAndGo) {
  constexpr int kSlots = 8;
  std::atomic<uintptr_t> bases[kSlots] = {};
  std::atomic<bool> stop{false};
  auto churn = [&](int first, size_t seed) {
    static const size_t sizes[] = {40 * kMiB, 5 * kMiB, 9 * kMiB + 4096, 33 * kMiB, 300 * 1024};
    for (size_t i = seed; !stop.load(std::memory_order_relaxed); i++) {
      void* p = lite_malloc(sizes[i % 5]);
      if (p == nullptr) continue;
      bases[first + i % (kSlots / 2)].store(reinterpret_cast<uintptr_t>(p), std::memory_order_relaxed);
      lite_free(p);
      // Small blocks too, so segments are mapped and unmapped around them.
      void* small[64];
      for (void*& q : small) q = lite_malloc(4000);
      for (void* q : small) lite_free(q);
    }
  };
  std::thread a(churn, 0, 0), b(churn, kSlots / 2, 2);
  long owned = 0, lookups = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (size_t round = 0; std::chrono::steady_clock::now() < end; round++) {
    const uintptr_t base = bases[round % kSlots].load(std::memory_order_relaxed);
    if (base == 0) continue;
    // From 4 MiB before the block to 8 MiB past the largest one, every page,
    // at an odd offset that changes from round to round (so never a block
    // start, whatever lives there).
    const uintptr_t offset = 1 + 2 * ((round * 24) % 2000);
    for (uintptr_t a = base - 4 * kMiB; a < base + 48 * kMiB; a += 4096) {
      owned += lite_malloc_owns(reinterpret_cast<void*>(a + offset));
      lookups++;
    }
  }
  stop = true;
  a.join();
  b.join();
  printf("%ld lookups\n", lookups);
  EXPECT_GT(lookups, 100000);
  EXPECT_EQ(owned, 0) << "an address inside a large block was taken for a block start";
}

// malloc(1 TiB), touched at both ends and freed, leaves RSS where it was.
TEST(Owns, TebibyteBlockLeavesNothingResident) {
  if (lite_test::kAsan || lite_test::kTsan) GTEST_SKIP() << "sanitizers reserve the address space";
  const size_t n = size_t{1} << 40;
  lite_free(lite_malloc(n));  // a first one maps the descriptor table
  const size_t before = lite_test::Rss();
  char* p = static_cast<char*>(lite_malloc(n));
  if (p == nullptr) GTEST_SKIP() << "no 1 TiB of address space here";
  for (size_t off = 0; off < n; off += n / 64) p[off] = 1;
  p[n - 1] = 1;
  lite_free(p);
  const size_t after = lite_test::Rss();
  EXPECT_LE(after, before + kMiB) << "RSS " << before / 1024 << " -> " << after / 1024 << " KiB";
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
