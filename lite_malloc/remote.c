/* Frees from threads that do not own the page, and how the owner hears of them.
 *
 * A remote free pushes the block onto the page's xfree word with one CAS. The
 * owner takes that list whenever it looks at the page, which it does for every
 * page on its available lists. Pages on its full lists it never scans: before
 * moving a page there the owner arms the word (lite_page_to_full: a CAS from
 * empty to "armed by handle h", which fails if any remote free came first). The
 * remote free that finds the word armed sets it back to empty and, instead of
 * pushing there, hands its block to handle h. Both sides act on the one word by
 * CAS, so their order is total: either the owner saw the free (its CAS failed)
 * or the freer saw the arming (and delivers), and no page whose blocks come
 * home can be missed. Delivered blocks wait on the handle's list, counted in
 * their page's `pending`, until the owner (or a reclaimer holding the front)
 * takes the list; a block delivered to a handle whose front has gone is pushed
 * into its page's xfree like any remote free.
 *
 * Handles never move and are never unmapped (handle.c), which is what makes it
 * safe for a freer to write to one at any time. */
#include "lite_internal.h"

static void lite_deliver(uint32_t hid, lite_page* page, lite_block* b) {
  lite_handle* h = lite_handle_at(hid);
  lite_add_relaxed(&page->pending, 1);
  lite_block* head = lite_load_relaxed(&h->delayed);
  do {
    lite_set_next(b, head);
  } while (!lite_cas_weak(&h->delayed, &head, b, memory_order_release, memory_order_relaxed));
}

/* Pushes a block that has passed the free checks onto its page's xfree. */
void lite_xfree_push(lite_page* page, lite_block* b) {
  uintptr_t seg_base = (uintptr_t)lite_segment_of_page(page);
  uint64_t offset = (uintptr_t)b - seg_base;
  uint64_t head = lite_load_relaxed(&page->xfree);
  lite_block_mark_free(page, b);
  for (;;) {
    if ((uint32_t)head == LITE_XFREE_ARMED) {
      if (lite_cas_weak(&page->xfree, &head, 0, memory_order_acquire, memory_order_relaxed)) {
        lite_deliver((uint32_t)(head >> 32), page, b);
        return;
      }
      continue;
    }
    lite_set_next(b, (uint32_t)head ? (lite_block*)(seg_base + (uint32_t)head) : NULL);
    LITE_TEST_POINT(LITE_HOOK_REMOTE_PUSH);
    if (lite_cas_weak(&page->xfree, &head, ((head >> 32) + 1) << 32 | offset, memory_order_release,
                      memory_order_relaxed))
      break;
  }
  /* A page nobody owns whose blocks are now all free: tell the trims. */
  if (lite_load_relaxed(&page->owner) == 0 &&
      (head >> 32) + 1 >= LITE_COUNTER_GET(page->used)) {
    lite_engine* e = &lite_engines[lite_segment_of_page(page)->engine];
    if (!lite_load_relaxed(&e->any_abandoned)) lite_store_release(&e->any_abandoned, true);
  }
}

void lite_free_remote(lite_page* page, lite_block* b) {
  if (lite_block_marked_free(page, b)) lite_twice_check_remote(page, b);
  lite_hardened_on_free(page, b);
  lite_xfree_push(page, b);
}

/* Frees a delivered block into a full page of front f, on behalf of the owner
 * (by_owner) or of a thread that holds f; anywhere else (f NULL, not f's
 * page, not full while f's owner may be freeing into it) by its xfree. The
 * block goes in before the page leaves the full list: once it is on an
 * available list the owner's own frees take the fast path into it again. */
static void lite_take_block(lite_front* f, lite_page* page, lite_block* b, bool by_owner) {
  uintptr_t owner = lite_load_relaxed(&page->owner);
  lite_sub_relaxed(&page->pending, 1);
  if (f == NULL || (owner & ~LITE_OWNER_FULL) != (uintptr_t)f ||
      (!by_owner && !(owner & LITE_OWNER_FULL))) {
    lite_xfree_push(page, b);
    return;
  }
  lite_set_next(b, page->free);
  page->free = b;
  LITE_COUNTER_SET(page->frees, page->frees + 1);
  LITE_COUNTER_SET(page->used, page->used - 1);
  if (page->used == 0 && f->cur[page->cls] != page) {
    lite_page_retire(f, page, false);
  } else if (owner & LITE_OWNER_FULL) {
    lite_page_to_avail(f, page);
  }
}

/* Takes every block delivered to handle h: into the pages of front f where
 * lite_take_block may (f NULL: none), the others to their pages' xfree. */
static void lite_handle_take(lite_handle* h, lite_front* f, bool by_owner) {
  if (lite_load_relaxed(&h->delayed) == NULL) return;
  lite_block* b = lite_exchange(&h->delayed, NULL, memory_order_acquire);
  while (b != NULL) {
    lite_block* next = lite_next(b);
    lite_take_block(f, lite_page_of((uintptr_t)b), b, by_owner);
    b = next;
  }
}

void lite_front_take_delayed(lite_front* f, bool by_owner) { lite_handle_take(f->handle, f, by_owner); }

/* Blocks delivered to a handle whose front is gone go to their pages. */
void lite_handle_drain(lite_handle* h) { lite_handle_take(h, NULL, false); }
