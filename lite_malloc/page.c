/* Pages of blocks: one size class each, owned by one thread front.
 *
 * The owner allocates by popping page->free and frees its own blocks by pushing
 * there; both are plain loads and stores. Blocks are carved from the page a few
 * KiB at a time so untouched memory stays untouched. Other threads push into
 * page->xfree; the owner takes that list with one exchange when it runs short.
 *
 * A front keeps, per class, a circular list of pages that may have free blocks
 * (cur among them) and one of pages that had none when last looked at. A page on
 * the full list carries LITE_OWNER_FULL in its owner word, so the owner's next
 * free to it misses the fast path and moves it back. Pages whose blocks are all
 * back are returned to their segment, except the current one of each class.
 * When a thread exits its pages with live blocks are abandoned to their engine,
 * where another thread of that engine adopts them. */
#include "lite_internal.h"

// -----------------------------------------------------------------------------
// Lock-free stacks of pages: (tag << 32) | page id, so ABA would need 2^32
// operations between one thread's read and its CAS.
// -----------------------------------------------------------------------------
/* Failed CAS attempts are added to *retries (an engine's contention count). */
void lite_stack_push(_Atomic(uint64_t)* stack, lite_page* page, _Atomic(size_t)* retries) {
  uint64_t old = lite_load_relaxed(stack), id = lite_page_id(page);
  for (;;) {
    lite_store_relaxed(&page->stack_next, (uint32_t)old);
    if (lite_cas_weak(stack, &old, ((old >> 32) + 1) << 32 | id, memory_order_release,
                      memory_order_relaxed))
      return;
    lite_add_relaxed(retries, 1);
  }
}

lite_page* lite_stack_pop(_Atomic(uint64_t)* stack, _Atomic(size_t)* retries) {
  uint64_t old = lite_load_acquire(stack);
  for (;;) {
    if ((uint32_t)old == 0) return NULL;
    lite_page* page = lite_page_from_id((uint32_t)old);
    uint64_t next = lite_load_relaxed(&page->stack_next);
    if (lite_cas_weak(stack, &old, ((old >> 32) + 1) << 32 | next, memory_order_acquire,
                      memory_order_acquire))
      return page;
    lite_add_relaxed(retries, 1);
  }
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
  page->start = (uintptr_t)seg + ((uintptr_t)page->slice_index << LITE_SLICE_SHIFT);
  page->block_size = (uint32_t)size;
  page->capacity = (uint32_t)(((size_t)page->slice_count << LITE_SLICE_SHIFT) / size);
  page->reserved = 0;
  page->limit = 0;
  page->magic = UINT64_MAX / size + 1;
  page->free = NULL;
  LITE_COUNTER_SET(page->used, 0);
  LITE_COUNTER_SET(page->frees, 0);
  LITE_FIELD_SET(page->cls, (uint16_t)cls);
  LITE_FIELD_SET(page->kind, LITE_PAGE_BLOCKS);
  page->next = page->prev = NULL;
  lite_store_relaxed(&page->xfree, 0);
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
  for (uintptr_t a = first; a < last; a += size) lite_set_next((lite_block*)a, (lite_block*)(a + size));
  lite_set_next((lite_block*)last, page->free);
  page->free = (lite_block*)first;
  page->reserved += n;
  page->limit = (size_t)page->reserved * size;
  return true;
}

/* Moves the blocks other threads freed into page->free: O(1) when the owner's
 * list is empty (the usual case: it collects when it runs out). */
