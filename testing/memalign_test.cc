// Aligned allocation: lite_posix_memalign, lite_memalign, lite_aligned_alloc,
// lite_valloc and lite_pvalloc, with glibc 2.36's rules for invalid alignments
// (EINVAL), impossible sizes (ENOMEM), non-power-of-two alignments (memalign
// and aligned_alloc round them up) and zero sizes.
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

using lite_test::kGiB;
using lite_test::kMiB;
// The OS page (4, 16 or 64 KiB), which valloc and pvalloc align to.
const size_t kPage = lite_malloc_page_size();

void* const kSentinel = reinterpret_cast<void*>(uintptr_t{0xdeadbeef0});

const size_t kSweepSizes[] = {0, 1, 8, 15, 16, 100, 4096, 8191, 8193, 65536, 200000, 5 * kMiB};
const size_t kHugeAlignmentSweepSizes[] = {1, 5 * kMiB};

// Every power of two from 1 to 1 GiB.
std::vector<size_t> PowerOfTwoAlignments() {
  std::vector<size_t> v;
  for (size_t a = 1; a <= kGiB; a <<= 1) v.push_back(a);
  return v;
}

using AlignedFn = void* (*)(size_t alignment, size_t size);

void* PosixMemalignOrNull(size_t alignment, size_t size) {
  void* p = kSentinel;
  int rc = lite_posix_memalign(&p, alignment, size);
  if (rc != 0) {
    EXPECT_EQ(p, kSentinel) << "posix_memalign failed but wrote *memptr";
    return nullptr;
  }
  return p;
}

// Allocates every sweep size at `alignment` (all live at once), checks
// alignment and usable size, fills each block's whole usable size, verifies
// them all after every block has been written, then frees.
void SweepAlignment(const char* name, AlignedFn fn, size_t alignment) {
  const bool huge = alignment >= 64 * kMiB;
  const size_t* sizes = huge ? kHugeAlignmentSweepSizes : kSweepSizes;
  const size_t count = huge ? sizeof(kHugeAlignmentSweepSizes) / sizeof(size_t)
                            : sizeof(kSweepSizes) / sizeof(size_t);
  struct Block {
    void* p;
    size_t size, usable;
  };
  std::vector<Block> blocks;
  for (size_t i = 0; i < count; i++) {
    const size_t n = sizes[i];
    void* p = fn(alignment, n);
    ASSERT_NE(p, nullptr) << name << "(" << alignment << ", " << n << ") failed, errno "
                          << errno;
    const size_t want_align = std::max(alignment, lite_test::MinAlignmentFor(n));
    EXPECT_TRUE(lite_test::IsAligned(p, want_align))
        << name << "(" << alignment << ", " << n << ") = " << p << " is not " << want_align
        << "-aligned";
    const size_t usable = lite_malloc_usable_size(p);
    EXPECT_GE(usable, n) << name << "(" << alignment << ", " << n << ")";
    EXPECT_TRUE(lite_malloc_owns(p)) << name << "(" << alignment << ", " << n << ")";
    lite_test::FillPattern(p, usable, alignment * 131 + i);
    blocks.push_back({p, n, usable});
  }
  for (size_t i = 0; i < blocks.size(); i++) {
    size_t bad = lite_test::FindPatternMismatch(blocks[i].p, blocks[i].usable, alignment * 131 + i);
    EXPECT_EQ(bad, SIZE_MAX) << name << "(" << alignment << ", " << blocks[i].size
                             << ") block " << blocks[i].p << " (usable " << blocks[i].usable
                             << ") corrupted at offset " << bad;
    lite_free(blocks[i].p);
  }
}

TEST(Memalign, PowerOfTwoAlignmentsTimesSizes) {
  for (size_t a : PowerOfTwoAlignments()) SweepAlignment("lite_memalign", lite_memalign, a);
}

TEST(AlignedAlloc, PowerOfTwoAlignmentsTimesSizes) {
  for (size_t a : PowerOfTwoAlignments()) {
    SweepAlignment("lite_aligned_alloc", lite_aligned_alloc, a);
  }
}

TEST(PosixMemalign, PowerOfTwoAlignmentsTimesSizes) {
  for (size_t a : PowerOfTwoAlignments()) {
    if (a < sizeof(void*)) continue;  // EINVAL for posix_memalign, tested below
    SweepAlignment("lite_posix_memalign", PosixMemalignOrNull, a);
  }
}

