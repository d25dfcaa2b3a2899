/* Reclaiming the free memory of fronts whose owners are not looking at it: an
 * idle thread's pages that other threads freed into, the current page of a
 * class it no longer uses. Called from malloc_trim on any thread and from the
 * decay ticks (decay.c), never waiting for the owner.
 *
 * The owner works on its front without atomics. A reclaimer gets the front by
 * the handle's steal word (CAS FREE -> HELD) and keeps the owner out with an
 * asymmetric fence:
 *   owner, entering any slow path:  busy = 1; signal fence; steal != FREE? back off
 *   owner, malloc fast path:        busy = 1; signal fence; pop; busy = 0 (release)
 *   reclaimer:                      steal = HELD; membarrier(); busy == 1? back off
 * membarrier() makes every running thread of the process execute a full fence,
 * so one of the two sides sees the other: either the owner sees HELD (and
 * allocates frontless, frees by the remote path, or skips trimming) or the
 * reclaimer sees busy and lets go. After that the reclaimer may change the
 * owner's lists: the owner's fast paths never touch pages that are not in its
 * slots, except to free its own live blocks into them, and the reclaimer only
 * takes pages whose blocks are all free. Pages in the slots (cur, direct) are
 * first revoked (the slot set to the empty page); the owner may be popping
 * from one at that instant, so a revoked page is released only by the next
 * pass, whose fence proves that pop has ended. The malloc fast path pays two
 * stores for this; nothing else on a fast path changes.
 *
 * A thread that exits while a reclaimer holds its front marks the word LEFT and
 * goes; the reclaimer then releases the front for it. One membarrier serves a
 * batch of up to 64 fronts. Without membarrier (old kernels, some sandboxes)
 * nothing is reclaimed here, and memory waits for its owner as before. */
#include "lite_internal.h"

#define LITE_RECLAIM_BATCH 64
/* A tick looks at a front when it goes idle, and at every front once in this
 * many ticks. A front is idle when its owner ran no slow path since the
 * previous tick or for a whole delay by the decay clock; the free pages of an
 * idle front have stayed free for that long, so they go back aged (the same
 * tick purges them). */
#define LITE_RECLAIM_REVISIT 16
#define LITE_RECLAIM_WAS_IDLE 0x80000000u /* in seen_ticks: idle at the previous tick */
#define LITE_RECLAIM_REVOKED 0x40000000u  /* in seen_ticks: a slot was revoked, release it */
#define LITE_RECLAIM_FLAGS (LITE_RECLAIM_WAS_IDLE | LITE_RECLAIM_REVOKED)

/* What a pass looks at: every front (trim), those due (a tick), or those whose
 * slots the pass before revoked (right after it, to release those pages). */
enum { LITE_PASS_ALL, LITE_PASS_TICK, LITE_PASS_REVOKED };

/* The owner, exiting: takes its own handle, or leaves the front to the
 * reclaimer that holds it (false). */
bool lite_front_claim_own(lite_front* f) {
  lite_handle* h = f->handle;
  uint32_t s = LITE_STEAL_FREE;
  for (;;) {
    if (s == LITE_STEAL_FREE) {
      if (atomic_compare_exchange_weak_explicit(&h->steal, &s, LITE_STEAL_HELD,
                                                memory_order_acquire, memory_order_relaxed))
        return true;
    } else if (atomic_compare_exchange_weak_explicit(&h->steal, &s, s | LITE_STEAL_LEFT,
                                                     memory_order_acq_rel, memory_order_relaxed)) {
      return false;
    }
  }
}

static void lite_unhold(lite_handle* h, lite_front* f) {
  uint32_t s = LITE_STEAL_HELD;
  if (!atomic_compare_exchange_strong_explicit(&h->steal, &s, LITE_STEAL_FREE, memory_order_release,
                                               memory_order_acquire))
    lite_front_release(f); /* its thread left meanwhile */
}

/* One pass over a front that is held and quiet. Pages all of whose blocks are
 * free go back to their segments, except those in a slot, which are revoked
 * for the next pass. True when anything was released or revoked. */
static bool lite_reclaim_front(lite_front* f, bool aged, bool* revoked) {
  bool any = false;
  unsigned how = aged ? LITE_RETIRE_AGED : 0;
  lite_front_take_delayed(f, false);
  for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
    lite_page* cur = LITE_SLOT_GET(f->cur[cls]);
    any |= lite_page_retire_free(f, &f->avail[cls], cur, how);
    any |= lite_page_retire_free(f, &f->full[cls], cur, how);
    if (cur != &lite_empty_page && lite_page_all_free(cur)) {
      lite_front_set_cur(f, cls, &lite_empty_page);
      *revoked = any = true;
    }
  }
  return any;
}

