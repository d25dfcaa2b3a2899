/* Helpers shared by the benchmark workloads in tools/bench/.
 *
 * Every workload calls plain malloc/free, so one binary measures every
 * allocator: glibc's when nothing is preloaded, another one's under
 * LD_PRELOAD. Each workload checks what it reads back and stops the process
 * with "FAIL: ..." and exit status 1 on a mismatch, so a broken allocator fails
 * instead of looking fast.
 *
 * Output protocol (read by bench.py): lines "metric NAME VALUE" report numbers
 * beyond the wall time and peak RSS that the runner measures itself. */
#ifndef LITE_BENCH_COMMON_H
#define LITE_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A workload: scale 1.0 is the full-size run, --quick passes less; arg is the
 * workload's own parameter (thread count, object size) or NULL. Returns the
 * process exit status. */
typedef int (*bench_workload_fn)(double scale, const char* arg);

/* splitmix64: a fast, well-mixed generator; the state is a plain counter. */
static inline uint64_t bench_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
static inline uint64_t bench_rand(uint64_t* state) {
  *state += 0x9e3779b97f4a7c15ull;
  return bench_mix(*state);
}
/* Uniform in [lo, hi]. */
static inline size_t bench_range(uint64_t* state, size_t lo, size_t hi) {
  return lo + (size_t)(bench_rand(state) % (hi - lo + 1));
}
/* Log-uniform in [lo, hi]: as many sizes in 16-32 as in 512-1024. */
size_t bench_log_range(uint64_t* state, size_t lo, size_t hi);

/* The tag a block of n bytes at p carries: it depends on both, so two live
 * blocks that overlap overwrite each other's tags. */
static inline uint64_t bench_tag(const void* p, size_t n) {
  return bench_mix((uint64_t)(uintptr_t)p ^ ((uint64_t)n << 40));
}

/* Writes the tag into the first 8 bytes of the block (n >= 8) and, when they
 * do not overlap, the last 8. */
static inline void bench_fill(void* p, size_t n) {
  uint64_t tag = bench_tag(p, n);
  memcpy(p, &tag, 8);
  if (n >= 16) memcpy((char*)p + n - 8, &tag, 8);
}
/* Checks what bench_fill wrote; fails the run if either word changed. */
void bench_check(const void* p, size_t n, const char* where);

/* Like bench_fill/bench_check, but one word in every 4 KiB page, so all of a
 * large block is touched (and made resident); n >= 16. */
void bench_fill_pages(void* p, size_t n);
void bench_check_pages(const void* p, size_t n, const char* where);

/* malloc that fails the run on NULL. */
void* bench_malloc(size_t n);

/* Resident set size now, in bytes (from /proc/self/statm). */
size_t bench_rss(void);
/* The process's virtual size (VmSize), bytes. */
size_t bench_vsz(void);

/* Prints "metric NAME VALUE" for the runner. */
void bench_metric(const char* name, double value);

/* Prints "FAIL: <message>" to stderr and exits with status 1. */
__attribute__((noreturn, format(printf, 1, 2))) void bench_fail(const char* fmt, ...);

/* A count scaled by the run's scale, at least 1. */
size_t bench_scaled(size_t full, double scale);

#endif