static void lite_page_collect(lite_page* page) {
  if (lite_load_relaxed(&page->xfree) == 0) return;
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

static void lite_page_to_full(lite_front* f, lite_page* page) {
  lite_list_remove(&f->avail[page->cls], page);
  lite_list_push(&f->full[page->cls], page);
  lite_store_relaxed(&page->owner, (uintptr_t)f | LITE_OWNER_FULL);
}

static void lite_page_to_avail(lite_front* f, lite_page* page) {
  lite_list_remove(&f->full[page->cls], page);
  lite_list_push(&f->avail[page->cls], page);
  lite_store_relaxed(&page->owner, (uintptr_t)f);
}

static void lite_page_retire(lite_front* f, lite_page* page) {
  lite_list_remove(&f->avail[page->cls], page);
  if (f->cur[page->cls] == page) lite_front_set_cur(f, page->cls, &lite_empty_page);
  lite_slices_release(page);
}

// -----------------------------------------------------------------------------
// Remote frees into full pages
// -----------------------------------------------------------------------------
/* Called by a thread that freed into `page` of another front `owner` (tagged
 * full): puts the page once on that front's delayed list, so the owner moves it
 * back to its available pages instead of mapping new ones. The owner takes the
 * whole list with one exchange, so a push-only CAS is ABA-free. A stale push
 * (the owner moved or abandoned the page meanwhile) is skipped by the owner. */
void lite_page_notify_owner(lite_page* page, uintptr_t owner) {
  if (lite_load_relaxed(&page->delayed) != 0) return;
  uint32_t idle = 0;
  if (!atomic_compare_exchange_strong_explicit(&page->delayed, &idle, 1, memory_order_relaxed,
                                               memory_order_relaxed))
    return;
  lite_front* f = (lite_front*)(owner & ~LITE_OWNER_FULL);
  uint32_t head = lite_load_relaxed(&f->delayed), id = lite_page_id(page);
  do {
    lite_store_relaxed(&page->delayed_next, head);
  } while (!lite_cas_weak(&f->delayed, &head, id, memory_order_release, memory_order_relaxed));
}

/* Moves the full pages that others freed into back to the available lists. */
static void lite_page_take_delayed(lite_front* f) {
  if (lite_load_relaxed(&f->delayed) == 0) return;
  uint32_t id = lite_exchange(&f->delayed, 0, memory_order_acquire);
  while (id != 0) {
    lite_page* p = lite_page_from_id(id);
    id = lite_load_relaxed(&p->delayed_next);
    lite_store_relaxed(&p->delayed, 0);
    if (lite_load_relaxed(&p->owner) != ((uintptr_t)f | LITE_OWNER_FULL)) continue;
    lite_page_collect(p);
    if (lite_page_has_room(p)) lite_page_to_avail(f, p);
  }
}

// -----------------------------------------------------------------------------
// Finding a page with free blocks
// -----------------------------------------------------------------------------
static lite_page* lite_page_find(lite_front* f, size_t cls) {
  lite_page* p;
  lite_page_take_delayed(f);
  while ((p = f->avail[cls]) != NULL) {
    lite_page_collect(p);
    if (lite_page_has_room(p)) return p;
    lite_page_to_full(f, p);
  }
  /* Look at a few full pages for remote frees, rotating so all get their turn. */
  for (int k = 0; k < 4 && (p = f->full[cls]) != NULL; k++) {
    if (lite_load_relaxed(&p->xfree) != 0) {
      lite_page_collect(p);
      lite_page_to_avail(f, p);
      return p;
    }
    f->full[cls] = p->next;
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
    lite_page_to_full(f, page);
  }
  page = lite_slices_claim(e, lite_page_slices(cls));
  if (page == NULL) return NULL;
  lite_page_init(page, f, cls);
  lite_list_push(&f->avail[cls], page);
  return page;
}

void* lite_page_malloc_slow(lite_front* f, size_t cls) {
  lite_page* page = f->cur[cls];
  if (page != &lite_empty_page) {
    lite_page_collect(page);
    if (page->free == NULL && !lite_page_extend(page)) {
      lite_page_to_full(f, page);
      page = &lite_empty_page;
    }
  }
  if (page == &lite_empty_page) {
    page = lite_page_find(f, cls);
    if (page == NULL) page = lite_page_acquire(f, cls);
    if (page == NULL) {
      lite_front_set_cur(f, cls, &lite_empty_page);
      return NULL;
    }
    lite_front_set_cur(f, cls, page);
    if (page->free == NULL) lite_page_extend(page);
  }
  return lite_page_pop(page);
}

// -----------------------------------------------------------------------------
// Frees that miss the fast path
// -----------------------------------------------------------------------------
/* The page's last block came home: give it back unless it is the current one. */
void lite_page_unused(lite_front* f, lite_page* page) {
  if (f->cur[page->cls] != page) lite_page_retire(f, page);
}

/* A free by the owner to a page on its full list. */
void lite_page_free_slow(lite_front* f, lite_page* page, lite_block* b) {
  if (lite_load_relaxed(&page->owner) & LITE_OWNER_FULL) lite_page_to_avail(f, page);
  lite_page_push(page, b);
  LITE_COUNTER_SET(page->used, page->used - 1);
  if (page->used == 0) lite_page_unused(f, page);
}

// -----------------------------------------------------------------------------
// Thread exit and trimming
// -----------------------------------------------------------------------------
static void lite_page_abandon(lite_page* page) {
  lite_page_collect(page);
  if (page->used == 0) {
    lite_slices_release(page);
    return;
  }
  lite_store_release(&page->owner, 0);
  lite_engine* e = &lite_engines[lite_segment_of_page(page)->engine];
  lite_stack_push(&e->abandoned[page->cls], page, &e->retries);
  lite_store_release(&e->any_abandoned, true);
}

void lite_page_abandon_all(lite_front* f) {
  lite_page_take_delayed(f);
  for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
    lite_page* p;
    while ((p = f->avail[cls]) != NULL) {
      lite_list_remove(&f->avail[cls], p);
      lite_page_abandon(p);
    }
    while ((p = f->full[cls]) != NULL) {
      lite_list_remove(&f->full[cls], p);
      lite_page_abandon(p);
    }
    lite_front_set_cur(f, cls, &lite_empty_page);
  }
}

/* Returns the empty pages of front f (may be &lite_empty_front) and the empty
 * abandoned pages of every engine to their segments. */
bool lite_page_trim(lite_front* f) {
  bool any = false;
  if (f != &lite_empty_front) {
    for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
      lite_page* p = f->avail[cls];
      if (p == NULL) continue;
      lite_page* stop = p->prev;
      for (;;) {
        lite_page* next = p->next;
        bool last = (p == stop);
        lite_page_collect(p);
        if (p->used == 0) {
          lite_page_retire(f, p);
          any = true;
        }
        if (last) break;
        p = next;
      }
    }
  }
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
