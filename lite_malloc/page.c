/* Pages of blocks: one size class each, owned by one thread front.
 *
 * The owner allocates by popping page->free and frees its own blocks by pushing
 * there; both are plain loads and stores. Blocks are carved from the page a few
 * KiB at a time so untouched memory stays untouched. Other threads push into
 * page->xfree; the owner takes that list with one exchange when it runs short.
 *
 * A front keeps, per class, a circular list of pages that may have free blocks
 * (cur among them) and one of pages that had none when last looked at. A page on
 * the full list carries LITE_OWNER_FULL in its owner word, so the owner's first
 * free to it misses the fast path and puts it at the end of the available list
 * (reached after the pages already there, so it has time to gather more free
 * blocks before it is allocated from), and its xfree word is armed
 * (remote.c), so the first block another thread frees into it comes back to the
 * owner through its handle: no full page is ever scanned, and none is missed.
 * Pages whose blocks are all back are returned to their segment, except the
 * current one of each class. When a thread exits its pages with live blocks are
 * abandoned to their engine, where another thread of that engine adopts them.
 *
 * Every function here that changes a front's lists runs either on the owner
 * between lite_busy_begin and lite_busy_end, or on a thread that holds the
 * front's handle exclusively (reclaim.c, thread exit, fork). */
#include "lite_internal.h"

/* The two fronts that belong to no thread (front.c says when a thread has
 * them): defined at this layer because its slow paths tell them apart. */
/* The static fronts have no handle of their own; this one is always DEAD. */
static lite_handle lite_no_handle = {.steal = LITE_STEAL_DEAD};

lite_front lite_empty_front = {
    .handle = &lite_no_handle,
    .direct = {[0 ... LITE_SMALL_MAX / 8] = &lite_empty_page},
    .cur = {[0 ... LITE_CLASSES - 1] = &lite_empty_page},
};
lite_front lite_dying_front = {
    .handle = &lite_no_handle,
    .direct = {[0 ... LITE_SMALL_MAX / 8] = &lite_empty_page},
    .cur = {[0 ... LITE_CLASSES - 1] = &lite_empty_page},
};

/* Pushes a page whose owner left onto its engine's stack for its class, where
 * threads of that engine adopt it and trims look for it. */
void lite_engine_push(lite_page* page) {
  lite_engine* e = &lite_engines[lite_segment_of_page(page)->engine];
  lite_stack_push(&e->abandoned[page->cls], page, &e->retries);
  lite_store_release(&e->any_abandoned, true);
}

// -----------------------------------------------------------------------------
// Circular doubly linked lists of a front's pages
// -----------------------------------------------------------------------------
static void lite_list_push(lite_page** head, lite_page* p) {
  lite_page* h = *head;
  if (h == NULL) {
    p->next = p->prev = p;
  } else {
    p->next = h;
    p->prev = h->prev;
    h->prev->next = p;
    h->prev = p;
  }
  *head = p;
}

/* Inserts p at the end of the circular list: the head stays. */
static void lite_list_append(lite_page** head, lite_page* p) {
  lite_page* h = *head;
  lite_list_push(head, p);
  if (h != NULL) *head = h;
}

static void lite_list_remove(lite_page** head, lite_page* p) {
  if (p->next == p) {
    *head = NULL;
  } else {
    p->prev->next = p->next;
    p->next->prev = p->prev;
    if (*head == p) *head = p->next;
  }
  p->next = p->prev = NULL;
}

// -----------------------------------------------------------------------------
// One page
// -----------------------------------------------------------------------------
static size_t lite_page_slices(size_t cls) {
  size_t size = lite_class_size(cls);
  size_t min_blocks = cls < LITE_SMALL_CLASSES ? 8 : 4;
  size_t slices = (size * min_blocks + LITE_SLICE_SIZE - 1) / LITE_SLICE_SIZE;
  if (slices < 1) slices = 1;
  if (slices > LITE_SLICES - 1) slices = LITE_SLICES - 1;
  return slices;
}

static void lite_page_init(lite_page* page, lite_front* f, size_t cls) {
  lite_segment* seg = lite_segment_of_page(page);
  size_t size = lite_class_size(cls);
  /* Atomic stores: lite_malloc_owns may read these of any page at any time. */
  LITE_FIELD_SET(page->start, (uintptr_t)seg + ((uintptr_t)page->slice_index << LITE_SLICE_SHIFT));
  LITE_FIELD_SET(page->block_size, (uint32_t)size);
  LITE_FIELD_SET(page->capacity, (uint32_t)(((size_t)page->slice_count << LITE_SLICE_SHIFT) / size));
  page->reserved = 0;
  LITE_COUNTER_SET(page->limit, 0);
  LITE_FIELD_SET(page->magic, UINT64_MAX / size + 1);
  LITE_FIELD_SET(page->magic_bound, UINT64_MAX / size + 1);
  page->free = NULL;
  LITE_COUNTER_SET(page->used, 0);
  LITE_COUNTER_SET(page->frees, 0);
  LITE_FIELD_SET(page->cls, (uint16_t)cls);
  LITE_FIELD_SET(page->kind, LITE_PAGE_BLOCKS);
  page->next = page->prev = NULL;
  lite_store_relaxed(&page->xfree, 0);
  lite_store_relaxed(&page->pending, 0);
  lite_store_relaxed(&page->owner, (uintptr_t)f);
  for (size_t j = page->slice_index; j < page->slice_index + page->slice_count; j++)
    lite_store_release(&seg->slice_page[j], page);
}

