/* Fragmentation: allocate a mix of small and medium objects (16 B - 4 KiB),
 * free a random half, then allocate objects of other sizes (4 - 16 KiB), about
 * as many bytes as were freed, which the holes left by the first mix do not
 * fit well; then free a random half of everything and refill with small
 * objects. Reports the RSS with those objects live against the bytes live
 * (final_rss_ratio); the runner measures the peak. */
#include <stdlib.h>

#include "tools/bench/workloads.h"

typedef struct {
  void* p;
  size_t n;
} object;

static void allocate(object* o, size_t lo, size_t hi, uint64_t* rng, size_t* live) {
  o->n = bench_log_range(rng, lo, hi);
  o->p = bench_malloc(o->n);
  bench_fill(o->p, o->n);
  *live += o->n;
}

static void release(object* o, size_t* live) {
  bench_check(o->p, o->n, "fragment");
  free(o->p);
  *live -= o->n;
  o->p = NULL;
}

int wl_fragment(double scale, const char* arg) {
  (void)arg;
  size_t count = bench_scaled(300000, scale);
  object* a = calloc(count, sizeof(object));
  object* b = calloc(count, sizeof(object));
  if (a == NULL || b == NULL) bench_fail("fragment: out of memory");
  uint64_t rng = 13;
  size_t live = 0;
  size_t rss_start = bench_rss();

  for (size_t i = 0; i < count; i++) allocate(&a[i], 16, 4096, &rng, &live);
  for (size_t i = 0; i < count; i++) {
    if (bench_rand(&rng) & 1) release(&a[i], &live);
  }
  for (size_t i = 0; i < count / 32; i++) allocate(&b[i], 4097, 16384, &rng, &live);
  for (size_t i = 0; i < count; i++) {
    if (a[i].p != NULL && (bench_rand(&rng) & 1)) release(&a[i], &live);
    if (b[i].p != NULL && (bench_rand(&rng) & 1)) release(&b[i], &live);
  }
  for (size_t i = 0; i < count; i++) {
    if (a[i].p == NULL) allocate(&a[i], 16, 256, &rng, &live);
  }
  size_t rss_final = bench_rss();
  bench_metric("live_mib", (double)live / (1 << 20));
  bench_metric("final_rss_mib", (double)rss_final / (1 << 20));
  bench_metric("final_rss_ratio", (double)(rss_final - rss_start) / (double)live);

  for (size_t i = 0; i < count; i++) {
    if (a[i].p != NULL) release(&a[i], &live);
    if (b[i].p != NULL) release(&b[i], &live);
  }
  free(a);
  free(b);
  return 0;
}
