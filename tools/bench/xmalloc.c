/* Producers and consumers, after the xmalloc-test that Lever and Boreham
 * described ("malloc() Performance in a Multithreaded Linux Environment",
 * USENIX 2000) and that mimalloc-bench runs: ARG producer threads allocate
 * blocks of random small sizes (8-256 bytes, log-uniform) and hand them, in
 * batches of BATCH, to ARG consumer threads, which check and free them. Every
 * block and every batch is freed by a thread other than the one that
 * allocated it, and by a different thread from one batch to the next.
 *
 * Each consumer has its own queue (the benchmark's, not the allocator's): a
 * lock-free stack of batches that producers push onto with a compare-and-swap
 * and that the consumer empties with one exchange, so no thread ever sleeps
 * in the kernel on it. Producer p sends its k-th batch to consumer
 * (p + k) mod ARG. A queue holds at most MAX_QUEUED batches; a producer that
 * finds it full, or a consumer that finds it empty, spins a little and then
 * yields, so the memory in flight stays bounded. The total number of blocks
 * is the same for every ARG, and counters check that every block allocated
 * was freed. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "tools/bench/workloads.h"

enum {
  MAX_THREADS = 256, /* producers, and as many consumers */
  BATCH = 128,       /* blocks handed over at once */
  MAX_QUEUED = 32,   /* batches waiting in one queue before producers wait */
  SPINS = 64,        /* pauses before a waiting thread yields */
  MIN_SIZE = 8,
  MAX_SIZE = 256
};

typedef struct batch {
  struct batch* next;
  size_t count;
  void* block[BATCH];
  size_t size[BATCH];
} batch;

typedef struct {
  _Alignas(64) _Atomic(batch*) top;
  _Atomic size_t queued; /* batches pushed and not yet taken */
  size_t freed;          /* blocks its consumer freed */
  size_t batches;        /* batches its consumer took */
  char pad[64];
} queue;

typedef struct {
  int id;
  size_t blocks;
} producer;

static queue queues[MAX_THREADS];
static producer producers[MAX_THREADS];
static int nthreads;
static atomic_int producing; /* producers not yet finished */

/* Waits, spinning a little and then yielding: the machine may have fewer
 * cores than threads. */
static void pause_for(unsigned* spins) {
  if (++*spins < SPINS) {
    __builtin_ia32_pause();
  } else {
    sched_yield();
  }
}

static void put(queue* q, batch* b) {
  unsigned spins = 0;
  while (atomic_load_explicit(&q->queued, memory_order_relaxed) >= MAX_QUEUED) pause_for(&spins);
  atomic_fetch_add_explicit(&q->queued, 1, memory_order_relaxed);
  batch* top = atomic_load_explicit(&q->top, memory_order_relaxed);
  do {
    b->next = top;
  } while (!atomic_compare_exchange_weak_explicit(&q->top, &top, b, memory_order_release,
                                                  memory_order_relaxed));
}

/* Every batch in the queue, waiting for one; NULL once the queue is empty and
 * every producer has finished. */
static batch* take_all(queue* q) {
  unsigned spins = 0;
  for (;;) {
    /* Read the producers' count first: if it is 0, every push happened
     * before, and an empty queue stays empty. */
    int left = atomic_load_explicit(&producing, memory_order_acquire);
    batch* b = atomic_exchange_explicit(&q->top, NULL, memory_order_acquire);
    if (b != NULL || left == 0) return b;
    pause_for(&spins);
  }
}

static void* produce(void* arg) {
  producer* self = arg;
  uint64_t rng = (uint64_t)self->id * 104729 + 5;
  size_t left = self->blocks;
  for (size_t k = 0; left > 0; k++) {
    batch* b = bench_malloc(sizeof(batch));
    b->count = left < BATCH ? left : BATCH;
    for (size_t i = 0; i < b->count; i++) {
      size_t n = bench_log_range(&rng, MIN_SIZE, MAX_SIZE);
      b->block[i] = bench_malloc(n);
      b->size[i] = n;
      bench_fill(b->block[i], n);
    }
    left -= b->count;
    put(&queues[((size_t)self->id + k) % (size_t)nthreads], b);
  }
  atomic_fetch_sub_explicit(&producing, 1, memory_order_release);
  return NULL;
}

static void* consume(void* arg) {
  queue* q = arg;
  size_t freed = 0, batches = 0;
  batch* b;
  while ((b = take_all(q)) != NULL) {
    while (b != NULL) {
      batch* next = b->next;
      for (size_t i = 0; i < b->count; i++) {
        bench_check(b->block[i], b->size[i], "xmalloc");
        free(b->block[i]);
      }
      freed += b->count;
      batches++;
      atomic_fetch_sub_explicit(&q->queued, 1, memory_order_relaxed);
      free(b);
      b = next;
    }
  }
  q->freed = freed;
  q->batches = batches;
  return NULL;
}

int wl_xmalloc(double scale, const char* arg) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  nthreads = arg != NULL ? atoi(arg) : (int)(cores > 0 ? cores : 1);
  if (nthreads < 1 || nthreads > MAX_THREADS) bench_fail("xmalloc: bad thread count '%s'", arg);
  size_t total = bench_scaled(10000000, scale);
  pthread_t ptid[MAX_THREADS], ctid[MAX_THREADS];
  atomic_store(&producing, nthreads);
  for (int t = 0; t < nthreads; t++) {
    if (pthread_create(&ctid[t], NULL, consume, &queues[t]) != 0) {
      bench_fail("xmalloc: cannot start consumer %d", t);
    }
  }
  for (int t = 0; t < nthreads; t++) {
    producers[t].id = t;
    producers[t].blocks = total / (size_t)nthreads + ((size_t)t < total % (size_t)nthreads);
    if (pthread_create(&ptid[t], NULL, produce, &producers[t]) != 0) {
      bench_fail("xmalloc: cannot start producer %d", t);
    }
  }
  for (int t = 0; t < nthreads; t++) pthread_join(ptid[t], NULL);
  size_t freed = 0, batches = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(ctid[t], NULL);
    freed += queues[t].freed;
    batches += queues[t].batches;
  }
  if (freed != total) bench_fail("xmalloc: %zu blocks allocated but %zu freed", total, freed);
  bench_metric("blocks", (double)total);
  bench_metric("batches", (double)batches);
  return 0;
}
