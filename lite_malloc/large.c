/* Large blocks: anything above the largest superblock class, or aligned beyond
 * 64 KiB, gets a mapping of its own. The mapping starts on a 4 MiB boundary with
 * a one-page header (a lite_segment of kind LARGE) so the radix map finds it;
 * the block starts at max(4 KiB, alignment) past the header, and a gap of 64 KiB
 * or more between the two is unmapped again. */
#include <string.h>
#include "lite_internal.h"

#define LITE_LARGE_HEADER ((size_t)LITE_OS_PAGE)
/* Hardened builds end every large block with an inaccessible guard page. */
#define LITE_LARGE_GUARD ((size_t)(LITE_MALLOC_HARDENED ? LITE_OS_PAGE : 0))

static size_t lite_round_page(size_t n) { return (n + LITE_OS_PAGE - 1) & ~(size_t)(LITE_OS_PAGE - 1); }

/* The last large blocks freed, so that freeing one again reads "double free"
 * rather than "not allocated by lite_malloc" (its mapping is gone by then). */
#define LITE_LARGE_RECENT 64
static _Atomic(uintptr_t) lite_large_recent[LITE_LARGE_RECENT];
static _Atomic(unsigned) lite_large_recent_next;

bool lite_large_recently_freed(const void* p) {
  for (size_t i = 0; i < LITE_LARGE_RECENT; i++)
    if (lite_load_relaxed(&lite_large_recent[i]) == (uintptr_t)p) return true;
  return false;
}

void* lite_large_alloc(size_t size, size_t align) {
  if (align < LITE_OS_PAGE) align = LITE_OS_PAGE;
  size_t body = lite_round_page(size ? size : 1);
  if (body < size || body > PTRDIFF_MAX - align - LITE_SEGMENT_SIZE) return NULL;
  size_t offset = align;  /* from the header to the block */
  size_t base_align = align > LITE_SEGMENT_SIZE ? align : LITE_SEGMENT_SIZE;
  uint8_t* base = lite_os_map_aligned(offset + body + LITE_LARGE_GUARD, base_align);
  if (base == NULL) return NULL;
  if (LITE_LARGE_GUARD && !lite_os_protect_none(base + offset + body, LITE_LARGE_GUARD)) {
    lite_os_unmap(base, offset + body + LITE_LARGE_GUARD);
    return NULL;
  }
  lite_segment* seg = (lite_segment*)base;
  uintptr_t user = (uintptr_t)base + offset, end = user + body;
  for (size_t i = 0; i < LITE_SLICES; i++) atomic_init(&seg->slice_page[i], &lite_empty_page);
  seg->kind = LITE_SEGMENT_LARGE;
  seg->large_user = user;
  seg->large_end = end;
  seg->large_gap = 0;
  if (offset - LITE_LARGE_HEADER >= LITE_SLICE_SIZE &&
      lite_os_unmap(base + LITE_LARGE_HEADER, offset - LITE_LARGE_HEADER))
    seg->large_gap = (uintptr_t)base + LITE_LARGE_HEADER;
  if (!lite_map_register((uintptr_t)base, end, seg)) {
    if (seg->large_gap) {
      lite_os_unmap(base, LITE_LARGE_HEADER);
      lite_os_unmap((void*)user, body + LITE_LARGE_GUARD);
    } else {
      lite_os_unmap(base, offset + body + LITE_LARGE_GUARD);
    }
    return NULL;
  }
  for (size_t i = 0; i < LITE_LARGE_RECENT; i++) {
    uintptr_t old = user;
    atomic_compare_exchange_strong_explicit(&lite_large_recent[i], &old, 0, memory_order_relaxed,
                                            memory_order_relaxed);
  }
  lite_add_relaxed(&lite_stat.large_blocks, 1);
  lite_add_relaxed(&lite_stat.large_bytes, body);
  lite_add_relaxed(&lite_stat.large_allocs, 1);
  return (void*)user;
}

static void lite_large_check(lite_segment* seg, const void* p, const char* what) {
  if ((uintptr_t)p != seg->large_user) lite_fatal(what, p, "not the start of a block");
}

void lite_large_free(lite_segment* seg, void* p) {
  lite_large_check(seg, p, "invalid free");
  unsigned slot = lite_add_relaxed(&lite_large_recent_next, 1) % LITE_LARGE_RECENT;
  lite_store_relaxed(&lite_large_recent[slot], (uintptr_t)p);
  uintptr_t base = (uintptr_t)seg, user = seg->large_user, end = seg->large_end;
  lite_map_unregister(base, end);
  lite_sub_relaxed(&lite_stat.large_blocks, 1);
  lite_sub_relaxed(&lite_stat.large_bytes, end - user);
  lite_add_relaxed(&lite_stat.large_frees, 1);
  if (seg->large_gap) {
    lite_os_unmap((void*)user, end - user + LITE_LARGE_GUARD);
    lite_os_unmap((void*)base, LITE_LARGE_HEADER);
  } else {
    lite_os_unmap((void*)base, end - base + LITE_LARGE_GUARD);
  }
}

size_t lite_large_usable(lite_segment* seg, const void* p) {
  lite_large_check(seg, p, "malloc_usable_size");
  return seg->large_end - seg->large_user;
}

/* Shrinks in place (unmapping a tail of 64 KiB or more), grows in place when the
 * kernel can extend the mapping, and otherwise moves. */
void* lite_large_realloc(lite_segment* seg, void* p, size_t size) {
  lite_large_check(seg, p, "invalid realloc");
  uintptr_t user = seg->large_user, end = seg->large_end;
  size_t usable = end - user, body = lite_round_page(size);
  if (size <= LITE_MEDIUM_MAX) {
    void* q = lite_malloc(size);
    if (q == NULL) return NULL;
    memcpy(q, p, size < usable ? size : usable);
    lite_large_free(seg, p);
    return q;
  }
  if (LITE_LARGE_GUARD && body <= usable / 2) goto move; /* hardened: keep the guard page */
  if (body <= usable) {
    uintptr_t new_end = user + body;
    if (!LITE_LARGE_GUARD && usable - body >= LITE_SLICE_SIZE && lite_os_unmap((void*)new_end, end - new_end)) {
      uintptr_t first_unit = (new_end + LITE_SEGMENT_SIZE - 1) & ~(uintptr_t)(LITE_SEGMENT_SIZE - 1);
      lite_map_unregister(first_unit, end);
      seg->large_end = new_end;
      lite_sub_relaxed(&lite_stat.large_bytes, end - new_end);
    }
    return p;
  }
  if (!LITE_LARGE_GUARD && body >= size && lite_os_grow_inplace(p, usable, body)) {
    uintptr_t new_end = user + body;
    uintptr_t first_unit = (end + LITE_SEGMENT_SIZE - 1) & ~(uintptr_t)(LITE_SEGMENT_SIZE - 1);
    if (lite_map_register(first_unit, new_end, seg)) {
      seg->large_end = new_end;
      lite_add_relaxed(&lite_stat.large_bytes, body - usable);
      return p;
    }
    lite_os_unmap((void*)end, new_end - end);
  }
move:;
  void* q = lite_malloc(size);
  if (q == NULL) return NULL;
  memcpy(q, p, size < usable ? size : usable);
  lite_large_free(seg, p);
  return q;
}
