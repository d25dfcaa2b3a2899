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
 * and that the consumer empties with one exchange. Producer p sends its k-th
 * batch to consumer (p + k) mod ARG. A queue holds about MAX_QUEUED batches at
 * most, so the memory in flight stays bounded. A producer that finds its
 * queue full, or a consumer that finds its queue empty, spins a little, then
 * yields a few times, then sleeps on the queue's condition variable until the
 * other side wakes it: threads that wait do not take the CPU from the ones
 * that work when there are more threads than cores (2 x ARG of them here),
 * and no lock is taken while nobody sleeps. The total number of blocks
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
  YIELDS = 16,       /* yields before it sleeps */
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
  _Atomic int sleeping;  /* threads asleep on `wake`, or about to be */
  pthread_mutex_t lock;  /* held only to sleep and to wake sleepers */
  pthread_cond_t wake;
  size_t freed;   /* blocks its consumer freed */
  size_t batches; /* batches its consumer took */
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

/* Waits until ready(q): spins, then yields, then sleeps. Sleeping announces
 * itself in q->sleeping before the last look at the condition, and every
 * change that can make it true is followed by wake(q), which reads
 * q->sleeping: both in sequentially consistent order, so either the waiter
 * sees the change or the waker sees the waiter (and takes the lock, which the
 * waiter holds until it sleeps). */
static void wait_for(queue* q, int (*ready)(queue*)) {
  for (unsigned i = 0; i < SPINS; i++) {
    if (ready(q)) return;
    __builtin_ia32_pause();
  }
  for (unsigned i = 0; i < YIELDS; i++) {
    if (ready(q)) return;
    sched_yield();
  }
  pthread_mutex_lock(&q->lock);
  atomic_fetch_add(&q->sleeping, 1);
  while (!ready(q)) pthread_cond_wait(&q->wake, &q->lock);
  atomic_fetch_sub(&q->sleeping, 1);
  pthread_mutex_unlock(&q->lock);
}

static void wake(queue* q) {
  if (atomic_load(&q->sleeping) == 0) return;
  pthread_mutex_lock(&q->lock);
  pthread_cond_broadcast(&q->wake);
  pthread_mutex_unlock(&q->lock);
}

static int has_room(queue* q) { return atomic_load(&q->queued) < MAX_QUEUED; }

static int has_work(queue* q) {
  return atomic_load(&q->top) != NULL || atomic_load(&producing) == 0;
}

static void put(queue* q, batch* b) {
  if (!has_room(q)) wait_for(q, has_room);
  atomic_fetch_add(&q->queued, 1);
  batch* top = atomic_load_explicit(&q->top, memory_order_relaxed);
  do {
    b->next = top;
  } while (!atomic_compare_exchange_weak(&q->top, &top, b));
  wake(q);
}

/* Every batch in the queue, waiting for one; NULL once the queue is empty and
 * every producer has finished. */
static batch* take_all(queue* q) {
  for (;;) {
    /* Read the producers' count first: if it is 0, every push happened
     * before, and an empty queue stays empty. */
    int left = atomic_load(&producing);
    batch* b = atomic_exchange(&q->top, NULL);
    if (b != NULL || left == 0) return b;
    wait_for(q, has_work);
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
  /* The last producer to finish lets sleeping consumers see it. */
  if (atomic_fetch_sub(&producing, 1) == 1) {
    for (int t = 0; t < nthreads; t++) wake(&queues[t]);
  }
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
      atomic_fetch_sub(&q->queued, 1);
      wake(q);
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
    pthread_mutex_init(&queues[t].lock, NULL);
    pthread_cond_init(&queues[t].wake, NULL);
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
    pthread_mutex_destroy(&queues[t].lock);
    pthread_cond_destroy(&queues[t].wake);
  }
  if (freed != total) bench_fail("xmalloc: %zu blocks allocated but %zu freed", total, freed);
  bench_metric("blocks", (double)total);
  bench_metric("batches", (double)batches);
  return 0;
}
