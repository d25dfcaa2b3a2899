// lite_malloc_owns: true for live blocks of every kind, false for memory the
// allocator never handed out (stack, globals, NULL, the system malloc).
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

}  // namespace
