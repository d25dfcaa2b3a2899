/* Larson-style server simulation, after the benchmark Larson and Krishnan
 * described ("Memory allocation for long-running server applications",
 * ISMM 1998): ARG threads each own an array of slots holding blocks of random
 * sizes (10-500 bytes). A step frees the block in a random slot and puts a
 * newly allocated one of a new random size there. After each round of steps
 * the thread starts a successor, hands it the slot array and exits: the
 * successor frees blocks its predecessors allocated, and the threads of the
 * process are replaced all the time, as in a server that serves each client
 * from a fresh thread. The main thread fills every slot array before the first
 * round, so the first blocks each chain frees came from yet another thread.
 *
 * The total number of steps is the same for every ARG (each chain does its
 * share), so the time shows how the allocator scales with threads. Every
 * block is checked when it is freed, and the steps done are counted. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "tools/bench/workloads.h"

enum {
  MAX_THREADS = 256,
  SLOTS = 1000,   /* blocks each chain of threads keeps */
  ROUNDS = 200,   /* threads in each chain, one after another */
  MIN_SIZE = 10,
  MAX_SIZE = 500
};

/* What one chain of threads carries from each thread to its successor. */
typedef struct {
  void* block[SLOTS];
  size_t size[SLOTS];
  uint64_t rng;
  size_t steps;  /* steps each thread of the chain does */
  size_t rounds; /* rounds left, this one included */
  size_t done;   /* steps done by the chain so far */
} chain;

static chain* chains;
static pthread_attr_t detached;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t finished_cond = PTHREAD_COND_INITIALIZER;
static int finished; /* chains whose last thread has ended its round */

static void* run_round(void* arg) {
  chain* c = arg;
  for (size_t i = 0; i < c->steps; i++) {
    size_t j = (size_t)(bench_rand(&c->rng) % SLOTS);
    bench_check(c->block[j], c->size[j], "larson");
    free(c->block[j]);
    size_t n = bench_range(&c->rng, MIN_SIZE, MAX_SIZE);
    c->block[j] = bench_malloc(n);
    c->size[j] = n;
    bench_fill(c->block[j], n);
  }
  c->done += c->steps;
  if (--c->rounds > 0) {
    /* The successor starts only now, so it sees everything this thread
     * wrote to the chain; this thread touches the chain no more. */
    pthread_t next;
    if (pthread_create(&next, &detached, run_round, c) != 0) {
      bench_fail("larson: cannot start a thread");
    }
  } else {
    pthread_mutex_lock(&lock);
    finished++;
    pthread_cond_signal(&finished_cond);
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

int wl_larson(double scale, const char* arg) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int nthreads = arg != NULL ? atoi(arg) : (int)(cores > 0 ? cores : 1);
  if (nthreads < 1 || nthreads > MAX_THREADS) bench_fail("larson: bad thread count '%s'", arg);
  size_t total = bench_scaled(40000000, scale);
  size_t rounds = total < ROUNDS ? 1 : ROUNDS;
  chains = calloc((size_t)nthreads, sizeof(chain));
  if (chains == NULL) bench_fail("larson: out of memory");
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);

  size_t expected = 0;
  for (int t = 0; t < nthreads; t++) {
    chain* c = &chains[t];
    c->rng = (uint64_t)t * 7919 + 11;
    for (size_t j = 0; j < SLOTS; j++) {
      size_t n = bench_range(&c->rng, MIN_SIZE, MAX_SIZE);
      c->block[j] = bench_malloc(n);
      c->size[j] = n;
      bench_fill(c->block[j], n);
    }
    size_t share = total / (size_t)nthreads + ((size_t)t < total % (size_t)nthreads);
    c->steps = share / rounds > 0 ? share / rounds : 1;
    c->rounds = rounds;
    expected += c->steps * rounds;
  }
  for (int t = 0; t < nthreads; t++) {
    pthread_t first;
    if (pthread_create(&first, &detached, run_round, &chains[t]) != 0) {
      bench_fail("larson: cannot start thread %d", t);
    }
  }
  pthread_mutex_lock(&lock);
  while (finished < nthreads) pthread_cond_wait(&finished_cond, &lock);
  pthread_mutex_unlock(&lock);

  size_t steps = 0;
  for (int t = 0; t < nthreads; t++) {
    chain* c = &chains[t];
    for (size_t j = 0; j < SLOTS; j++) {
      bench_check(c->block[j], c->size[j], "larson");
      free(c->block[j]);
    }
    steps += c->done;
  }
  if (steps != expected) bench_fail("larson: %zu steps done of %zu", steps, expected);
  free(chains);
  pthread_attr_destroy(&detached);
  bench_metric("steps", (double)steps);
  bench_metric("threads_started", (double)(rounds * (size_t)nthreads));
  return 0;
}
