/* The public lite_* entry points.
 *
 * malloc's fast path: one TLS load, the class from the size, pop the current
 * page's free list. free's fast path: two radix-map loads find the page; if the
 * calling thread owns it and the pointer is the start of a carved block, push.
 * Everything else (first use of a thread, empty pages, frees from other threads,
 * medium and large sizes, bad pointers) leaves through a noinline slow path. */
#include <errno.h>
#include <string.h>
#include "lite_internal.h"

void lite_set_enomem(void) { errno = ENOMEM; }

// -----------------------------------------------------------------------------
// malloc and free
// -----------------------------------------------------------------------------
void* lite_malloc(size_t size) { return lite_malloc_fast(size); }

LITE_NOINLINE void* lite_malloc_generic(size_t size, lite_front* f) {
  void* p;
  if (size > LITE_SMALL_MAX && size <= LITE_MEDIUM_MAX) {  /* the fast path, for superblocks */
    lite_block* b = lite_slot_pop(f, &f->cur[lite_medium_class(size)]);
    if (LITE_LIKELY(b != NULL)) return b;
  }
  if (size > LITE_MEDIUM_MAX) {
    p = size > PTRDIFF_MAX ? NULL : lite_large_alloc(size, 0, false);
  } else {
    size_t cls = lite_class_of(size);
    if (f == &lite_empty_front) {
      lite_process_init();
      lite_front* mine = lite_front_attach();
      f = mine != NULL ? mine : &lite_dying_front;
    }
    p = f == &lite_dying_front ? lite_page_malloc_frontless(f, cls) : lite_page_malloc_slow(f, cls);
  }
  if (p == NULL) lite_set_enomem();
  return p;
}

/* The page descriptor of a block at p of segment seg (seg = lite_segment_of(p)),
 * or aborts naming `what`. */
static lite_page* lite_block_page_in(lite_segment* seg, const void* p, const char* what) {
  uintptr_t a = (uintptr_t)p;
  if (seg->kind != LITE_SEGMENT_PAGES || ((a ^ (uintptr_t)seg) >> LITE_SEGMENT_SHIFT) != 0)
    lite_fatal(what, p, "not allocated by lite_malloc");
  lite_page* page = lite_load_relaxed(&seg->slice_page[(a >> LITE_SLICE_SHIFT) & (LITE_SLICES - 1)]);
  if (page->kind != LITE_PAGE_BLOCKS) lite_fatal(what, p, "not allocated by lite_malloc");
  if (!lite_page_is_block(page, a, (size_t)page->capacity * page->block_size))
    lite_fatal(what, p, "not the start of a block");
  return page;
}

static lite_page* lite_block_page(const void* p, const char* what) {
  return lite_block_page_in(lite_segment_of((uintptr_t)p), p, what);
}

/* page: what the fast path found for p (lite_page_of). */
LITE_NOINLINE void lite_free_generic(void* p, lite_front* f, lite_page* page) {
  lite_segment* seg;
  if ((lite_load_relaxed(&page->owner) & ~LITE_OWNER_FULL) == (uintptr_t)f) {
    /* One of the caller's pages (full, or the block is marked free): no
     * second lookup. */
    seg = lite_segment_of_page(page);
  } else {
    if (p == NULL) return;
    seg = lite_segment_of((uintptr_t)p);
    if (seg->kind == LITE_SEGMENT_LARGE) {
      lite_large_free(seg, p);
      return;
    }
    if (seg->kind != LITE_SEGMENT_PAGES && lite_large_recently_freed(p))
      lite_fatal("double free", p, "large block already freed");
  }
  page = lite_block_page_in(seg, p, "invalid free");
  /* The owner carved the block before handing it out, and whoever frees it
   * got it after that: limit, which only grows, covers it. */
  if (!lite_page_is_block(page, (uintptr_t)p, LITE_COUNTER_GET(page->limit)))
    lite_fatal("invalid free", p, "block was never handed out");
  lite_block* b = p;
  if ((lite_load_relaxed(&page->owner) & ~LITE_OWNER_FULL) == (uintptr_t)f) {
    lite_page_free_slow(f, page, b);
    return;
  }
  /* Another thread's (or an abandoned) page: hand the block over. */
  lite_free_remote(page, b);
}