/* Carves 4 KiB worth of new blocks (at least 8, at most what is left) onto
 * page->free. */
static bool lite_page_extend(lite_page* page) {
  uint32_t avail = page->capacity - page->reserved;
  if (avail == 0) return false;
  uint32_t size = page->block_size, n = 4096 / size;
  if (n == 0) n = 1;
  if (n > avail) n = avail;
  uintptr_t first = page->start + (uintptr_t)page->reserved * size;
  uintptr_t last = first + (uintptr_t)(n - 1) * size;
  for (uintptr_t a = first; a < last; a += size) {
    lite_set_next((lite_block*)a, (lite_block*)(a + size));
    lite_block_mark_free(page, (lite_block*)a);
  }
  lite_set_next((lite_block*)last, page->free);
  lite_block_mark_free(page, (lite_block*)last);
  page->free = (lite_block*)first;
  page->reserved += n;
  LITE_COUNTER_SET(page->limit, (size_t)page->reserved * size);
  return true;
}

/* Moves the blocks other threads freed into page->free: O(1) when the owner's
 * list is empty (the usual case: it collects when it runs out). */
void lite_page_collect(lite_page* page) {
  uint64_t x = lite_load_relaxed(&page->xfree);
  if (x == 0 || (uint32_t)x == LITE_XFREE_ARMED) return;
  uint64_t taken = lite_exchange(&page->xfree, 0, memory_order_acquire);
  uint32_t n = (uint32_t)(taken >> 32);
  lite_block* head = (lite_block*)((uintptr_t)lite_segment_of_page(page) + (uint32_t)taken);
  if (page->free != NULL) {
    lite_block* tail = head;
    for (lite_block* next; (next = lite_next(tail)) != NULL; tail = next) {
      if (LITE_MALLOC_HARDENED && !lite_page_is_block(page, (uintptr_t)next, page->limit))
        lite_fatal("corrupted free list", tail, "link leaves its page");
    }
    lite_set_next(tail, page->free);
  }
  page->free = head;
  LITE_COUNTER_SET(page->used, page->used - n);
  LITE_COUNTER_SET(page->frees, page->frees + n);
}

static bool lite_page_has_room(const lite_page* page) {
  return page->free != NULL || page->reserved < page->capacity;
}

static uint64_t lite_armed(const lite_front* f) { return (uint64_t)f->hid << 32 | LITE_XFREE_ARMED; }

/* Moves a page that has no room left to the full list, arming its xfree word.
 * False (and nothing moved) when other threads' frees came first: the caller
 * collects them instead. */
static bool lite_page_to_full(lite_front* f, lite_page* page) {
  uint64_t empty = 0;
  LITE_TEST_POINT(LITE_HOOK_ARM);
  if (!atomic_compare_exchange_strong_explicit(&page->xfree, &empty, lite_armed(f),
                                               memory_order_acq_rel, memory_order_relaxed))
    return false;
  lite_list_remove(&f->avail[page->cls], page);
  lite_list_push(&f->full[page->cls], page);
  lite_store_release(&page->owner, (uintptr_t)f | LITE_OWNER_FULL);
  return true;
}

/* Takes back the arming of a full page (it may already have been taken by a
 * remote free, whose block is then on its way to the handle). */
static void lite_page_disarm(lite_front* f, lite_page* page) {
  uint64_t armed = lite_armed(f);
  atomic_compare_exchange_strong_explicit(&page->xfree, &armed, 0, memory_order_acq_rel,
                                          memory_order_relaxed);
}

void lite_page_to_avail(lite_front* f, lite_page* page) {
  lite_page_disarm(f, page);
  lite_list_remove(&f->full[page->cls], page);
  lite_list_append(&f->avail[page->cls], page);
  lite_store_release(&page->owner, (uintptr_t)f);
}

