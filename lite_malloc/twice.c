/* Double frees, caught in every build.
 *
 * Every free block carries a key in its second word, the address of its page
 * descriptor: the owner's and remote pushes store it, carving stores it in
 * blocks not yet handed out, and malloc clears it. So a free that finds the
 * key in the block it is given is either a double free or a block whose user
 * data happens to hold the key (an address inside lite_malloc's own segment
 * headers, which programs never see: in practice only a copy of a free
 * block's bytes, or a stale key in a page carved again). Those frees,
 * and only those, leave the fast path and look for the block in the lists a
 * free block of its page can be on; finding it there is a double free:
 *   - the owner, inside its busy bracket (no reclaimer can hold the front):
 *     the page's own list, its remote-free list (others only prepend to it,
 *     and only the owner takes it) and its handle's delivered blocks. Exact.
 *   - any other thread: the page's two lists, which the owner may be taking
 *     and handing out meanwhile. Every link is checked to land on a carved
 *     block of the page before it is followed, and walks are bounded, so a
 *     stale list ends the search early (a double free missed), never a fault.
 * A block delivered to a full page's owner and freed again by another thread
 * is not seen (the handle's list belongs to the owner). The hardened build's
 * bitmap (hardened.c) catches that one too. */
#include "lite_internal.h"

__attribute__((noreturn)) static void lite_twice_fatal(lite_block* b) {
  lite_fatal("double free", b, "block is already free");
}

/* True when b is among the first `bound` blocks of the list at head, all of
 * which must be carved blocks of page (a link that is not ends the walk). */
static bool lite_list_holds(const lite_page* page, lite_block* head, lite_block* b, size_t bound) {
  size_t limit = LITE_COUNTER_GET(page->limit);
  for (lite_block* x = head; x != NULL && bound-- > 0; x = lite_next(x)) {
    if (x == b) return true;
    if (!lite_page_is_block(page, (uintptr_t)x, limit)) return false;
  }
  return false;
}

/* The head of the page's remote-free list (NULL if none or armed) and its count. */
static lite_block* lite_xfree_head(const lite_page* page, uint32_t* count) {
  uint64_t x = lite_load_acquire(&page->xfree);
  *count = lite_xfree_count(x);
  if (*count == 0) return NULL;
  return (lite_block*)((uintptr_t)lite_segment_of_page(page) + (uint32_t)x);
}

void lite_twice_check_owner(lite_front* f, lite_page* page, lite_block* b) {
  uint32_t remote;
  lite_block* head = lite_xfree_head(page, &remote);
  if (lite_list_holds(page, page->free, b, page->capacity) ||
      lite_list_holds(page, head, b, remote))
    lite_twice_fatal(b);
  /* Delivered blocks come from every full page of the front: only b's own
   * page counts, the others are passed over without a check of theirs. */
  size_t bound = (size_t)1 << 24;
  for (lite_block* x = lite_load_acquire(&f->handle->delayed); x != NULL && bound-- > 0;
       x = lite_next(x))
    if (x == b) lite_twice_fatal(b);
}

void lite_twice_check_remote(lite_page* page, lite_block* b) {
  uint32_t remote;
  lite_block* head = lite_xfree_head(page, &remote);
  if (lite_list_holds(page, head, b, remote)) lite_twice_fatal(b);
#if !LITE_TSAN_ON
  /* The owner's list is its own: read here without its consent, which
   * ThreadSanitizer rightly reports, so its builds leave it out. */
  lite_block* local = __atomic_load_n(&page->free, __ATOMIC_RELAXED);
  if (lite_list_holds(page, local, b, LITE_COUNTER_GET(page->capacity))) lite_twice_fatal(b);
#endif
}
