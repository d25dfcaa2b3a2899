/* Thread fronts and engines.
 *
 * Every thread starts with lite_tls_front pointing at lite_empty_front, whose
 * pages are all &lite_empty_page: its first malloc misses the fast path, and the
 * slow path attaches a real front here. So the fast paths never ask "is this
 * thread set up?". A pthread key serves only to hear about thread exit; the
 * front's pages are then retired or abandoned to their engines, and the front
 * itself goes on a lock-free stack for the next thread. */
#include <pthread.h>
#include "lite_internal.h"

lite_front lite_empty_front = {
    .direct = {[0 ... LITE_SMALL_MAX / 8] = &lite_empty_page},
    .cur = {[0 ... LITE_CLASSES - 1] = &lite_empty_page},
};

__thread lite_front* lite_tls_front LITE_TLS_MODEL = &lite_empty_front;

lite_engine lite_engines[LITE_MALLOC_ENGINES_COUNT];

static _Atomic(uint64_t) lite_free_fronts;  /* stack of the pages holding spare fronts */
static _Atomic(uint32_t) lite_front_count;  /* fronts ever made */
static pthread_key_t lite_exit_key;
static _Atomic(int) lite_key_state;         /* 0: none, 1: being made, 2: ready */

static void lite_front_detach(void* arg) {
  lite_front* f = arg;
  lite_page_abandon_all(f);
  lite_tls_front = &lite_empty_front;
  lite_sub_relaxed(&lite_stat.threads, 1);
  lite_stack_push(&lite_free_fronts, f->self, &lite_stat.retries);
}

static void lite_process_init(void) {
  int state = 0;
  if (atomic_compare_exchange_strong_explicit(&lite_key_state, &state, 1, memory_order_acq_rel,
                                              memory_order_acquire)) {
    int ok = pthread_key_create(&lite_exit_key, lite_front_detach) == 0;
    lite_store_release(&lite_key_state, ok ? 2 : 3);
  }
}

__attribute__((constructor)) static void lite_init_at_load(void) { lite_process_init(); }

static lite_front* lite_front_new(void) {
  uint32_t id = lite_add_relaxed(&lite_front_count, 1);
  size_t slices = (sizeof(lite_front) + LITE_SLICE_SIZE - 1) / LITE_SLICE_SIZE;
  lite_page* self = lite_slices_claim(id % LITE_MALLOC_ENGINES_COUNT, slices);
  if (self == NULL) return NULL;
  lite_segment* seg = lite_segment_of_page(self);
  LITE_FIELD_SET(self->kind, LITE_PAGE_FRONT);
  self->start = (uintptr_t)seg + ((uintptr_t)self->slice_index << LITE_SLICE_SHIFT);
  self->limit = 0;
  lite_store_relaxed(&self->owner, 0);
  for (size_t j = self->slice_index; j < self->slice_index + slices; j++)
    lite_store_release(&seg->slice_page[j], self);
  lite_front* f = (lite_front*)self->start;
  for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
    lite_front_set_cur(f, cls, &lite_empty_page);
    f->avail[cls] = f->full[cls] = NULL;
  }
  atomic_init(&f->delayed, 0);
  f->self = self;
  f->id = id;
  f->rr = id;
  return f;
}

/* Gives the calling thread a front of its own (slow path of its first malloc). */
lite_front* lite_front_attach(void) {
  lite_process_init();
  lite_page* spare = lite_stack_pop(&lite_free_fronts, &lite_stat.retries);
  lite_front* f = spare != NULL ? (lite_front*)spare->start : lite_front_new();
  if (f == NULL) return NULL;
  lite_tls_front = f;
  if (lite_load_acquire(&lite_key_state) == 2) pthread_setspecific(lite_exit_key, f);
  lite_add_relaxed(&lite_stat.threads, 1);
  return f;
}

/* The engine this front visits now: its pinned one, or the next in turn. */
uint32_t lite_front_engine(lite_front* f) {
#if LITE_MALLOC_USE_PERTHREAD_ENGINES
  return f->id % LITE_MALLOC_ENGINES_COUNT;
#else
  return f->rr++ % LITE_MALLOC_ENGINES_COUNT;
#endif
}
