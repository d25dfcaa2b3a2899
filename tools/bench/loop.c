/* The instruction-count loop: SCALE x 100000 iterations of malloc(SIZE) and
 * free, SIZE = ARG, nothing else. Run under callgrind at two scales, the
 * difference divided by the difference in iterations is the cost of one
 * malloc+free pair (plus the loop's own few instructions), with start-up and
 * exit cancelled out. */
#include <stdlib.h>

#include "tools/bench/workloads.h"

int wl_loop(double scale, const char* arg) {
  size_t size = arg != NULL ? (size_t)atol(arg) : 16;
  size_t iterations = bench_scaled(100000, scale);
  /* One block stays live throughout, as in any real program, so the page the
   * loop uses never becomes empty: the loop measures the steady state, not
   * an allocator's page-retiring path on every free. */
  void* pin = bench_malloc(size);
  for (size_t i = 0; i < iterations; i++) {
    void* p = malloc(size);
    /* Keep the compiler from pairing malloc with free and dropping both. */
    __asm__ volatile("" : : "r"(p) : "memory");
    free(p);
  }
  free(pin);
  return 0;
}