static _Atomic(int) lite_reclaiming;
void lite_reclaim_fork_child(void) { lite_store_relaxed(&lite_reclaiming, 0); }

/* Should this pass look at this front now? Sets *idle as above. */
static bool lite_reclaim_due(lite_handle* h, int mode, uint64_t now, bool* idle) {
  uint32_t seen = lite_load_relaxed(&h->seen_ticks);
  *idle = true;
  if (mode == LITE_PASS_ALL) return true;
  if (seen & LITE_RECLAIM_REVOKED) {
    lite_store_relaxed(&h->seen_ticks, LITE_RECLAIM_WAS_IDLE);
    return true;
  }
  if (mode == LITE_PASS_REVOKED) return false;
  uint32_t epoch = lite_load_relaxed(&h->epoch);
  uint32_t ticks = (seen & ~LITE_RECLAIM_FLAGS) + 1;
  *idle = epoch == lite_load_relaxed(&h->seen_epoch) ||
          lite_decay_expired(lite_load_relaxed(&h->active_ms), now);
  lite_store_relaxed(&h->seen_epoch, epoch);
  bool due = (*idle && !(seen & LITE_RECLAIM_WAS_IDLE)) || ticks >= LITE_RECLAIM_REVISIT;
  lite_store_relaxed(&h->seen_ticks, (*idle ? LITE_RECLAIM_WAS_IDLE : 0) | (due ? 0 : ticks));
  return due;
}

/* One pass over the fronts `mode` says, never the caller's. Sets *again when
 * a slot was revoked (a second pass releases it). */
static bool lite_reclaim_pass(int mode, lite_front* self, bool* again) {
  bool any = false;
  uint32_t count = lite_load_acquire(&lite_handles.count);
  uint64_t now = lite_load_relaxed(&lite_decay_now);
  for (uint32_t base = 0; base < count; base += LITE_RECLAIM_BATCH) {
    lite_handle* held[LITE_RECLAIM_BATCH];
    lite_front* fronts[LITE_RECLAIM_BATCH];
    bool aged[LITE_RECLAIM_BATCH];
    size_t n = 0;
    for (uint32_t hid = base; hid < count && hid < base + LITE_RECLAIM_BATCH; hid++) {
      if (!lite_pool_mapped(&lite_handles, hid)) continue;
      lite_handle* h = lite_handle_at(hid);
      uint32_t s = lite_load_relaxed(&h->steal);
      if (s == LITE_STEAL_DEAD) {
        lite_handle_drain(h);
        continue;
      }
      if (s != LITE_STEAL_FREE || lite_load_relaxed(&h->front) == self) continue;
      bool idle;
      if (!lite_reclaim_due(h, mode, now, &idle)) continue;
      if (!atomic_compare_exchange_strong_explicit(&h->steal, &s, LITE_STEAL_HELD,
                                                   memory_order_seq_cst, memory_order_relaxed))
        continue;
      held[n] = h;
      aged[n] = idle;
      fronts[n++] = lite_load_acquire(&h->front);
    }
    if (n == 0) continue;
    bool fenced = lite_os_membarrier(); /* false at once where the kernel has none */
    for (size_t i = 0; i < n; i++) {
      bool revoked = false;
      if (fenced && atomic_load_explicit(&fronts[i]->busy, LITE_ASYM_ORDER) == 0)
        any |= lite_reclaim_front(fronts[i], aged[i], &revoked);
      /* A revoked page is released by the next pass, whose fence proves that
       * any pop from it has ended: the one right after this. */
      if (revoked) lite_store_relaxed(&held[i]->seen_ticks, LITE_RECLAIM_REVOKED);
      *again |= revoked;
      lite_unhold(held[i], fronts[i]);
    }
  }
  return any;
}

bool lite_reclaim(bool all, bool background) {
  if (!lite_options[LITE_OPT_RECLAIM]) return false;
  lite_front* self = background ? NULL : lite_tls_front;
  int idle = 0;
  if (!atomic_compare_exchange_strong_explicit(&lite_reclaiming, &idle, 1, memory_order_acquire,
                                               memory_order_relaxed))
    return false;
  bool again = false;
  bool any = lite_reclaim_pass(all ? LITE_PASS_ALL : LITE_PASS_TICK, self, &again);
  if (again) {
    again = false;
    any |= lite_reclaim_pass(all ? LITE_PASS_ALL : LITE_PASS_REVOKED, self, &again);
  }
  lite_store_release(&lite_reclaiming, 0);
  return any;
}
