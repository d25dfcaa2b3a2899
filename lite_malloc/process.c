/* Process start-up, the top of the layers: run once, by the library's
 * constructor or by the first malloc of a thread that comes before it
 * (alloc.c), whichever is first. It reads the OS page size (a large block
 * allocated before that reads it itself) and the options, keys the hardened
 * build's link encoding, makes the key that hears of thread exits, registers
 * the fork handler and starts the background purger when it is asked for. */
#include <pthread.h>
#include "lite_internal.h"

static void lite_fork_child(void) { lite_fork_child_reset(); }

void lite_process_init(void) {
  static _Atomic(int) done;
  int expected = 0;
  if (!atomic_compare_exchange_strong_explicit(&done, &expected, 1, memory_order_acq_rel,
                                               memory_order_acquire))
    return;
  lite_os_page_init();
  lite_hardened_init();
  lite_options_init();
  lite_front_key_init();
  pthread_atfork(NULL, NULL, lite_fork_child);
  lite_background_start();
}

__attribute__((constructor)) static void lite_init_at_load(void) { lite_process_init(); }
