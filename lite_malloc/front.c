/* Thread fronts: attached on a thread's first malloc, released at its exit.
 *
 * Every thread starts with lite_tls_front pointing at lite_empty_front, whose
 * pages are all &lite_empty_page: its first malloc misses the fast path, and the
 * slow path attaches a real front here. So the fast paths never ask "is this
 * thread set up?". A pthread key serves only to hear about thread exit: the
 * front's pages are then retired or abandoned to their engines and its slices
 * go back to their segment like any other free memory. A thread that allocates
 * after that (a later key destructor) is given lite_dying_front, whose
 * allocations are frontless (page.c) and whose frees all take the remote path.
 *
 * Each front has a handle (handle.c). Other threads write only to handles (the
 * delivered blocks of remote.c, the steal word of reclaim.c), never to a front,
 * so a front can be released the moment its thread is done with it; a handle
 * is reused by a later front, and whatever reaches it late is passed on. */
#include <pthread.h>
#include <stddef.h>
#include "lite_internal.h"

__thread lite_front* lite_tls_front LITE_TLS_MODEL = &lite_empty_front;

static pthread_key_t lite_exit_key;
static _Atomic(int) lite_key_state;         /* 0: none, 1: being made, 2: ready */

// -----------------------------------------------------------------------------
// Fronts
// -----------------------------------------------------------------------------
/* Releases front f; the caller holds its handle (steal word HELD, or the owner
 * made it so at exit). */
void lite_front_release(lite_front* f) {
  uint32_t hid = f->hid;
  lite_handle* h = lite_handle_at(hid);
  lite_page_abandon_all(f);
  lite_store_relaxed(&h->front, NULL);
  lite_store_release(&h->steal, LITE_STEAL_DEAD);
  lite_handle_drain(h);
  lite_pool_free(&lite_handles, hid);
  lite_sub_relaxed(&lite_stat.threads, 1);
  lite_slices_release(f->self);
}

static void lite_front_detach(void* arg) {
  lite_front* f = arg;
  lite_tls_front = &lite_dying_front;
  if (lite_front_claim_own(f)) lite_front_release(f);
}

/* Makes the key that hears of thread exits; once, from lite_process_init. */
void lite_front_key_init(void) {
  int state = 0;
  if (atomic_compare_exchange_strong_explicit(&lite_key_state, &state, 1, memory_order_acq_rel,
                                              memory_order_acquire)) {
    int ok = pthread_key_create(&lite_exit_key, lite_front_detach) == 0;
    lite_store_release(&lite_key_state, ok ? 2 : 3);
  }
}

static lite_front* lite_front_new(void) {
  uint32_t hid;
  lite_handle* h = lite_pool_new(&lite_handles, &hid);
  if (h == NULL) return NULL;
  /* Handles are reused last-in first-out, so a thread that replaces an exited
   * one gets its engine, and the pages it left there. */
  uint32_t id = hid;
  size_t slices = (sizeof(lite_front) + LITE_SLICE_SIZE - 1) / LITE_SLICE_SIZE;
  lite_page* self = lite_slices_claim(id % LITE_MALLOC_ENGINES_COUNT, slices);
  if (self == NULL) {
    lite_pool_free(&lite_handles, hid);
    return NULL;
  }
  lite_segment* seg = lite_segment_of_page(self);
  LITE_FIELD_SET(self->kind, LITE_PAGE_FRONT);
  LITE_FIELD_SET(self->start, (uintptr_t)seg + ((uintptr_t)self->slice_index << LITE_SLICE_SHIFT));
  self->limit = 0;
  lite_store_relaxed(&self->owner, 0);
  for (size_t j = self->slice_index; j < self->slice_index + slices; j++)
    lite_store_release(&seg->slice_page[j], self);
  lite_front* f = (lite_front*)self->start;
  for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
    lite_front_set_cur(f, cls, &lite_empty_page);
    f->avail[cls] = f->full[cls] = NULL;
  }
  lite_store_relaxed(&f->busy, 0);
  f->self = self;
  f->id = id;
  f->rr = id;
  f->hid = hid;
  f->handle = h;
  /* Blocks that reached the handle after its last front left go to their pages. */
  lite_handle_drain(h);
  lite_store_relaxed(&h->epoch, 0);
  lite_store_relaxed(&h->seen_epoch, 0);
  lite_store_relaxed(&h->seen_ticks, 0);
  lite_store_relaxed(&h->active_ms, lite_load_relaxed(&lite_decay_now));
  lite_store_release(&h->front, f);
  lite_store_release(&h->steal, LITE_STEAL_FREE);
  return f;
}

/* Gives the calling thread a front of its own (slow path of its first malloc). */
lite_front* lite_front_attach(void) {
  lite_front* f = lite_front_new();
  if (f == NULL) return NULL;
  lite_tls_front = f;
  if (lite_load_acquire(&lite_key_state) == 2) pthread_setspecific(lite_exit_key, f);
  lite_add_relaxed(&lite_stat.threads, 1);
  return f;
}