/* Gives a page of front f whose blocks are all free back to its segment. */
void lite_page_retire(lite_front* f, lite_page* page, bool aged) {
  uintptr_t owner = lite_load_relaxed(&page->owner);
  if (owner & LITE_OWNER_FULL) {
    lite_page_disarm(f, page);
    lite_list_remove(&f->full[page->cls], page);
  } else {
    lite_list_remove(&f->avail[page->cls], page);
  }
  if (f->cur[page->cls] == page) lite_front_set_cur(f, page->cls, &lite_empty_page);
  lite_page_collect(page);
  if (aged)
    lite_slices_release_aged(page);
  else
    lite_slices_release(page);
}

// -----------------------------------------------------------------------------
// Finding a page with free blocks
// -----------------------------------------------------------------------------
static lite_page* lite_page_find(lite_front* f, size_t cls) {
  lite_page* p;
  lite_front_take_delayed(f, true);
  while ((p = f->avail[cls]) != NULL) {
    /* A page with blocks of its own keeps its remote list for later: taking
     * it now would mean walking it to splice the two lists. */
    if (p->free == NULL) lite_page_collect(p);
    if (lite_page_has_room(p)) return p;
    if (!lite_page_to_full(f, p)) lite_page_collect(p);
  }
  return NULL;
}

/* A page from the engine: one abandoned by an exited thread, else a fresh one. */
static lite_page* lite_page_acquire(lite_front* f, size_t cls) {
  uint32_t e = lite_front_engine(f);
  lite_page* page;
  while ((page = lite_stack_pop(&lite_engines[e].abandoned[cls], &lite_engines[e].retries)) != NULL) {
    lite_store_relaxed(&page->owner, (uintptr_t)f);
    lite_page_collect(page);
    lite_list_push(&f->avail[cls], page);
    if (lite_page_has_room(page)) return page;
    if (!lite_page_to_full(f, page)) {
      lite_page_collect(page);
      return page;
    }
  }
  page = lite_slices_claim(e, lite_page_slices(cls));
  if (page == NULL) return NULL;
  lite_page_init(page, f, cls);
  lite_list_push(&f->avail[cls], page);
  return page;
}

static void* lite_page_malloc_owned(lite_front* f, size_t cls) {
  lite_page* page = f->cur[cls];
  if (page != &lite_empty_page) {
    lite_page_collect(page);
    if (page->free == NULL && !lite_page_extend(page)) {
      lite_front_set_cur(f, cls, &lite_empty_page);
      if (lite_page_to_full(f, page)) {
        page = &lite_empty_page;
      } else {
        lite_page_collect(page);
      }
    }
  }
  if (page == &lite_empty_page) {
    page = lite_page_find(f, cls);
    if (page == NULL) page = lite_page_acquire(f, cls);
    if (page == NULL) {
      lite_front_set_cur(f, cls, &lite_empty_page);
      return NULL;
    }
    if (page->free == NULL) lite_page_extend(page);
  }
  lite_front_set_cur(f, cls, page);
  return lite_page_pop(page);
}

void* lite_page_malloc_slow(lite_front* f, size_t cls) {
  if (!lite_busy_begin(f)) return lite_page_malloc_frontless(f, cls);
  void* p = lite_page_malloc_owned(f, cls);
  lite_busy_end(f);
  lite_decay_tick();
  return p;
}

/* Allocation without a front: a thread whose front a reclaimer holds, or one
 * that allocates after its front was released at exit. Takes a page from the
 * engine's stack (popping it makes it ours alone), or a fresh one, takes a
 * block and pushes the page back, owned by no one. */
void* lite_page_malloc_frontless(lite_front* f, size_t cls) {
  uint32_t e = f->id % LITE_MALLOC_ENGINES_COUNT;
  lite_engine* engine = &lite_engines[e];
  lite_page* page = lite_stack_pop(&engine->abandoned[cls], &engine->retries);
  if (page != NULL) {
    lite_page_collect(page);
    if (!lite_page_has_room(page)) {
      lite_engine_push(page);
      page = NULL;
    }
  }
  if (page == NULL) {
    page = lite_slices_claim(e, lite_page_slices(cls));
    if (page == NULL) return NULL;
    lite_page_init(page, NULL, cls);
  }
  if (page->free == NULL) lite_page_extend(page);
  void* p = lite_page_pop(page);
  lite_engine_push(page);
  return p;
}

// -----------------------------------------------------------------------------
// Frees that miss the fast path
// -----------------------------------------------------------------------------
/* The page's last block came home through the fast path: give it back unless
 * it is the current one. A reclaimer may have taken it meanwhile. */
void lite_page_unused(lite_front* f, lite_page* page) {
  if (!lite_busy_begin(f)) return;
  if (lite_load_relaxed(&page->owner) == (uintptr_t)f && page->kind == LITE_PAGE_BLOCKS &&
      page->used == 0 && f->cur[page->cls] != page)
    lite_page_retire(f, page, false);
  lite_busy_end(f);
}

