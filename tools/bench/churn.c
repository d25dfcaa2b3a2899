/* Single-thread small-object churn: a working set of live objects of random
 * sizes (8-1024 bytes, uniform), where each step frees a random one and
 * allocates a replacement of a new size. Models a cache or a parser's nodes
 * turning over. Every block is checked when freed. */
#include <stdlib.h>

#include "tools/bench/workloads.h"

enum { SLOTS = 1 << 15 };

int wl_churn(double scale, const char* arg) {
  (void)arg;
  static void* block[SLOTS];
  static size_t size[SLOTS];
  size_t steps = bench_scaled(10000000, scale);
  uint64_t rng = 1;
  size_t bytes = 0;

  for (size_t i = 0; i < steps; i++) {
    size_t j = (size_t)bench_rand(&rng) & (SLOTS - 1);
    if (block[j] != NULL) {
      bench_check(block[j], size[j], "churn");
      free(block[j]);
    }
    size_t n = bench_range(&rng, 8, 1024);
    block[j] = bench_malloc(n);
    size[j] = n;
    bench_fill(block[j], n);
    bytes += n;
  }
  for (size_t j = 0; j < SLOTS; j++) {
    if (block[j] == NULL) continue;
    bench_check(block[j], size[j], "churn");
    free(block[j]);
  }
  bench_metric("allocations", (double)steps);
  bench_metric("bytes_allocated", (double)bytes);
  return 0;
}
