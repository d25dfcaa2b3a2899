/* Memory overhead: millions of objects of one small size (ARG bytes: 16, 32,
 * 100) kept live at once. Reports the RSS they add divided by the bytes asked
 * for (overhead_ratio: 1.0 is no overhead; a 16-byte object with a 16-byte
 * header is 2.0). */
#include <stdlib.h>

#include "tools/bench/workloads.h"

int wl_overhead(double scale, const char* arg) {
  size_t size = arg != NULL ? (size_t)atol(arg) : 16;
  if (size < 8) bench_fail("overhead: size %zu is below 8", size);
  /* The same bytes for every size: 160 MiB of objects at full scale. */
  size_t count = bench_scaled((160u << 20) / size, scale);
  void** p = bench_malloc(count * sizeof(void*));
  for (size_t i = 0; i < count; i++) p[i] = NULL; /* make the array resident */
  free(bench_malloc(size));                       /* let the allocator set up */
  size_t rss_start = bench_rss();
  for (size_t i = 0; i < count; i++) {
    p[i] = bench_malloc(size);
    bench_fill(p[i], size);
  }
  size_t rss_full = bench_rss();
  double live = (double)count * (double)size;
  bench_metric("objects", (double)count);
  bench_metric("overhead_ratio", (double)(rss_full - rss_start) / live);
  for (size_t i = 0; i < count; i++) {
    bench_check(p[i], size, "overhead");
    free(p[i]);
  }
  free(p);
  return 0;
}