void lite_free(void* p) { lite_free_fast(p); }

/* Hardened builds check that a sized free names a size the block could have
 * been allocated with. A block stays in place when realloc shrinks it to more
 * than half, so for lite_free_sized that is (usable/2, usable]; an aligned block
 * was rounded up by at most its alignment (or a class step, or an OS page). */
static void lite_check_size(void* p, size_t size, size_t alignment) {
  if (!LITE_MALLOC_HARDENED || p == NULL) return;
  size_t usable = lite_malloc_usable_size(p), floor;
  if (alignment > 16) {
    /* Rounded up to the alignment, then to a class (4 KiB steps) or, for a
     * large block, to whole OS pages. */
    size_t grain = usable > LITE_MEDIUM_MAX ? lite_os_page_size() : LITE_MEDIUM_STEP;
    size_t step = alignment > grain ? alignment : grain;
    floor = usable > step ? usable - step : 0;
  } else {
    floor = usable <= 32 ? 0 : usable / 2;
  }
  if (size > usable || size < floor) lite_fatal("invalid sized free", p, "size does not match the block");
}

void lite_free_sized(void* p, size_t size) {
  lite_check_size(p, size, 0);
  lite_free(p);
}

void lite_free_aligned_sized(void* p, size_t alignment, size_t size) {
  lite_check_size(p, size, alignment);
  lite_free(p);
}

// -----------------------------------------------------------------------------
// calloc and realloc
// -----------------------------------------------------------------------------
void* lite_calloc(size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n) || n > PTRDIFF_MAX) {
    lite_set_enomem();
    return NULL;
  }
  if (n > LITE_MEDIUM_MAX) {
    void* p = lite_large_alloc(n, 0, true);
    if (p == NULL) lite_set_enomem();
    return p;
  }
  void* p = lite_malloc(n);
  if (p != NULL) memset(p, 0, n);
  return p;
}

size_t lite_malloc_usable_size(void* p) {
  if (p == NULL) return 0;
  lite_segment* seg = lite_segment_of((uintptr_t)p);
  if (seg->kind == LITE_SEGMENT_LARGE) return lite_large_usable(seg, p);
  return lite_block_page(p, "malloc_usable_size")->block_size;
}

void* lite_realloc(void* p, size_t size) {
  if (p == NULL) return lite_malloc(size);
  if (size == 0) {
    lite_free(p);
    return NULL;
  }
  if (size > PTRDIFF_MAX) {
    lite_set_enomem();
    return NULL;
  }
  lite_segment* seg = lite_segment_of((uintptr_t)p);
  if (seg->kind == LITE_SEGMENT_LARGE) {
    void* q = lite_large_resize(seg, p, size);
    if (q != NULL) return q;
    size_t usable = lite_large_usable(seg, p);
    q = lite_malloc(size);
    if (q == NULL) return NULL;
    memcpy(q, p, size < usable ? size : usable);
    lite_large_free(seg, p);
    return q;
  }
  size_t usable = lite_block_page(p, "invalid realloc")->block_size;
  if (size <= usable && (size > usable / 2 || usable <= 32)) return p;
  /* A block that grows by less than half is likely to grow again (a string or
   * vector being built): give it half as much again, so that it moves
   * O(log n) times rather than at every 16-byte class. */
  size_t want = size;
  if (size > usable && size - usable < usable / 2) want = usable + usable / 2;
  void* q = want > LITE_MEDIUM_MAX && size > usable ? lite_large_alloc_growing(want) : lite_malloc(want);
  if (q == NULL) {
    lite_set_enomem();
    return NULL;
  }
  memcpy(q, p, size < usable ? size : usable);
  lite_free(p);
  return q;
}

void* lite_reallocarray(void* p, size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    lite_set_enomem();
    return NULL;
  }
  return lite_realloc(p, n);
}

