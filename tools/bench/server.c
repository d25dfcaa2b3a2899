/* Server simulation: N worker threads each handle a share of a fixed number of
 * requests. A request allocates a few objects of mixed sizes (mostly small,
 * some of a few KiB, a few of up to 32 KiB): half are temporaries freed when
 * the request ends, a quarter replace an entry of the thread's long-lived
 * cache, and a quarter are handed to another worker (a response, a log
 * record) which checks and frees them: frees from other threads.
 *
 * Handed-over objects travel through each worker's mailbox, a lock-free stack
 * that its owner empties with one exchange. Counters check that every object
 * sent was received. The total work is the same for every N, so the time
 * shows how the allocator scales (or not) with threads. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "tools/bench/workloads.h"

enum {
  MAX_THREADS = 256,
  CACHE = 4096,       /* long-lived objects per worker */
  BATCH = 16,         /* requests between mailbox flushes and drains */
  MAX_PER_REQUEST = 8,
  MIN_SIZE = 24,      /* a msg header and an 8-byte tag */
  MAX_PENDING = 8192  /* objects waiting in one mailbox before senders wait */
};

/* The head of every handed-over object (objects are at least this big). */
typedef struct msg {
  struct msg* next;
  size_t size;
} msg;

typedef struct {
  _Alignas(64) _Atomic(msg*) mailbox;
  _Atomic size_t pending; /* objects pushed and not yet drained */
  size_t requests;
  size_t received;
  int id;
  char pad[64];
} worker;

static worker workers[MAX_THREADS];
static int nthreads;
static pthread_barrier_t barrier;
static atomic_size_t total_sent;
static atomic_int running; /* workers still handling requests */

static size_t request_size(uint64_t* rng) {
  uint64_t r = bench_rand(rng) % 100;
  if (r < 70) return bench_log_range(rng, MIN_SIZE, 256);
  if (r < 95) return bench_log_range(rng, 257, 4096);
  return bench_range(rng, 4097, 32768);
}

static size_t drain(worker* w) {
  size_t n = 0;
  msg* m = atomic_exchange_explicit(&w->mailbox, NULL, memory_order_acquire);
  while (m != NULL) {
    msg* next = m->next;
    size_t size = m->size;
    bench_check(m + 1, size - sizeof(msg), "server mailbox");
    free(m);
    m = next;
    n++;
  }
  atomic_fetch_sub_explicit(&w->pending, n, memory_order_relaxed);
  w->received += n;
  return n;
}

/* Pushes a list onto a mailbox. A bounded queue, as in a real server: while
 * the receiver is behind, the sender empties its own mailbox and yields. */
static void push_list(worker* self, worker* to, msg* first, msg* last, size_t count) {
  while (to != self && atomic_load_explicit(&to->pending, memory_order_relaxed) > MAX_PENDING) {
    drain(self);
    sched_yield();
  }
  atomic_fetch_add_explicit(&to->pending, count, memory_order_relaxed);
  msg* head = atomic_load_explicit(&to->mailbox, memory_order_relaxed);
  do {
    last->next = head;
  } while (!atomic_compare_exchange_weak_explicit(&to->mailbox, &head, first,
                                                  memory_order_release,
                                                  memory_order_relaxed));
}

static void* run_worker(void* arg) {
  worker* self = arg;
  uint64_t rng = (uint64_t)self->id * 1000003 + 7;
  void** cache = calloc(CACHE, sizeof(void*));
  size_t* cache_size = calloc(CACHE, sizeof(size_t));
  msg* out_first[MAX_THREADS] = {0};
  msg* out_last[MAX_THREADS] = {0};
  size_t out_count[MAX_THREADS] = {0};
  size_t sent = 0;
  if (cache == NULL || cache_size == NULL) bench_fail("server: out of memory");
  pthread_barrier_wait(&barrier);

  for (size_t r = 0; r < self->requests; r++) {
    void* temp[MAX_PER_REQUEST];
    size_t temp_size[MAX_PER_REQUEST];
    size_t ntemp = 0;
    size_t k = bench_range(&rng, 2, MAX_PER_REQUEST);
    for (size_t i = 0; i < k; i++) {
      size_t n = request_size(&rng);
      void* p = bench_malloc(n);
      uint64_t use = bench_rand(&rng) & 3;
      if (use <= 1) { /* a temporary, freed at the end of the request */
        bench_fill(p, n);
        temp[ntemp] = p;
        temp_size[ntemp++] = n;
      } else if (use == 2) { /* replaces an entry of the cache */
        bench_fill(p, n);
        size_t slot = (size_t)bench_rand(&rng) % CACHE;
        if (cache[slot] != NULL) {
          bench_check(cache[slot], cache_size[slot], "server cache");
          free(cache[slot]);
        }
        cache[slot] = p;
        cache_size[slot] = n;
      } else { /* handed to another worker */
        msg* m = p;
        m->size = n;
        bench_fill(m + 1, n - sizeof(msg));
        int to = nthreads == 1 ? 0 : (self->id + 1 + (int)(bench_rand(&rng) % (uint64_t)(nthreads - 1))) % nthreads;
        m->next = out_first[to];
        out_first[to] = m;
        if (out_last[to] == NULL) out_last[to] = m;
        out_count[to]++;
        sent++;
      }
    }
    for (size_t i = 0; i < ntemp; i++) {
      bench_check(temp[i], temp_size[i], "server temporary");
      free(temp[i]);
    }
    if (r % BATCH == BATCH - 1 || r + 1 == self->requests) {
      for (int t = 0; t < nthreads; t++) {
        if (out_first[t] == NULL) continue;
        push_list(self, &workers[t], out_first[t], out_last[t], out_count[t]);
        out_first[t] = out_last[t] = NULL;
        out_count[t] = 0;
      }
      drain(self);
    }
  }
  atomic_fetch_add(&total_sent, sent);
  /* Keep emptying the mailbox while others still send: they may be waiting
   * for room in it. */
  atomic_fetch_sub(&running, 1);
  while (atomic_load(&running) > 0) {
    drain(self);
    sched_yield();
  }
  drain(self); /* every object has been sent */
  for (size_t i = 0; i < CACHE; i++) {
    if (cache[i] == NULL) continue;
    bench_check(cache[i], cache_size[i], "server cache");
    free(cache[i]);
  }
  free(cache);
  free(cache_size);
  return NULL;
}

int wl_server(double scale, const char* arg) {
  nthreads = arg != NULL ? atoi(arg) : 1;
  if (nthreads < 1 || nthreads > MAX_THREADS) bench_fail("server: bad thread count '%s'", arg);
  size_t requests = bench_scaled(2000000, scale);
  pthread_t tid[MAX_THREADS];
  pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
  atomic_store(&running, nthreads);
  for (int t = 0; t < nthreads; t++) {
    workers[t].id = t;
    workers[t].requests = requests / (size_t)nthreads + ((size_t)t < requests % (size_t)nthreads);
    if (pthread_create(&tid[t], NULL, run_worker, &workers[t]) != 0) {
      bench_fail("server: cannot start thread %d", t);
    }
  }
  size_t received = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(tid[t], NULL);
    received += workers[t].received;
  }
  if (received != atomic_load(&total_sent)) {
    bench_fail("server: %zu objects sent but %zu received", atomic_load(&total_sent), received);
  }
  pthread_barrier_destroy(&barrier);
  bench_metric("requests", (double)requests);
  bench_metric("handed_over", (double)received);
  return 0;
}
