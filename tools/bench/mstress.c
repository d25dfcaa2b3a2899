/* Stress with objects moving between threads, after the mstress test that
 * mimalloc-bench runs (mimalloc's own stress test, as its documentation
 * describes it): in each of ROUNDS rounds the main thread starts ARG threads
 * and joins them. A thread keeps objects in a local array of LOCAL slots and
 * takes random steps: allocate into a local slot (freeing what was there),
 * free a local slot, swap a local slot with a random slot of a shared
 * transfer array (one atomic exchange: the thread now owns, and later frees,
 * what another thread allocated), or replace a transfer slot's object with a
 * new one and free the old. A thread frees its local objects when it ends;
 * the transfer array lives on into the next round, so its objects are freed
 * by threads started after the ones that allocated them had exited.
 *
 * Sizes are mostly small, some larger, a few very large: 90% 16-256 bytes,
 * 9.9% 257 bytes - 16 KiB (log-uniform), 0.1% 64 KiB - 1 MiB. An object's
 * first word holds its size (the transfer array holds bare pointers); the
 * rest carries bench_fill's tags, checked at every free. The total number of
 * steps is the same for every ARG, and counters check that every object
 * allocated was freed. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "tools/bench/workloads.h"

enum {
  MAX_THREADS = 256,
  ROUNDS = 10,
  LOCAL = 2000,    /* slots each thread keeps */
  TRANSFER = 1000, /* slots shared by all threads */
};

typedef struct {
  int id;
  size_t steps;
  size_t allocated;
  size_t freed;
  char pad[64];
} worker;

static _Atomic(size_t*) transfer[TRANSFER];
static worker workers[MAX_THREADS];

static size_t object_size(uint64_t* rng) {
  uint64_t r = bench_rand(rng) % 1000;
  if (r < 900) return bench_log_range(rng, 16, 256);
  if (r < 999) return bench_log_range(rng, 257, 16384);
  return bench_log_range(rng, 65536, 1 << 20);
}

static size_t* object_new(worker* w, uint64_t* rng) {
  size_t n = object_size(rng);
  size_t* p = bench_malloc(n);
  p[0] = n;
  bench_fill(p + 1, n - sizeof(size_t));
  w->allocated++;
  return p;
}

static void object_free(worker* w, size_t* p) {
  if (p == NULL) return;
  bench_check(p + 1, p[0] - sizeof(size_t), "mstress");
  free(p);
  w->freed++;
}

static void* run(void* arg) {
  worker* w = arg;
  size_t* local[LOCAL] = {0};
  uint64_t rng = (uint64_t)w->id * 2654435761u + 17;
  for (size_t i = 0; i < w->steps; i++) {
    uint64_t r = bench_rand(&rng) % 100;
    size_t j = (size_t)(bench_rand(&rng) % LOCAL);
    if (r < 50) { /* allocate into a local slot */
      object_free(w, local[j]);
      local[j] = object_new(w, &rng);
    } else if (r < 65) { /* free a local slot */
      object_free(w, local[j]);
      local[j] = NULL;
    } else if (r < 95) { /* swap a local slot with a transfer slot */
      size_t k = (size_t)(bench_rand(&rng) % TRANSFER);
      local[j] = atomic_exchange_explicit(&transfer[k], local[j], memory_order_acq_rel);
    } else { /* replace a transfer slot's object */
      size_t k = (size_t)(bench_rand(&rng) % TRANSFER);
      object_free(w, atomic_exchange_explicit(&transfer[k], object_new(w, &rng),
                                              memory_order_acq_rel));
    }
  }
  for (size_t j = 0; j < LOCAL; j++) object_free(w, local[j]);
  return NULL;
}

int wl_mstress(double scale, const char* arg) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int nthreads = arg != NULL ? atoi(arg) : (int)(cores > 0 ? cores : 1);
  if (nthreads < 1 || nthreads > MAX_THREADS) bench_fail("mstress: bad thread count '%s'", arg);
  size_t total = bench_scaled(10000000, scale);
  size_t per_round = total / ROUNDS > 0 ? total / ROUNDS : 1;
  pthread_t tid[MAX_THREADS];
  for (int round = 0; round < ROUNDS; round++) {
    for (int t = 0; t < nthreads; t++) {
      worker* w = &workers[t];
      w->id = round * nthreads + t;
      w->steps = per_round / (size_t)nthreads + ((size_t)t < per_round % (size_t)nthreads);
      if (pthread_create(&tid[t], NULL, run, w) != 0) {
        bench_fail("mstress: cannot start thread %d", t);
      }
    }
    for (int t = 0; t < nthreads; t++) pthread_join(tid[t], NULL);
  }
  worker main_worker = {0};
  for (size_t k = 0; k < TRANSFER; k++) {
    object_free(&main_worker, atomic_exchange(&transfer[k], NULL));
  }
  size_t allocated = 0, freed = main_worker.freed;
  for (int t = 0; t < nthreads; t++) {
    allocated += workers[t].allocated;
    freed += workers[t].freed;
  }
  if (allocated != freed) bench_fail("mstress: %zu objects allocated but %zu freed", allocated, freed);
  bench_metric("steps", (double)(per_round * ROUNDS));
  bench_metric("objects", (double)allocated);
  return 0;
}
