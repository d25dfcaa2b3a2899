// The shadow model: patterns, the map of live blocks, failure reports.
#include "fuzz/shadow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace lite_fuzz {

// ---------------------------------------------------------------------------
// Failure reports
// ---------------------------------------------------------------------------
namespace {
struct Context {
  const Op* op = nullptr;
  int index = 0;
  int round = 0;
};
thread_local Context t_context;
}  // namespace

void SetContext(const Op* op, int index, int round) { t_context = Context{op, index, round}; }

void Fail(const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "lite_fuzz: CHECK FAILED: %s\n", msg);
  if (t_context.op != nullptr) {
    fprintf(stderr, "lite_fuzz: during op %d of round %d: %s\n", t_context.index, t_context.round,
            Describe(*t_context.op).c_str());
  } else {
    fprintf(stderr, "lite_fuzz: during setup or teardown of an input\n");
  }
  fflush(stderr);
  abort();
}

// ---------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------
namespace {

// The loops over block contents are the harness's hottest code. They read and
// write lite_malloc's memory, which ASan does not track anyway, and coverage
// feedback from them would only lead libFuzzer astray: leave both out.
#if defined(__clang__)
#define LITE_FUZZ_PLAIN __attribute__((no_sanitize("address", "coverage")))
#else
#define LITE_FUZZ_PLAIN __attribute__((no_sanitize_address))
#endif

constexpr size_t kEdge = 4096;
// Between the edges of a large block, one word every 64 KiB, or at most
// kSamples words spread evenly: touching every page would cost a page fault
// per 4 KiB and dominate the run time.
constexpr size_t kStride = 64 * 1024;
constexpr size_t kSamples = 64;

size_t StrideFor(size_t len) { return kStride * (1 + len / (kStride * kSamples)); }

LITE_FUZZ_PLAIN uint64_t PatternWord(uint64_t seed, size_t word) {
  uint64_t x = seed ^ (word * 0x9E3779B97F4A7C15ull);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return x;
}

LITE_FUZZ_PLAIN uint8_t PatternByte(uint64_t seed, size_t offset) {
  return static_cast<uint8_t>(PatternWord(seed, offset / 8) >> (8 * (offset % 8)));
}

// Calls f(offset, length) for each range of a block of `len` bytes that
// carries the pattern (see kFullPattern), in increasing order.
template <typename F>
void ForEachRange(size_t len, bool edges_only, F f) {
  if (len <= kFullPattern) {
    f(size_t{0}, len);
    return;
  }
  f(size_t{0}, kEdge);
  if (!edges_only) {
    const size_t stride = StrideFor(len);
    for (size_t off = stride; off + 8 <= len - kEdge; off += stride) f(off, size_t{8});
  }
  f(len - kEdge, kEdge);
}

// The same ranges, cut to [0, limit).
template <typename F>
void ForEachRangeBelow(size_t len, bool edges_only, size_t limit, F f) {
  ForEachRange(len, edges_only, [&](size_t off, size_t n) {
    if (off >= limit) return;
    f(off, off + n > limit ? limit - off : n);
  });
}

LITE_FUZZ_PLAIN void FillRange(uint8_t* p, size_t off, size_t n, uint64_t seed) {
  size_t i = off, end = off + n;
  for (; i < end && i % 8 != 0; i++) p[i] = PatternByte(seed, i);
  for (; i + 8 <= end; i += 8) {
    const uint64_t w = PatternWord(seed, i / 8);
    memcpy(p + i, &w, 8);
  }
  for (; i < end; i++) p[i] = PatternByte(seed, i);
}

// Offset of the first byte in [off, off + n) that differs, or SIZE_MAX.
LITE_FUZZ_PLAIN size_t MismatchInRange(const uint8_t* p, size_t off, size_t n, uint64_t seed) {
  size_t i = off, end = off + n;
  for (; i < end && i % 8 != 0; i++) {
    if (p[i] != PatternByte(seed, i)) return i;
  }
  for (; i + 8 <= end; i += 8) {
    uint64_t got;
    memcpy(&got, p + i, 8);
    if (got != PatternWord(seed, i / 8)) break;
  }
  for (; i < end; i++) {
    if (p[i] != PatternByte(seed, i)) return i;
  }
  return SIZE_MAX;
}

}  // namespace

