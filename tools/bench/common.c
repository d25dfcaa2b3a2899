/* Helpers shared by the benchmark workloads: checks, RSS, output. */
#include "tools/bench/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { PAGE = 4096 };

size_t bench_log_range(uint64_t* state, size_t lo, size_t hi) {
  /* Pick a power-of-two octave uniformly, then a size within it. */
  unsigned lo_bit = 63 - (unsigned)__builtin_clzll(lo);
  unsigned hi_bit = 63 - (unsigned)__builtin_clzll(hi);
  unsigned bit = lo_bit + (unsigned)(bench_rand(state) % (hi_bit - lo_bit + 1));
  size_t base = (size_t)1 << bit;
  size_t n = base + (size_t)(bench_rand(state) % base);
  return n < lo ? lo : n > hi ? hi : n;
}

void bench_check(const void* p, size_t n, const char* where) {
  uint64_t tag = bench_tag(p, n), head, tail;
  memcpy(&head, p, 8);
  memcpy(&tail, (const char*)p + (n >= 16 ? n - 8 : 0), 8);
  if (head != tag || tail != tag) {
    bench_fail("%s: block %p of %zu bytes was overwritten", where, p, n);
  }
}

void bench_fill_pages(void* p, size_t n) {
  uint64_t tag = bench_tag(p, n);
  for (size_t off = 0; off + 16 <= n; off += PAGE) {
    uint64_t word = tag + off;
    memcpy((char*)p + off, &word, 8);
  }
  memcpy((char*)p + n - 8, &tag, 8);
}

void bench_check_pages(const void* p, size_t n, const char* where) {
  uint64_t tag = bench_tag(p, n), word;
  for (size_t off = 0; off + 16 <= n; off += PAGE) {
    memcpy(&word, (const char*)p + off, 8);
    if (word != tag + off) {
      bench_fail("%s: block %p of %zu bytes was overwritten at offset %zu", where, p, n, off);
    }
  }
  memcpy(&word, (const char*)p + n - 8, 8);
  if (word != tag) bench_fail("%s: block %p of %zu bytes lost its tail", where, p, n);
}

void* bench_malloc(size_t n) {
  void* p = malloc(n);
  if (p == NULL) bench_fail("malloc(%zu) returned NULL", n);
  return p;
}

/* Field `which` of /proc/self/statm (0: VmSize, 1: resident), in bytes. */
static size_t bench_statm(int which) {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f == NULL || fscanf(f, "%lu %lu", &size, &resident) != 2) {
    bench_fail("cannot read /proc/self/statm");
  }
  fclose(f);
  return (size_t)(which == 0 ? size : resident) * (size_t)sysconf(_SC_PAGESIZE);
}

size_t bench_rss(void) { return bench_statm(1); }

size_t bench_vsz(void) { return bench_statm(0); }

void bench_metric(const char* name, double value) {
  printf("metric %s %.6g\n", name, value);
  fflush(stdout);
}

void bench_fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

size_t bench_scaled(size_t full, double scale) {
  double n = (double)full * scale;
  return n < 1.0 ? 1 : (size_t)n;
}