TEST(PosixMemalign, InvalidAlignmentIsEinvalAndLeavesMemptrUntouched) {
  const size_t bad[] = {0,  1,   2,    3,     4,          5,       6,
                        7,  12,  24,   48,    100,        4097,    3 * kMiB,
                        (size_t{1} << 20) + 8, SIZE_MAX, SIZE_MAX / 2, (SIZE_MAX / 2 + 1) + 8};
  const size_t sizes[] = {0, 1, 100, 100000};
  for (size_t a : bad) {
    for (size_t n : sizes) {
      void* p = kSentinel;
      int rc = lite_posix_memalign(&p, a, n);
      EXPECT_EQ(rc, EINVAL) << "lite_posix_memalign(&p, " << a << ", " << n << ")";
      EXPECT_EQ(p, kSentinel) << "lite_posix_memalign(&p, " << a << ", " << n << ")";
      if (rc == 0 && p != kSentinel) lite_free(p);
    }
  }
}

TEST(PosixMemalign, HugeSizeIsEnomemAndLeavesMemptrUntouched) {
  const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 4096, static_cast<size_t>(PTRDIFF_MAX) + 1,
                          size_t{1} << 62};
  const size_t aligns[] = {8, 16, 64, 4096, 1 * kMiB};
  for (size_t a : aligns) {
    for (size_t n : sizes) {
      void* p = kSentinel;
      int rc = lite_posix_memalign(&p, a, n);
      EXPECT_EQ(rc, ENOMEM) << "lite_posix_memalign(&p, " << a << ", " << n << ")";
      EXPECT_EQ(p, kSentinel) << "lite_posix_memalign(&p, " << a << ", " << n << ")";
      if (rc == 0 && p != kSentinel) lite_free(p);
    }
  }
  // The largest power-of-two alignment is valid but can never be satisfied.
  void* p = kSentinel;
  EXPECT_EQ(lite_posix_memalign(&p, SIZE_MAX / 2 + 1, 1), ENOMEM);
  EXPECT_EQ(p, kSentinel);
}

TEST(PosixMemalign, ZeroSizeSucceeds) {
  const size_t aligns[] = {8, 16, 32, 64, 4096, 65536};
  for (size_t a : aligns) {
    void* p = kSentinel;
    ASSERT_EQ(lite_posix_memalign(&p, a, 0), 0) << "alignment " << a;
    ASSERT_NE(p, kSentinel);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(lite_test::IsAligned(p, a)) << p << " alignment " << a;
    lite_free(p);
  }
}

TEST(PosixMemalign, DoesNotChangeErrnoOnSuccess) {
  errno = EDOM;
  void* p = nullptr;
  ASSERT_EQ(lite_posix_memalign(&p, 64, 100), 0);
  EXPECT_EQ(errno, EDOM);
  lite_free(p);
}

void CheckNonPowerOfTwoRoundsUp(const char* name, AlignedFn fn) {
  struct Case {
    size_t alignment, expected;
  } cases[] = {{24, 32},     {33, 64},     {48, 64},       {100, 128},     {129, 256},
               {1000, 1024}, {3000, 4096}, {5000, 8192},   {65537, 131072},
               {(size_t{1} << 20) + 1, size_t{1} << 21}};
  const size_t sizes[] = {1, 16, 100, 5000, 200000};
  for (const Case& c : cases) {
    for (size_t n : sizes) {
      void* p = fn(c.alignment, n);
      ASSERT_NE(p, nullptr) << name << "(" << c.alignment << ", " << n << ")";
      EXPECT_TRUE(lite_test::IsAligned(p, c.expected))
          << name << "(" << c.alignment << ", " << n << ") = " << p << " is not "
          << c.expected << "-aligned";
      const size_t usable = lite_malloc_usable_size(p);
      EXPECT_GE(usable, n);
      memset(p, 0x3c, usable);
      lite_free(p);
    }
  }
  // Alignments at or below the default alignment act like malloc.
  const size_t small[] = {0, 3, 5, 12};
  for (size_t a : small) {
    void* p = fn(a, 100);
    ASSERT_NE(p, nullptr) << name << "(" << a << ", 100)";
    EXPECT_TRUE(lite_test::IsAligned(p, 16)) << name << "(" << a << ", 100) = " << p;
    EXPECT_GE(lite_malloc_usable_size(p), 100u);
    lite_free(p);
  }
}

TEST(Memalign, NonPowerOfTwoAlignmentRoundsUp) {
  CheckNonPowerOfTwoRoundsUp("lite_memalign", lite_memalign);
}

TEST(AlignedAlloc, NonPowerOfTwoAlignmentRoundsUpLikeMemalign) {
  CheckNonPowerOfTwoRoundsUp("lite_aligned_alloc", lite_aligned_alloc);
}

