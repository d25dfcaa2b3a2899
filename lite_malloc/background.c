/* The background purger: with LITE_MALLOC_BACKGROUND=1, one thread of
 * lite_malloc's own runs the decay ticks (decay.c), so memory that stays free
 * goes back to the OS even when no thread calls the allocator any more.
 *
 * It is started with a raw clone (os.c), not pthread_create, which would
 * allocate (its thread-local storage) and take the loader's locks from inside
 * malloc. So libc knows nothing of it: it calls no libc function and reads no
 * thread-local variable; its thread pointer points into a zeroed area of its
 * own mapping, and code it shares with other threads asks lite_background_self
 * before it touches thread-local state. It blocks every signal, sleeps on a
 * futex between ticks (longer, up to 16 periods, while there is nothing to
 * return), dies with the process, and is started again in a forked child.
 * ThreadSanitizer builds do not start it: TSan must see every thread. */
#include "lite_internal.h"

#define LITE_BG_STACK ((size_t)64 << 10)
#define LITE_BG_TLS ((size_t)64 << 10)
#define LITE_BG_AREA (LITE_BG_STACK + LITE_BG_TLS)

static _Atomic(uintptr_t) lite_bg_area;   /* the thread's mapping: stack, then TLS */
static _Atomic(uint32_t) lite_bg_started;
static _Atomic(uint32_t) lite_bg_word;    /* what the thread sleeps on */
static _Atomic(uint64_t) lite_bg_ticks;

bool lite_background_self(void) {
  uintptr_t area = lite_load_relaxed(&lite_bg_area);
  return area != 0 && (uintptr_t)__builtin_frame_address(0) - area < LITE_BG_STACK;
}

uint64_t lite_background_ticks(void) { return lite_load_relaxed(&lite_bg_ticks); }

static void lite_background_main(void* arg) {
  (void)arg;
  unsigned quiet = 0;
  for (;;) {
    uint32_t word = lite_load_relaxed(&lite_bg_word);
    lite_os_sleep_on(&lite_bg_word, word, lite_decay_period_ms() << (quiet < 4 ? quiet : 4));
    bool any = lite_decay_run(false, true);
    lite_add_relaxed(&lite_bg_ticks, 1);
    /* Dirty memory is purged by the next tick: no backing off until then. */
    quiet = any || lite_load_relaxed(&lite_stat.dirty_bytes) != 0 ? 0 : quiet + 1;
  }
}

void lite_background_start(void) {
  if (LITE_TSAN_ON || !lite_options[LITE_OPT_BACKGROUND]) return;
  uint32_t none = 0;
  if (!atomic_compare_exchange_strong_explicit(&lite_bg_started, &none, 1, memory_order_relaxed,
                                               memory_order_relaxed))
    return;
  uintptr_t area = lite_load_relaxed(&lite_bg_area);
  if (area == 0) {
    void* p = lite_os_map(LITE_BG_AREA, NULL);
    if (p == NULL) {
      lite_store_relaxed(&lite_bg_started, 0);
      return;
    }
    area = (uintptr_t)p;
    lite_add_relaxed(&lite_stat.mappings, 1);
  }
  /* AArch64 (TLS variant I): the thread pointer is the start of the zeroed
   * area, so the TCB's two words and every TLS offset from it read zeros
   * inside the mapping. The clone itself (os.c) has a branch per
   * architecture; both run in the tests (testing/cross/ under qemu). */
  uintptr_t* tls = (uintptr_t*)(area + LITE_BG_STACK);
#if defined(__x86_64__)
  /* Variant II: the thread pointer is the end of the static TLS block, and the
   * word it points to is the pointer itself (as is tcbhead_t.self). */
  tls = (uintptr_t*)(area + LITE_BG_AREA - 256);
  tls[0] = tls[2] = (uintptr_t)tls;
#endif
  lite_store_relaxed(&lite_bg_area, area);
  if (!lite_os_thread_start((void*)(area + LITE_BG_STACK), tls, lite_background_main, NULL))
    lite_store_relaxed(&lite_bg_started, 0);
}

/* In a forked child, where the thread does not exist: start it again. */
void lite_background_fork_child(void) {
  lite_store_relaxed(&lite_bg_started, 0);
  lite_background_start();
}
