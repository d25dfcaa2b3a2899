/* Large blocks: bursts of 4-12 blocks of 64 KiB - 8 MiB (log-uniform), each
 * touched on every page, checked and freed at the end of the burst. Exercises
 * the superblock cache and direct mappings: an allocator that maps and unmaps
 * every block pays page faults each time, one that keeps memory reuses it. */
#include <stdlib.h>

#include "tools/bench/workloads.h"

enum { MAX_BURST = 12 };

int wl_large(double scale, const char* arg) {
  (void)arg;
  size_t bursts = bench_scaled(200, scale);
  uint64_t rng = 11;
  double bytes = 0;
  for (size_t b = 0; b < bursts; b++) {
    void* p[MAX_BURST];
    size_t n[MAX_BURST];
    size_t count = bench_range(&rng, 4, MAX_BURST);
    for (size_t i = 0; i < count; i++) {
      n[i] = bench_log_range(&rng, 64 << 10, 8 << 20);
      p[i] = bench_malloc(n[i]);
      bench_fill_pages(p[i], n[i]);
      bytes += (double)n[i];
    }
    for (size_t i = 0; i < count; i++) {
      bench_check_pages(p[i], n[i], "large");
      free(p[i]);
    }
  }
  bench_metric("bytes_allocated", bytes);
  return 0;
}
