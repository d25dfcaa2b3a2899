/* Decay: when free memory goes back to the OS.
 *
 * Free memory is kept while it may be reused and returned once it has stayed
 * free for LITE_MALLOC_PURGE_DELAY. A tick runs at most once per delay; each
 * tick releases what was already free at the previous one, or is stamped
 * (lite_decay_now) as free for a whole delay, so memory goes back between one
 * and two delays after it was freed even when ticks are far apart, and memory
 * freed and reused within one delay is never returned and faulted in again. That holds
 * for every kind of free memory: dirty slices and segments that are entirely
 * free (segment.c), cached large mappings (large.c), pages left in the fronts
 * of idle threads (reclaim.c) and pages abandoned by exited ones (page.c).
 *
 * Ticks come from the allocator's own slow paths (the clock is read on every
 * 16th call) and, with LITE_MALLOC_BACKGROUND=1, from the background thread
 * (background.c), so that a process that frees everything and goes quiet
 * still gives it back.
 *
 * This file is the bottom of reclamation. It knows nothing of the layers
 * above: they hand their free memory down through lite_release_sources, a
 * table that the entry layer (alloc.c) fills in and that a test of the lower
 * layers alone can fill with its own. Segments are purged after the sources,
 * so a tick sees what they released. */
#include "lite_internal.h"

static _Atomic(uint64_t) lite_last_tick_ms;
_Atomic(uint64_t) lite_decay_now;

bool lite_decay_expired(uint64_t stamp, uint64_t now) {
  return now - stamp >= (uint64_t)lite_options[LITE_OPT_PURGE_DELAY];
}
static __thread unsigned lite_tick_calls LITE_TLS_MODEL;

/* The tick period: the delay, but not more often than every 10 ms. */
uint64_t lite_decay_period_ms(void) {
  uint64_t delay = (uint64_t)lite_options[LITE_OPT_PURGE_DELAY];
  return delay > 10 ? delay : 10;
}

bool lite_decay_run(bool all, bool background) {
  bool any = false;
  lite_store_relaxed(&lite_decay_now, lite_os_now_ms());
  for (const lite_release_fn* source = lite_release_sources; *source != NULL; source++)
    any |= (*source)(all, background);
  return lite_purge_some(all) || any;
}

/* Dirty slices cannot serve a large block, and a new segment is needed only
 * when none of them could serve the request: so when the process is about to
 * map more memory, dirty slices beyond 4 MiB and 1/8 of the memory in use go
 * back first, instead of adding to the peak. Memory freed and reused within
 * the delay is still never returned: this happens only on growth. */
#define LITE_GROWTH_DIRTY_MIN ((size_t)4 << 20)
#ifndef LITE_GROWTH_DIRTY_SHARE
#define LITE_GROWTH_DIRTY_SHARE 8
#endif
void lite_decay_before_growth(void) {
  size_t dirty = lite_load_relaxed(&lite_stat.dirty_bytes) - lite_load_relaxed(&lite_stat.large_cached);
  size_t in_use = lite_load_relaxed(&lite_stat.pages_in_use) * LITE_SLICE_SIZE +
                  lite_load_relaxed(&lite_stat.large_bytes);
  if (dirty > LITE_GROWTH_DIRTY_MIN && dirty > in_use / LITE_GROWTH_DIRTY_SHARE) lite_purge_some(true);
}

void lite_decay_tick(void) {
  size_t bound = (size_t)lite_options[LITE_OPT_PURGE_BYTES];
  if (bound != 0 &&
      lite_load_relaxed(&lite_stat.dirty_bytes) - lite_load_relaxed(&lite_stat.large_cached) > bound)
    lite_purge_some(true);
  /* The background thread keeps its own time (and has no thread-local state). */
  if (lite_background_self()) return;
  uint64_t delay = (uint64_t)lite_options[LITE_OPT_PURGE_DELAY];
  if (delay != 0 && lite_tick_calls++ % 16 != 0) return;
  if (delay == 0 && lite_load_relaxed(&lite_stat.dirty_bytes) != 0) lite_purge_some(true);
  uint64_t now = lite_os_now_ms(), last = lite_load_relaxed(&lite_last_tick_ms);
  lite_store_relaxed(&lite_decay_now, now);
  if (now - last >= lite_decay_period_ms() &&
      atomic_compare_exchange_strong_explicit(&lite_last_tick_ms, &last, now, memory_order_relaxed,
                                              memory_order_relaxed))
    lite_decay_run(delay == 0, false);
}
