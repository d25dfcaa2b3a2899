/* Producer/consumer: one thread allocates objects of 16-512 bytes and passes
 * them through a bounded single-producer single-consumer ring to a second
 * thread, which checks and frees them. Every free is a free from another
 * thread, the pattern of a pipeline or a logging thread. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "tools/bench/workloads.h"

enum { RING = 4096, SPINS = 64 };

static struct {
  _Alignas(64) _Atomic size_t head; /* next slot the producer writes */
  _Alignas(64) _Atomic size_t tail; /* next slot the consumer reads */
  _Alignas(64) void* slot[RING];
  size_t slot_size[RING];
} ring;

static size_t items;

/* Waits, spinning a little and then yielding: the machine may have fewer
 * cores than threads. */
static void pause_for(unsigned* spins) {
  if (++*spins < SPINS) {
    __builtin_ia32_pause();
  } else {
    sched_yield();
  }
}

static void* consume(void* arg) {
  (void)arg;
  size_t tail = 0;
  for (size_t i = 0; i < items; i++) {
    unsigned spins = 0;
    while (atomic_load_explicit(&ring.head, memory_order_acquire) == tail) pause_for(&spins);
    void* p = ring.slot[tail % RING];
    size_t n = ring.slot_size[tail % RING];
    atomic_store_explicit(&ring.tail, ++tail, memory_order_release);
    bench_check(p, n, "prodcons");
    free(p);
  }
  return NULL;
}

int wl_prodcons(double scale, const char* arg) {
  (void)arg;
  items = bench_scaled(4000000, scale);
  uint64_t rng = 3;
  pthread_t consumer;
  if (pthread_create(&consumer, NULL, consume, NULL) != 0) bench_fail("prodcons: no thread");
  size_t head = 0;
  for (size_t i = 0; i < items; i++) {
    size_t n = bench_log_range(&rng, 16, 512);
    void* p = bench_malloc(n);
    bench_fill(p, n);
    unsigned spins = 0;
    while (head - atomic_load_explicit(&ring.tail, memory_order_acquire) == RING) pause_for(&spins);
    ring.slot[head % RING] = p;
    ring.slot_size[head % RING] = n;
    atomic_store_explicit(&ring.head, ++head, memory_order_release);
  }
  pthread_join(consumer, NULL);
  bench_metric("items", (double)items);
  return 0;
}
