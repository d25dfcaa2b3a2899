/* Return to the OS: two threads each allocate about 128 MiB in a mix of sizes
 * (16 B - 64 KiB, and some 1 MiB blocks), then free everything: half their own
 * objects, half the other thread's. With both threads still alive and idle
 * (as in a server between bursts), reports the RSS right after the frees
 * (rss_after_free_mib), then after a quarter-second pause and a little more
 * work (64 blocks of 16 B - 64 KiB allocated and freed, as a server's next
 * request would): rss_after_idle_mib, and returned_ok = 1 when that is within
 * 10% or 8 MiB of the RSS at start. Then, the threads still alive and idle,
 * the main thread (a third thread, which neither allocated nor freed the
 * memory) calls malloc_trim(0): rss_idle_trim_mib, and trimmed_ok = 1 when
 * that is within the same bound. Then the threads exit (rss_after_exit_mib)
 * and the program trims again (rss_after_trim_mib). malloc_trim is glibc's
 * name: an allocator without its own ignores it. No trim happens before the
 * first figures: they show what the allocator gives back by itself. Each
 * phase's VmSize is reported too (vsz_*_mib): the address space that
 * ulimit -v and overcommit accounting see. */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "tools/bench/workloads.h"

enum { THREADS = 2 };

typedef struct {
  void** p;
  size_t* n;
  size_t count;
  uint64_t rng;
} set;

static set sets[THREADS];
static pthread_barrier_t barrier;
static size_t target_bytes;

static void* run(void* arg) {
  size_t me = (size_t)arg;
  set* s = &sets[me];
  size_t bytes = 0;
  while (bytes < target_bytes) {
    size_t n = (bench_rand(&s->rng) % 64 == 0) ? (1u << 20)
                                                 : bench_log_range(&s->rng, 16, 64 << 10);
    s->p[s->count] = bench_malloc(n);
    s->n[s->count] = n;
    bench_fill_pages(s->p[s->count], n);
    s->count++;
    bytes += n;
  }
  pthread_barrier_wait(&barrier); /* both sets allocated */
  /* Free even-numbered objects of our own set and odd ones of the other's. */
  for (size_t t = 0; t < THREADS; t++) {
    set* from = &sets[(me + t) % THREADS];
    for (size_t i = t == 0 ? 0 : 1; i < from->count; i += 2) {
      bench_check_pages(from->p[i], from->n[i], "return_os");
      free(from->p[i]);
    }
  }
  pthread_barrier_wait(&barrier); /* everything freed */
  pthread_barrier_wait(&barrier); /* main has measured */
  return NULL;
}

static double mib(size_t bytes) { return (double)bytes / (1 << 20); }

int wl_return_os(double scale, const char* arg) {
  (void)arg;
  target_bytes = bench_scaled(128u << 20, scale);
  size_t max_objects = target_bytes / 16 + 1;
  for (size_t t = 0; t < THREADS; t++) {
    sets[t].p = bench_malloc(max_objects * sizeof(void*));
    sets[t].n = bench_malloc(max_objects * sizeof(size_t));
    sets[t].rng = 17 + t;
  }
  size_t rss_start = bench_rss(), vsz_start = bench_vsz();
  pthread_t tid[THREADS];
  pthread_barrier_init(&barrier, NULL, THREADS + 1);
  for (size_t t = 0; t < THREADS; t++) {
    if (pthread_create(&tid[t], NULL, run, (void*)t) != 0) bench_fail("return_os: no thread");
  }
  pthread_barrier_wait(&barrier);
  size_t rss_full = bench_rss(), vsz_full = bench_vsz();
  pthread_barrier_wait(&barrier);
  size_t rss_free = bench_rss(), vsz_free = bench_vsz();
  /* An idle moment, then a little work: allocators that purge after a delay,
   * or only when called again, get their chance. */
  nanosleep(&(struct timespec){.tv_nsec = 250 * 1000 * 1000}, NULL);
  uint64_t rng = 99;
  void* work[64];
  for (size_t i = 0; i < 64; i++) work[i] = bench_malloc(bench_log_range(&rng, 16, 64 << 10));
  for (size_t i = 0; i < 64; i++) free(work[i]);
  size_t rss_idle = bench_rss(), vsz_idle = bench_vsz();
  malloc_trim(0);
  size_t rss_idle_trim = bench_rss();
  pthread_barrier_wait(&barrier);
  for (size_t t = 0; t < THREADS; t++) pthread_join(tid[t], NULL);
  size_t rss_exit = bench_rss();
  malloc_trim(0);
  size_t rss_trim = bench_rss(), vsz_trim = bench_vsz();

  size_t slack = rss_start / 10 > (8u << 20) ? rss_start / 10 : (8u << 20);
  bench_metric("rss_start_mib", mib(rss_start));
  bench_metric("rss_full_mib", mib(rss_full));
  bench_metric("rss_after_free_mib", mib(rss_free));
  bench_metric("rss_after_idle_mib", mib(rss_idle));
  bench_metric("rss_idle_trim_mib", mib(rss_idle_trim));
  bench_metric("rss_after_exit_mib", mib(rss_exit));
  bench_metric("rss_after_trim_mib", mib(rss_trim));
  bench_metric("vsz_start_mib", mib(vsz_start));
  bench_metric("vsz_full_mib", mib(vsz_full));
  bench_metric("vsz_after_free_mib", mib(vsz_free));
  bench_metric("vsz_after_idle_mib", mib(vsz_idle));
  bench_metric("vsz_after_trim_mib", mib(vsz_trim));
  bench_metric("returned_ok", rss_idle <= rss_start + slack);
  bench_metric("trimmed_ok", rss_idle_trim <= rss_start + slack);
  for (size_t t = 0; t < THREADS; t++) {
    free(sets[t].p);
    free(sets[t].n);
  }
  return 0;
}