void CheckTooLargeAlignment(const char* name, AlignedFn fn) {
  const size_t aligns[] = {SIZE_MAX / 2 + 2, SIZE_MAX / 2 + 4096, SIZE_MAX - 1, SIZE_MAX};
  for (size_t a : aligns) {
    errno = 0;
    void* p = fn(a, 1);
    EXPECT_EQ(p, nullptr) << name << "(" << a << ", 1)";
    EXPECT_EQ(errno, EINVAL) << name << "(" << a << ", 1)";
  }
  // SIZE_MAX/2+1 is a valid alignment that cannot be satisfied.
  errno = 0;
  EXPECT_EQ(fn(SIZE_MAX / 2 + 1, 1), nullptr) << name;
  EXPECT_EQ(errno, ENOMEM) << name << "(SIZE_MAX/2+1, 1)";
}

TEST(Memalign, AlignmentAboveHalfAddressSpaceIsEinval) {
  CheckTooLargeAlignment("lite_memalign", lite_memalign);
}

TEST(AlignedAlloc, AlignmentAboveHalfAddressSpaceIsEinval) {
  CheckTooLargeAlignment("lite_aligned_alloc", lite_aligned_alloc);
}

void CheckHugeSize(const char* name, AlignedFn fn) {
  const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 4096, static_cast<size_t>(PTRDIFF_MAX) + 1,
                          size_t{1} << 62};
  const size_t aligns[] = {1, 16, 64, 4096, 1 * kMiB};
  for (size_t a : aligns) {
    for (size_t n : sizes) {
      errno = 0;
      void* p = fn(a, n);
      EXPECT_EQ(p, nullptr) << name << "(" << a << ", " << n << ")";
      EXPECT_EQ(errno, ENOMEM) << name << "(" << a << ", " << n << ")";
    }
  }
}

TEST(Memalign, HugeSizeIsEnomem) { CheckHugeSize("lite_memalign", lite_memalign); }

TEST(AlignedAlloc, HugeSizeIsEnomem) { CheckHugeSize("lite_aligned_alloc", lite_aligned_alloc); }

TEST(Valloc, IsPageAligned) {
  const size_t sizes[] = {0,     1,     16,    100,   4095,   4096,  4097,       8193,
                          16383, 16385, 65535, 65537, 100000, 1 * kMiB + 1};
  for (size_t n : sizes) {
    void* p = lite_valloc(n);
    ASSERT_NE(p, nullptr) << "lite_valloc(" << n << ")";
    EXPECT_TRUE(lite_test::IsAligned(p, kPage)) << "lite_valloc(" << n << ") = " << p;
    const size_t usable = lite_malloc_usable_size(p);
    EXPECT_GE(usable, n) << "lite_valloc(" << n << ")";
    lite_test::FillPattern(p, usable, n);
    EXPECT_TRUE(lite_test::CheckPattern(p, usable, n));
    lite_free(p);
  }
  errno = 0;
  EXPECT_EQ(lite_valloc(SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(Pvalloc, IsPageAlignedAndRoundedUpToPages) {
  const size_t sizes[] = {1,     16,    100,   4095,  4096,   4097,        8193,
                          16383, 16385, 65535, 65537, 100000, 1 * kMiB + 1};
  for (size_t n : sizes) {
    void* p = lite_pvalloc(n);
    ASSERT_NE(p, nullptr) << "lite_pvalloc(" << n << ")";
    EXPECT_TRUE(lite_test::IsAligned(p, kPage)) << "lite_pvalloc(" << n << ") = " << p;
    const size_t usable = lite_malloc_usable_size(p);
    EXPECT_GE(usable, lite_test::RoundUp(n, kPage)) << "lite_pvalloc(" << n << ")";
    lite_test::FillPattern(p, usable, n);
    EXPECT_TRUE(lite_test::CheckPattern(p, usable, n));
    lite_free(p);
  }
}

TEST(Valloc, PageIsTheKernels) { EXPECT_EQ(kPage, lite_test::ExpectedPageSize()); }

TEST(Pvalloc, ZeroSizeSucceeds) {
  void* p = lite_pvalloc(0);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(lite_test::IsAligned(p, kPage)) << p;
  lite_free(p);
}

TEST(Pvalloc, HugeSizeIsEnomem) {
  const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 100, SIZE_MAX - 4095,
                          static_cast<size_t>(PTRDIFF_MAX) + 1};
  for (size_t n : sizes) {
    errno = 0;
    EXPECT_EQ(lite_pvalloc(n), nullptr) << "lite_pvalloc(" << n << ")";
    EXPECT_EQ(errno, ENOMEM) << "lite_pvalloc(" << n << ")";
  }
}

}  // namespace