/* A free by the owner to a page on its full list. While a reclaimer holds the
 * front the block takes the remote path, which is always safe. */
void lite_page_free_slow(lite_front* f, lite_page* page, lite_block* b) {
  if (!lite_busy_begin(f)) {
    lite_free_remote(page, b);
    return;
  }
  if (lite_block_marked_free(page, b)) lite_twice_check_owner(f, page, b);
  lite_page_push(page, b);
  LITE_COUNTER_SET(page->used, page->used - 1);
  if (page->used == 0 && f->cur[page->cls] != page) {
    lite_page_retire(f, page, false);
  } else if (lite_load_relaxed(&page->owner) & LITE_OWNER_FULL) {
    /* At the first free, so that the page's later frees take the fast path:
     * while it waited on the full list for more room, a third of the frees of
     * a program whose pages stay nearly full took this path. */
    lite_page_to_avail(f, page);
  }
  lite_busy_end(f);
}

// -----------------------------------------------------------------------------
// Thread exit and trimming
// -----------------------------------------------------------------------------
static void lite_page_abandon(lite_front* f, lite_page* page) {
  if (lite_load_relaxed(&page->owner) & LITE_OWNER_FULL) lite_page_disarm(f, page);
  lite_page_collect(page);
  if (page->used == 0) {
    lite_slices_release(page);
    return;
  }
  lite_store_release(&page->owner, 0);
  lite_engine_push(page);
}

/* Leaves every page of f to its engine (thread exit); the caller holds f. */
void lite_page_abandon_all(lite_front* f) {
  lite_front_take_delayed(f, true);
  for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
    lite_page* p;
    while ((p = f->avail[cls]) != NULL) {
      lite_list_remove(&f->avail[cls], p);
      lite_page_abandon(f, p);
    }
    while ((p = f->full[cls]) != NULL) {
      lite_list_remove(&f->full[cls], p);
      lite_page_abandon(f, p);
    }
    lite_front_set_cur(f, cls, &lite_empty_page);
  }
}

/* Retires every page on the list whose blocks are all free, except `keep`;
 * the owner also collects its pages' remote frees on the way (COLLECT); pages
 * of a front idle for a whole delay go back aged (AGED). */
bool lite_page_retire_free(lite_front* f, lite_page** head, lite_page* keep, unsigned how) {
  lite_page* p = *head;
  if (p == NULL) return false;
  bool any = false;
  lite_page* stop = p->prev;
  for (;;) {
    lite_page* next = p->next;
    bool last = (p == stop);
    if (how & LITE_RETIRE_COLLECT) lite_page_collect(p);
    if (p != keep && lite_page_all_free(p)) {
      lite_page_retire(f, p, (how & LITE_RETIRE_AGED) != 0);
      any = true;
    }
    if (last) return any;
    p = next;
  }
}

/* Returns the empty pages of the calling thread's own front f, current ones
 * included. */
bool lite_page_trim_own(lite_front* f) {
  if (f == &lite_empty_front || f == &lite_dying_front || !lite_busy_begin(f)) return false;
  bool any = false;
  lite_front_take_delayed(f, true);
  for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
    any |= lite_page_retire_free(f, &f->avail[cls], NULL, LITE_RETIRE_COLLECT);
    any |= lite_page_retire_free(f, &f->full[cls], NULL, 0);
  }
  lite_busy_end(f);
  return any;
}

bool lite_page_trim_engines(bool all, bool background) {
  (void)all, (void)background; /* abandoned pages are looked at once: they are no one's */
  bool any = false;
  /* Only engines that had pages abandoned since the last trim are scanned. A
   * push racing with the exchange sets the flag again for the next trim. */
  for (size_t e = 0; e < LITE_MALLOC_ENGINES_COUNT; e++) {
    lite_engine* engine = &lite_engines[e];
    if (!lite_load_relaxed(&engine->any_abandoned) ||
        !lite_exchange(&engine->any_abandoned, false, memory_order_acquire))
      continue;
    bool kept = false;
    for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
      _Atomic(uint64_t)* stack = &engine->abandoned[cls];
      _Atomic(size_t)* retries = &engine->retries;
      if ((uint32_t)lite_load_relaxed(stack) == 0) continue;
      lite_page *keep = NULL, *p;
      while ((p = lite_stack_pop(stack, retries)) != NULL) {
        lite_page_collect(p);
        if (p->used == 0) {
          lite_slices_release(p);
          any = true;
        } else {
          p->next = keep;
          keep = p;
        }
      }
      kept |= keep != NULL;
      while (keep != NULL) {
        p = keep;
        keep = p->next;
        lite_stack_push(stack, p, retries);
      }
    }
    if (kept) lite_store_release(&engine->any_abandoned, true);
  }
  return any;
}