// -----------------------------------------------------------------------------
// Aligned allocation
// -----------------------------------------------------------------------------
/* alignment: a power of two. The class of a multiple of the alignment is
 * itself a multiple of it (classes step by 16 bytes, then by a power of two
 * that such a size is a multiple of, or by 4 KiB), and pages start on 64 KiB
 * boundaries, so up to 64 KiB an aligned request is just a request for a size
 * that is a multiple of the alignment. */
static void* lite_aligned(size_t alignment, size_t size) {
  if (alignment <= 16) return lite_malloc(alignment == 16 && size < 16 ? 16 : size);
  if (size > PTRDIFF_MAX) {
    lite_set_enomem();
    return NULL;
  }
  if (alignment <= LITE_SLICE_SIZE) {
    size_t rounded = (size + alignment - 1) & ~(alignment - 1);
    if (rounded == 0) rounded = alignment;
    /* Only a small class cut to LITE_SMALL_MAX can be no multiple of the
     * alignment: the first medium class then serves. */
    if (rounded <= LITE_SMALL_MAX && lite_class_size(lite_small_class(rounded)) % alignment != 0)
      rounded = LITE_SMALL_MAX + 1;
    if (rounded <= LITE_MEDIUM_MAX) return lite_malloc(rounded);
  }
  void* p = lite_large_alloc(size, alignment, false);
  if (p == NULL) lite_set_enomem();
  return p;
}

void* lite_memalign(size_t alignment, size_t size) {
  if (alignment > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return NULL;
  }
  if (alignment & (alignment - 1)) alignment = (size_t)1 << (64 - __builtin_clzll(alignment));
  return lite_aligned(alignment, size);
}

void* lite_aligned_alloc(size_t alignment, size_t size) { return lite_memalign(alignment, size); }

int lite_posix_memalign(void** out, size_t alignment, size_t size) {
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0)
    return EINVAL;
  void* p = lite_aligned(alignment, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

void* lite_valloc(size_t size) { return lite_aligned(lite_os_page_size(), size); }

void* lite_pvalloc(size_t size) {
  size_t page = lite_os_page_size(), rounded = (size + page - 1) & ~(page - 1);
  if (rounded < size) {
    lite_set_enomem();
    return NULL;
  }
  return lite_aligned(page, rounded ? rounded : page);
}

// -----------------------------------------------------------------------------
// Ownership and trimming
// -----------------------------------------------------------------------------
int lite_malloc_owns(const void* p) {
  uintptr_t a = (uintptr_t)p;
  lite_segment* seg = lite_segment_of(a);
  if (seg->kind == LITE_SEGMENT_LARGE) return a == LITE_COUNTER_GET(seg->large_user);
  if (seg->kind != LITE_SEGMENT_PAGES || ((a ^ (uintptr_t)seg) >> LITE_SEGMENT_SHIFT) != 0) return 0;
  lite_page* page = lite_load_relaxed(&seg->slice_page[(a >> LITE_SLICE_SHIFT) & (LITE_SLICES - 1)]);
  /* Any address, any time: the page may be set up or retired meanwhile by
   * another thread, so its fields are read as relaxed atomics (descriptors
   * stay mapped; a stale page gives a stale answer, never a fault). */
  if (LITE_COUNTER_GET(page->kind) != LITE_PAGE_BLOCKS) return 0;
  uintptr_t off = a - LITE_COUNTER_GET(page->start);
  uint64_t magic = LITE_COUNTER_GET(page->magic);
  size_t limit = (size_t)LITE_COUNTER_GET(page->capacity) * LITE_COUNTER_GET(page->block_size);
  return off < limit && off * magic < magic;
}

/* Returns what can be returned: the caller's own empty pages, then every
 * source of the decay at once (decay.c). */
int lite_malloc_trim(size_t pad) {
  (void)pad;
  bool released = lite_page_trim_own(lite_tls_front);
  return lite_decay_run(true, false) || released;
}

// -----------------------------------------------------------------------------
// The layers above the segments that hold free memory, for the decay
// -----------------------------------------------------------------------------
const lite_release_fn lite_release_sources[] = {
    lite_reclaim,           /* fronts of idle threads (reclaim.c) */
    lite_page_trim_engines, /* pages abandoned by exited threads (page.c) */
    lite_large_release,     /* cached large mappings (large.c) */
    NULL,
};