void FillPattern(const Block& b) {
  uint8_t* p = static_cast<uint8_t*>(b.p);
  ForEachRange(b.usable, b.edges_only, [&](size_t off, size_t n) { FillRange(p, off, n, b.seed); });
}

void CheckPattern(const Block& b, const void* at, size_t limit, const char* what) {
  const uint8_t* p = static_cast<const uint8_t*>(at);
  ForEachRangeBelow(b.usable, b.edges_only, limit, [&](size_t off, size_t n) {
    const size_t bad = MismatchInRange(p, off, n, b.seed);
    if (bad != SIZE_MAX) {
      Fail("%s: block %p (size %zu, usable %zu) byte %zu is 0x%02x, want 0x%02x", what, at,
           b.size, b.usable, bad, p[bad], PatternByte(b.seed, bad));
    }
  });
}

void CheckEdges(const Block& b) {
  const uint8_t* p = static_cast<const uint8_t*>(b.p);
  const size_t n = b.usable < 16 ? b.usable : 16;
  size_t bad = MismatchInRange(p, 0, n, b.seed);
  if (bad == SIZE_MAX) bad = MismatchInRange(p, b.usable - n, n, b.seed);
  if (bad != SIZE_MAX) {
    Fail("live block %p (size %zu, usable %zu) changed: byte %zu is 0x%02x, want 0x%02x", b.p,
         b.size, b.usable, bad, p[bad], PatternByte(b.seed, bad));
  }
}

namespace {
// Offset of the first nonzero byte in [off, off + n), or SIZE_MAX.
LITE_FUZZ_PLAIN size_t NonZeroInRange(const uint8_t* p, size_t off, size_t n) {
  for (size_t i = off; i < off + n; i++) {
    if (p[i] != 0) return i;
  }
  return SIZE_MAX;
}
}  // namespace

void CheckZero(const void* at, size_t len, bool edges_only, const char* what) {
  const uint8_t* p = static_cast<const uint8_t*>(at);
  ForEachRange(len, edges_only, [&](size_t off, size_t n) {
    const size_t bad = NonZeroInRange(p, off, n);
    if (bad != SIZE_MAX) Fail("%s: %p byte %zu of %zu is 0x%02x, not zero", what, at, bad, len, p[bad]);
  });
}

// ---------------------------------------------------------------------------
// The map of live blocks
// ---------------------------------------------------------------------------
void LiveMap::Insert(Block& b) {
  const uintptr_t start = reinterpret_cast<uintptr_t>(b.p);
  const uintptr_t end = start + (b.usable ? b.usable : 1);
  std::lock_guard<std::mutex> lock(mu_);
  auto next = ranges_.lower_bound(start);
  if (next != ranges_.end() && next->first < end) {
    Fail("new block [%p, +%zu) overlaps live block [%p, %p)", b.p, b.usable,
         reinterpret_cast<void*>(next->first), reinterpret_cast<void*>(next->second));
  }
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->second > start) {
      Fail("new block [%p, +%zu) overlaps live block [%p, %p)", b.p, b.usable,
           reinterpret_cast<void*>(prev->first), reinterpret_cast<void*>(prev->second));
    }
  }
  ranges_.emplace_hint(next, start, end);
  b.counted = bytes_ + b.usable <= budget_;
  if (b.counted) bytes_ += b.usable;
}

void LiveMap::Erase(const Block& b) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ranges_.find(reinterpret_cast<uintptr_t>(b.p));
  if (it == ranges_.end()) Fail("model: block %p is not in the live map", b.p);
  ranges_.erase(it);
  if (b.counted) bytes_ -= b.usable;
}

size_t LiveMap::blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ranges_.size();
}

size_t LiveMap::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace lite_fuzz
