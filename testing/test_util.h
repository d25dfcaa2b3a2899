// Helpers shared by the lite_malloc test suites: byte patterns that can be
// written over a block and verified later (also as a prefix after realloc),
// alignment checks and a small deterministic PRNG. Header-only and free of
// any dependency on the allocator, so every test binary can pick its own
// allocator target.
#ifndef LITE_MALLOC_TESTING_TEST_UTIL_H
#define LITE_MALLOC_TESTING_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <unistd.h>

#include <cstdio>
#include <string>

// Sanitizer builds (--config=asan / tsan / ubsan): shadow memory inflates the
// resident set and instrumentation slows memory-heavy loops down.
#if defined(__SANITIZE_ADDRESS__)
#define LITE_TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define LITE_TEST_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(LITE_TEST_ASAN)
#define LITE_TEST_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(LITE_TEST_TSAN)
#define LITE_TEST_TSAN 1
#endif
#endif

namespace lite_test {

#if defined(LITE_TEST_TSAN)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif
#if defined(LITE_TEST_ASAN)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif

// Divides the amount of work of the stress tests under instrumentation that
// makes every memory access several times slower.
constexpr int kWorkDivisor = kTsan ? 4 : kAsan ? 2 : 1;

constexpr size_t kKiB = size_t{1} << 10;
constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGiB = size_t{1} << 30;

// The OS page size the allocator should report (lite_malloc_page_size): the
// kernel's, or in the builds that pretend to larger pages
// (//lite_malloc:core_page16k, ..., with LITE_TEST_PAGE_SIZE defined) that
// one, when it is larger.
inline size_t ExpectedPageSize() {
  size_t kernel = static_cast<size_t>(sysconf(_SC_PAGESIZE));
#if defined(LITE_TEST_PAGE_SIZE)
  if (kernel < LITE_TEST_PAGE_SIZE) return LITE_TEST_PAGE_SIZE;
#endif
  return kernel;
}

inline bool IsAligned(const void* p, size_t alignment) {
  return (reinterpret_cast<uintptr_t>(p) & (alignment - 1)) == 0;
}

// The alignment every plain allocation must have (glibc: 16 on x86-64, and
// at least 8 for blocks that cannot hold more than 8 bytes).
inline size_t MinAlignmentFor(size_t size) { return size > 8 ? 16 : 8; }

inline size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

// The pattern byte at offset i depends only on (seed, i), so the first k
// bytes of a pattern of any length are the same: realloc prefixes can be
// checked with the seed that filled the original block.
inline uint64_t PatternWord(uint64_t seed, size_t word_index) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + word_index * 0xD1B54A32D192ED03ull +
               0x632BE59BD9B4E019ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return x;
}

inline void FillPattern(void* p, size_t n, uint64_t seed) {
  unsigned char* b = static_cast<unsigned char*>(p);
  const size_t words = n / 8;
  for (size_t i = 0; i < words; i++) {
    const uint64_t w = PatternWord(seed, i);
    memcpy(b + 8 * i, &w, 8);
  }
  if (n % 8 != 0) {
    const uint64_t w = PatternWord(seed, words);
    memcpy(b + 8 * words, &w, n % 8);
  }
}

// Returns the offset of the first byte that differs from the pattern, or
// SIZE_MAX when all n bytes match.
inline size_t FindPatternMismatch(const void* p, size_t n, uint64_t seed) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  const size_t words = n / 8;
  for (size_t i = 0; i < words; i++) {
    const uint64_t want = PatternWord(seed, i);
    uint64_t got;
    memcpy(&got, b + 8 * i, 8);
    if (got != want) {
      for (size_t j = 0; j < 8; j++) {
        if (b[8 * i + j] != reinterpret_cast<const unsigned char*>(&want)[j]) return 8 * i + j;
      }
    }
  }
  if (n % 8 != 0) {
    const uint64_t want = PatternWord(seed, words);
    for (size_t j = 0; j < n % 8; j++) {
      if (b[8 * words + j] != reinterpret_cast<const unsigned char*>(&want)[j]) {
        return 8 * words + j;
      }
    }
  }
  return SIZE_MAX;
}

inline bool CheckPattern(const void* p, size_t n, uint64_t seed) {
  return FindPatternMismatch(p, n, seed) == SIZE_MAX;
}

// Returns the offset of the first nonzero byte, or SIZE_MAX if all are zero.
inline size_t FindNonZero(const void* p, size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    if (w != 0) break;
  }
  for (; i < n; i++) {
    if (b[i] != 0) return i;
  }
  return SIZE_MAX;
}

// splitmix64: small, fast and the same everywhere, so runs are reproducible.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi].
  uint64_t Range(uint64_t lo, uint64_t hi) { return lo + Next() % (hi - lo + 1); }
  // Log-uniform in [lo, hi]: as many small sizes as large ones per octave.
  size_t LogSize(size_t lo, size_t hi) {
    int lo_bits = 63 - __builtin_clzll(lo);
    int hi_bits = 63 - __builtin_clzll(hi);
    int bits = static_cast<int>(Range(lo_bits, hi_bits));
    size_t base = size_t{1} << bits;
    size_t n = base + Next() % base;
    if (n < lo) n = lo;
    if (n > hi) n = hi;
    return n;
  }

 private:
  uint64_t state_;
};

inline std::string Hex(const void* p) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%p", p);
  return buf;
}

// Virtual size (resident: false) or resident set (true) of this process, in
// bytes (/proc/self/statm), 0 if unreadable.
inline size_t Statm(bool resident) {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, rss = 0;
  if (fscanf(f, "%lu %lu", &size, &rss) != 2) size = rss = 0;
  fclose(f);
  return (resident ? rss : size) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}
inline size_t Rss() { return Statm(true); }
inline size_t VmSize() { return Statm(false); }

}  // namespace lite_test

#endif  // LITE_MALLOC_TESTING_TEST_UTIL_H
