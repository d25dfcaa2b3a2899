/* Internal interface of lite_malloc: the inline helpers the fast paths need and
 * the functions each file offers the others, grouped by the file that defines
 * them. Nothing here is exported from the library. */
#ifndef LITE_INTERNAL_H
#define LITE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lite_malloc.h"
#include "lite_types.h"

#define LITE_LIKELY(x) __builtin_expect(!!(x), 1)
#define LITE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LITE_NOINLINE __attribute__((noinline))
#define LITE_INLINE static inline __attribute__((always_inline))
#define LITE_HIDDEN __attribute__((visibility("hidden")))

#if LITE_MALLOC_TLS_DYNAMIC
#define LITE_TLS_MODEL __attribute__((tls_model("global-dynamic")))
#else
#define LITE_TLS_MODEL __attribute__((tls_model("initial-exec")))
#endif

/* Counters the owner writes while statistics read them from other threads:
 * plain stores in normal builds (aligned words cannot tear), relaxed atomic
 * stores under ThreadSanitizer, so that it can check everything else. Readers
 * always load them atomically. */
#if defined(__SANITIZE_THREAD__)
#define LITE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LITE_TSAN 1
#endif
#endif
#if defined(LITE_TSAN)
#define LITE_TSAN_ON 1
#define LITE_COUNTER_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#else
#define LITE_TSAN_ON 0
#define LITE_COUNTER_SET(field, v) ((field) = (v))
#endif
#define LITE_COUNTER_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
/* Fields written on slow paths only (kind, cls): always atomic. */
#define LITE_FIELD_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

/* ----------------------------------------------------------------------------
 * Size classes (inline)
 * ------------------------------------------------------------------------- */
/* Class of a size known to be <= LITE_SMALL_MAX (lite_config.h): class i
 * holds 16*i bytes up to LITE_LINEAR_MAX, eight classes per doubling above.
 * Every block has room for the two words of a free block (lite_block), so
 * sizes 0..16 all go to class 1 and class 0 is never used. */
LITE_INLINE size_t lite_small_class(size_t n) {
  if (n <= LITE_LINEAR_MAX) return (n + 15) >> 4 | (n == 0);
  return LITE_GEOMETRIC_CLASS(n);
}
/* Class of a size in (LITE_SMALL_MAX, LITE_MEDIUM_MAX]. */
LITE_INLINE size_t lite_medium_class(size_t n) {
  return LITE_SMALL_CLASSES + ((n + LITE_MEDIUM_STEP - 1) >> LITE_MEDIUM_SHIFT) - LITE_MEDIUM_FIRST;
}
LITE_INLINE size_t lite_class_of(size_t n) {
  return n <= LITE_SMALL_MAX ? lite_small_class(n) : lite_medium_class(n);
}
LITE_INLINE size_t lite_class_size(size_t cls) {
  if (cls <= LITE_LINEAR_MAX / 16 && cls < LITE_SMALL_CLASSES) return cls ? cls * 16 : 16;
  if (cls < LITE_SMALL_CLASSES) {
    size_t j = cls - LITE_LINEAR_MAX / 16 - 1, k = LITE_LINEAR_SHIFT + j / 8;
    size_t size = ((size_t)1 << k) + ((j % 8 + 1) << (k - 3));
    return size < LITE_SMALL_MAX ? size : LITE_SMALL_MAX;
  }
  return (cls - LITE_SMALL_CLASSES + LITE_MEDIUM_FIRST) * LITE_MEDIUM_STEP;
}

/* A front's page slots (direct[], cur[]): the owner reads them on its fast
 * paths while a reclaimer holding the front may revoke them (reclaim.c); plain
 * accesses except under ThreadSanitizer. */
#define LITE_SLOT_GET(slot) (LITE_TSAN_ON ? __atomic_load_n(&(slot), __ATOMIC_RELAXED) : (slot))

/* Makes `page` the one front f allocates class cls from. direct[i] serves the
 * sizes 8i-7..8i (entry 0: size 0): each small class has the entries of the
 * sizes above the class below it, class 1 entries 0, 1 and 2, class 0 none. */
LITE_INLINE void lite_front_set_cur(lite_front* f, size_t cls, lite_page* page) {
  LITE_COUNTER_SET(f->cur[cls], page);
  if (cls == 0 || cls >= LITE_SMALL_CLASSES) return;
  size_t first = cls == 1 ? 0 : lite_class_size(cls - 1) / 8 + 1, last = lite_class_size(cls) / 8;
  for (size_t i = first; i <= last; i++) LITE_COUNTER_SET(f->direct[i], page);
}

/* ----------------------------------------------------------------------------
 * The radix map: address -> segment (segment.c owns it)
 * ------------------------------------------------------------------------- */
#define LITE_MAP_LEAF_BITS 13
#define LITE_MAP_TOP_BITS 13
#define LITE_MAP_LEAF_SIZE ((size_t)1 << LITE_MAP_LEAF_BITS)
#define LITE_MAP_TOP_SIZE ((size_t)1 << LITE_MAP_TOP_BITS)
#define LITE_MAP_TOP_SHIFT (LITE_SEGMENT_SHIFT + LITE_MAP_LEAF_BITS)

typedef _Atomic(lite_segment*) lite_map_leaf[LITE_MAP_LEAF_SIZE];
extern _Atomic(lite_segment*)* _Atomic lite_map_top[LITE_MAP_TOP_SIZE] LITE_HIDDEN;
extern lite_segment lite_null_segment LITE_HIDDEN;
extern lite_page lite_empty_page LITE_HIDDEN;

/* Never NULL: addresses lite_malloc does not own give &lite_null_segment. Bits
 * above 47 are masked off here; callers compare against the segment's range. */
LITE_INLINE lite_segment* lite_segment_of(uintptr_t a) {
  _Atomic(lite_segment*)* leaf =
      lite_load_relaxed(&lite_map_top[(a >> LITE_MAP_TOP_SHIFT) & (LITE_MAP_TOP_SIZE - 1)]);
  return lite_load_acquire(&leaf[(a >> LITE_SEGMENT_SHIFT) & (LITE_MAP_LEAF_SIZE - 1)]);
}
/* Page descriptor for an address; &lite_empty_page when it is not in a page. */
LITE_INLINE lite_page* lite_page_of(uintptr_t a) {
  lite_segment* seg = lite_segment_of(a);
  return lite_load_relaxed(&seg->slice_page[(a >> LITE_SLICE_SHIFT) & (LITE_SLICES - 1)]);
}
/* True when a is the start of a carved block of `page` (checks range and stride). */
LITE_INLINE bool lite_page_is_block(const lite_page* page, uintptr_t a, size_t limit) {
  uintptr_t off = a - page->start;
  return off < limit && off * page->magic < page->magic_bound;
}

/* ----------------------------------------------------------------------------
 * Free-list links and hardening (hardened.c)
 * ------------------------------------------------------------------------- */
#if LITE_MALLOC_HARDENED
/* Links are stored xor-ed with a per-process key and the link's own address
 * (as glibc's safe-linking does), so a use-after-free write cannot plant a
 * chosen pointer; every pop checks the decoded link lands on a block. */
extern uintptr_t lite_list_key LITE_HIDDEN;
LITE_INLINE lite_block* lite_next(const lite_block* b) {
  return (lite_block*)((uintptr_t)b->next ^ lite_list_key ^ ((uintptr_t)b >> 12));
}
LITE_INLINE void lite_set_next(lite_block* b, lite_block* next) {
  b->next = (lite_block*)((uintptr_t)next ^ lite_list_key ^ ((uintptr_t)b >> 12));
}
void lite_hardened_on_alloc(lite_page* page, lite_block* b, lite_block* next) LITE_HIDDEN;
void lite_hardened_on_free(lite_page* page, lite_block* b) LITE_HIDDEN;
#else
LITE_INLINE lite_block* lite_next(const lite_block* b) { return b->next; }
LITE_INLINE void lite_set_next(lite_block* b, lite_block* next) { b->next = next; }
LITE_INLINE void lite_hardened_on_alloc(lite_page* page, lite_block* b, lite_block* next) {
  (void)page, (void)b, (void)next;
}
LITE_INLINE void lite_hardened_on_free(lite_page* page, lite_block* b) { (void)page, (void)b; }
#endif
void lite_hardened_init(void) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * twice.c: double frees, caught in every build
 * ------------------------------------------------------------------------- */
/* The key: the address of the block's page descriptor, stored in the second
 * word of every free block (lite_block.key) and cleared by malloc. A free that
 * finds it looks for the block in its page's lists, which is what tells a
 * double free from user data that happens to match. The free path has the
 * descriptor in a register already: no load. */
/* Aborts if b is already free. By the owner of b's page inside its busy
 * bracket (exact), or by any other thread (remote: best effort, see twice.c). */
void lite_twice_check_owner(lite_front* f, lite_page* page, lite_block* b) LITE_HIDDEN;
void lite_twice_check_remote(lite_page* page, lite_block* b) LITE_HIDDEN;
LITE_INLINE bool lite_block_marked_free(const lite_page* page, const lite_block* b) {
  return b->key == (uintptr_t)page;
}
LITE_INLINE void lite_block_mark_free(const lite_page* page, lite_block* b) { b->key = (uintptr_t)page; }

/* Pops a block of the owner's page, or NULL when its free list is empty. */
LITE_INLINE lite_block* lite_page_pop(lite_page* page) {
  lite_block* b = page->free;
  if (LITE_LIKELY(b != NULL)) {
    lite_block* next = lite_next(b);
    lite_hardened_on_alloc(page, b, next);
    page->free = next;
    b->key = 0;
    LITE_COUNTER_SET(page->used, page->used + 1);
  }
  return b;
}

/* Pushes a block the owner frees (checks done by the caller). */
LITE_INLINE void lite_page_push(lite_page* page, lite_block* b) {
  lite_hardened_on_free(page, b);
  lite_set_next(b, page->free);
  lite_block_mark_free(page, b);
  page->free = b;
  LITE_COUNTER_SET(page->frees, page->frees + 1);
}

/* Page ids: the address of a page's first slice >> 16 (31 bits for 47-bit
 * addresses). Lock-free stacks hold them with a 32-bit tag. */
LITE_INLINE uint32_t lite_page_id(const lite_page* page) {
  uintptr_t seg = (uintptr_t)page & ~(LITE_SEGMENT_SIZE - 1);
  return (uint32_t)((seg + ((uintptr_t)page->slice_index << LITE_SLICE_SHIFT)) >> LITE_SLICE_SHIFT);
}
LITE_INLINE lite_page* lite_page_from_id(uint32_t id) {
  lite_segment* seg = (lite_segment*)(((uintptr_t)id << LITE_SLICE_SHIFT) & ~(LITE_SEGMENT_SIZE - 1));
  return &seg->pages[id & (LITE_SLICES - 1)];
}
LITE_INLINE lite_segment* lite_segment_of_page(const lite_page* page) {
  return (lite_segment*)((uintptr_t)page & ~(LITE_SEGMENT_SIZE - 1));
}

/* ----------------------------------------------------------------------------
 * options.c: runtime options, LITE_MALLOC_<NAME> in the environment
 * X(NAME, name, default, doc)
 * ------------------------------------------------------------------------- */
#define LITE_RUNTIME_OPTIONS(X)                                                          \
  X(STATS, stats, 0, "1: print statistics to stderr when the process exits")            \
  X(VERBOSE, verbose, 0, "1: print the options in force at start-up")                    \
  X(PURGE_DELAY, purge_delay, 100,                                                       \
    "milliseconds free memory may stay resident before going back to the OS")            \
  X(PURGE_BYTES, purge_bytes, LITE_MALLOC_PURGE_BYTES,                                   \
    "free resident bytes returned at once when exceeded, whatever the delay (0: no bound)") \
  X(ZERO_FREED, zero_freed, 0, "1: hardened builds zero small blocks when they are freed")  \
  X(RECLAIM, reclaim, 1,                                                                 \
    "0: never take free memory from other threads' fronts (malloc_trim, purge ticks)")  \
  X(BACKGROUND, background, 0,                                                           \
    "1: a thread of lite_malloc's own runs the purge ticks, so idle memory goes back")

#define LITE_OPTION_ENUM(NAME, name, def, doc) LITE_OPT_##NAME,
enum { LITE_RUNTIME_OPTIONS(LITE_OPTION_ENUM) LITE_OPTION_COUNT };
extern long lite_options[LITE_OPTION_COUNT] LITE_HIDDEN;
void lite_options_init(void) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * os.c: the only place that talks to the kernel (raw system calls)
 * ------------------------------------------------------------------------- */
/* The OS page size: 4, 16 or 64 KiB, from the kernel (os.c), set once by
 * lite_process_init or by whichever slow path needs it first. Slow paths only. */
extern _Atomic(size_t) lite_os_page LITE_HIDDEN;
size_t lite_os_page_init(void) LITE_HIDDEN;
static inline size_t lite_os_page_size(void) {
  size_t page = lite_load_relaxed(&lite_os_page);
  return LITE_LIKELY(page != 0) ? page : lite_os_page_init();
}
/* n rounded up to a multiple of the OS page (n <= SIZE_MAX - 64 KiB). */
static inline size_t lite_os_page_round(size_t n) {
  size_t page = lite_os_page_size();
  return (n + page - 1) & ~(page - 1);
}
void* lite_os_map(size_t size, void* hint) LITE_HIDDEN;
bool lite_os_map_at(void* p, size_t size) LITE_HIDDEN;
void* lite_os_map_aligned(size_t size, size_t align) LITE_HIDDEN;
void lite_os_hint_free(void* p, size_t size) LITE_HIDDEN;
bool lite_os_unmap(void* p, size_t size) LITE_HIDDEN;
bool lite_os_purge(void* p, size_t size) LITE_HIDDEN;
bool lite_os_grow_inplace(void* p, size_t old_size, size_t new_size) LITE_HIDDEN;
bool lite_os_protect_none(void* p, size_t size) LITE_HIDDEN;
long lite_os_move(void* p, size_t old_size, void* to, size_t new_size) LITE_HIDDEN;
bool lite_os_map_over(void* p, size_t size) LITE_HIDDEN;
void lite_os_write_stderr(const char* s, size_t n) LITE_HIDDEN;
bool lite_os_membarrier(void) LITE_HIDDEN;
void lite_os_fork_child(void) LITE_HIDDEN;
bool lite_os_thread_start(void* stack_top, void* tls, void (*fn)(void*), void* arg) LITE_HIDDEN;
void lite_os_sleep_on(_Atomic(uint32_t)* word, uint32_t value, uint64_t ms) LITE_HIDDEN;
void lite_os_wake(_Atomic(uint32_t)* word) LITE_HIDDEN;
uint64_t lite_os_now_ms(void) LITE_HIDDEN;
/* Eight of the 16 random bytes the kernel gave the process (AT_RANDOM); 0
 * without them. For the link key of hardened.c. */
uintptr_t lite_os_random(void) LITE_HIDDEN;
__attribute__((noreturn)) void lite_os_abort(void) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * segment.c: segments, slice runs, the radix map, purging
 * ------------------------------------------------------------------------- */
lite_page* lite_slices_claim(uint32_t engine, size_t count) LITE_HIDDEN;
void lite_slices_release(lite_page* page) LITE_HIDDEN;
/* The same for a page that has already been free for a whole delay (found in
 * an idle front): the next purge returns it. */
void lite_slices_release_aged(lite_page* page) LITE_HIDDEN;
bool lite_map_register(uintptr_t start, uintptr_t end, lite_segment* seg) LITE_HIDDEN;
void lite_map_unregister(uintptr_t start, uintptr_t end) LITE_HIDDEN;
bool lite_purge_some(bool all) LITE_HIDDEN;
void lite_segments_fork_child(void (*visit)(lite_page* page)) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * decay.c: when free memory goes back (the bottom of reclamation)
 * ------------------------------------------------------------------------- */
/* A layer above that holds free memory: releases what has been free since the
 * previous tick, or everything (all); background: called from the background
 * thread, which has no thread-local state. True if anything was released. */
typedef bool (*lite_release_fn)(bool all, bool background);
/* NULL-terminated; defined by the entry layer (alloc.c), lowest layer first. */
extern const lite_release_fn lite_release_sources[] LITE_HIDDEN;
void lite_decay_tick(void) LITE_HIDDEN;
/* The decay clock: milliseconds as read by the last tick (coarse, no system
 * call to read it). Free memory is stamped with it. */
extern _Atomic(uint64_t) lite_decay_now LITE_HIDDEN;
/* True when memory stamped at `stamp` has been free for a whole delay. */
bool lite_decay_expired(uint64_t stamp, uint64_t now) LITE_HIDDEN;
bool lite_decay_run(bool all, bool background) LITE_HIDDEN;
/* Before mapping more memory: dirty slices past a bound go back first. */
void lite_decay_before_growth(void) LITE_HIDDEN;
uint64_t lite_decay_period_ms(void) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * background.c: the opt-in background purger
 * ------------------------------------------------------------------------- */
void lite_background_start(void) LITE_HIDDEN;
void lite_background_fork_child(void) LITE_HIDDEN;
bool lite_background_self(void) LITE_HIDDEN;
uint64_t lite_background_ticks(void) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * page.c: pages of blocks
 * ------------------------------------------------------------------------- */
void* lite_page_malloc_slow(lite_front* f, size_t cls) LITE_HIDDEN;
void* lite_page_malloc_frontless(lite_front* f, size_t cls) LITE_HIDDEN;
void lite_page_unused(lite_front* f, lite_page* page) LITE_HIDDEN;
void lite_page_free_slow(lite_front* f, lite_page* page, lite_block* b) LITE_HIDDEN;
void lite_page_collect(lite_page* page) LITE_HIDDEN;
void lite_page_to_avail(lite_front* f, lite_page* page) LITE_HIDDEN;
void lite_page_retire(lite_front* f, lite_page* page, bool aged) LITE_HIDDEN;
enum { LITE_RETIRE_COLLECT = 1, LITE_RETIRE_AGED = 2 };
bool lite_page_retire_free(lite_front* f, lite_page** head, lite_page* keep, unsigned how) LITE_HIDDEN;
void lite_page_abandon_all(lite_front* f) LITE_HIDDEN;
bool lite_page_trim_own(lite_front* f) LITE_HIDDEN;
bool lite_page_trim_engines(bool all, bool background) LITE_HIDDEN;

/* Count of blocks on an xfree word (an armed word holds none). */
LITE_INLINE uint32_t lite_xfree_count(uint64_t x) {
  return (uint32_t)x == LITE_XFREE_ARMED ? 0 : (uint32_t)(x >> 32);
}
/* True when every block of the page is free: none handed out, none still on
 * its way back. Read in this order (used, xfree, pending) so that a block
 * moving from pending to xfree is never counted twice. */
LITE_INLINE bool lite_page_all_free(lite_page* page) {
  uint32_t used = __atomic_load_n(&page->used, __ATOMIC_ACQUIRE);
  uint32_t remote = lite_xfree_count(lite_load_acquire(&page->xfree));
  return lite_load_acquire(&page->pending) == 0 && used == remote;
}

/* ----------------------------------------------------------------------------
 * stack.c: lock-free stacks of pages
 * ------------------------------------------------------------------------- */
void lite_stack_push(_Atomic(uint64_t)* stack, lite_page* page, _Atomic(size_t)* retries) LITE_HIDDEN;
lite_page* lite_stack_pop(_Atomic(uint64_t)* stack, _Atomic(size_t)* retries) LITE_HIDDEN;
/* page.c: a page whose owner left, onto its engine's stack for its class. */
void lite_engine_push(lite_page* page) LITE_HIDDEN;

typedef struct lite_pool {
  void* _Atomic* chunks;   /* [max_chunks]: mapped chunks, NULL until first use */
  uint32_t per_chunk;      /* records per chunk */
  uint32_t max_chunks;
  uint32_t size;           /* bytes per record */
  uint32_t link;           /* offset of the record's _Atomic(uint32_t) free link */
  void (*init)(void* record, uint32_t index); /* once, when its chunk is mapped */
  _Atomic(uint32_t) count; /* indexes ever handed out */
  _Atomic(uint64_t) free;  /* stack: (tag << 32) | (index + 1) */
} lite_pool;
void* lite_pool_at(lite_pool* pool, uint32_t index) LITE_HIDDEN;
bool lite_pool_mapped(lite_pool* pool, uint32_t index) LITE_HIDDEN;
void* lite_pool_new(lite_pool* pool, uint32_t* index) LITE_HIDDEN;
void lite_pool_free(lite_pool* pool, uint32_t index) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * remote.c: frees into other threads' pages
 * ------------------------------------------------------------------------- */
void lite_free_remote(lite_page* page, lite_block* b) LITE_HIDDEN;
void lite_xfree_push(lite_page* page, lite_block* b) LITE_HIDDEN;
void lite_front_take_delayed(lite_front* f, bool by_owner) LITE_HIDDEN;
void lite_handle_drain(lite_handle* h) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * reclaim.c: taking free memory from fronts whose owners do not look at it
 * ------------------------------------------------------------------------- */
/* The owner's side of the steal protocol: brackets every slow path. False when
 * a reclaimer holds the front: the caller must then not touch its lists. */
/* Raises the owner's busy flag: a plain store that the compiler may not move
 * past what follows (the reclaimer's membarrier orders it for the CPU). Under
 * ThreadSanitizer, which knows nothing of membarrier, a sequentially
 * consistent exchange instead. */
/* The order of the loads on either side of that handshake: acquire (the
 * membarrier does the rest), sequentially consistent under ThreadSanitizer. */
#define LITE_ASYM_ORDER (LITE_TSAN_ON ? memory_order_seq_cst : memory_order_acquire)
LITE_INLINE void lite_busy_raise(lite_front* f) {
#if defined(LITE_TSAN)
  atomic_exchange_explicit(&f->busy, 1, memory_order_seq_cst);
#else
  lite_store_relaxed(&f->busy, 1);
  atomic_signal_fence(memory_order_seq_cst);
#endif
}
LITE_INLINE bool lite_busy_begin(lite_front* f) {
  lite_busy_raise(f);
  lite_handle* h = f->handle;
  if (LITE_UNLIKELY(atomic_load_explicit(&h->steal, LITE_ASYM_ORDER) != LITE_STEAL_FREE)) {
    lite_store_release(&f->busy, 0);
    return false;
  }
  lite_store_relaxed(&h->epoch, lite_load_relaxed(&h->epoch) + 1);
  lite_store_relaxed(&h->active_ms, lite_load_relaxed(&lite_decay_now));
  return true;
}
LITE_INLINE void lite_busy_end(lite_front* f) { lite_store_release(&f->busy, 0); }
bool lite_front_claim_own(lite_front* f) LITE_HIDDEN;
bool lite_reclaim(bool all, bool background) LITE_HIDDEN;
void lite_reclaim_fork_child(void) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * test_hooks.c
 * ------------------------------------------------------------------------- */
#if LITE_MALLOC_TEST_HOOKS
void lite_test_point(lite_malloc_hook_point point) LITE_HIDDEN;
#define LITE_TEST_POINT(point) lite_test_point(point)
#else
#define LITE_TEST_POINT(point) ((void)0)
#endif

/* ----------------------------------------------------------------------------
 * fork.c
 * ------------------------------------------------------------------------- */
void lite_fork_child_reset(void) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * front.c: thread fronts (the two static ones are defined in page.c, the
 * engines in segment.c); process.c: start-up
 * ------------------------------------------------------------------------- */
extern lite_front lite_empty_front LITE_HIDDEN;
extern lite_front lite_dying_front LITE_HIDDEN;
extern __thread lite_front* lite_tls_front LITE_HIDDEN LITE_TLS_MODEL;
extern lite_engine lite_engines[LITE_MALLOC_ENGINES_COUNT] LITE_HIDDEN;
void lite_process_init(void) LITE_HIDDEN;
void lite_front_key_init(void) LITE_HIDDEN;
lite_front* lite_front_attach(void) LITE_HIDDEN;
void lite_front_release(lite_front* f) LITE_HIDDEN;
/* The engine this front visits now: its pinned one, or the next in turn. */
LITE_INLINE uint32_t lite_front_engine(lite_front* f) {
#if LITE_MALLOC_USE_PERTHREAD_ENGINES
  return f->id % LITE_MALLOC_ENGINES_COUNT;
#else
  return f->rr++ % LITE_MALLOC_ENGINES_COUNT;
#endif
}

/* handle.c: the pool of handles */
#define LITE_HANDLE_CHUNK 1024u  /* handles per mapping (64 KiB) */
#define LITE_HANDLE_CHUNKS 4096u /* at most 4 M threads alive at once */
extern lite_pool lite_handles LITE_HIDDEN;
extern lite_handle* _Atomic lite_handle_chunks[LITE_HANDLE_CHUNKS] LITE_HIDDEN;
/* The handle of a live front (or one a page was armed with): its chunk exists. */
LITE_INLINE lite_handle* lite_handle_at(uint32_t hid) {
  return &lite_load_acquire(&lite_handle_chunks[hid / LITE_HANDLE_CHUNK])[hid % LITE_HANDLE_CHUNK];
}

/* ----------------------------------------------------------------------------
 * large.c: blocks mapped directly
 * ------------------------------------------------------------------------- */
void* lite_large_alloc(size_t size, size_t align, bool zero) LITE_HIDDEN;
/* For a block that realloc is growing: a cached mapping larger than the
 * request is kept whole, as room to grow into. */
void* lite_large_alloc_growing(size_t size) LITE_HIDDEN;
bool lite_large_release(bool all, bool background) LITE_HIDDEN;
void lite_large_free(lite_segment* seg, void* p) LITE_HIDDEN;
void* lite_large_resize(lite_segment* seg, void* p, size_t size) LITE_HIDDEN;
size_t lite_large_usable(lite_segment* seg, const void* p) LITE_HIDDEN;
bool lite_large_recently_freed(const void* p) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * diag.c: counters (relaxed atomics, slow paths only) and error reports
 * ------------------------------------------------------------------------- */
typedef struct lite_counters {
  _Atomic(size_t) mapped_bytes, mappings, segments, large_blocks, large_bytes;
  _Atomic(size_t) dirty_bytes, purged_bytes, pages_in_use, threads;
  _Atomic(size_t) retries;      /* failed CAS attempts outside any engine */
  _Atomic(uint64_t) large_allocs, large_frees;
  _Atomic(size_t) large_cached; /* bytes of freed large mappings kept (part of dirty_bytes) */
  _Atomic(size_t) large_cached_blocks; /* and how many */
  _Atomic(uint64_t) retired_frees[LITE_CLASSES]; /* blocks counted by pages since released */
  _Atomic(uint64_t) os_maps, os_unmaps, os_purges, os_remaps; /* system calls made */
} lite_counters;
extern lite_counters lite_stat LITE_HIDDEN;
__attribute__((noreturn)) void lite_fatal(const char* what, const void* p, const char* reason) LITE_HIDDEN;
char* lite_fmt_u64(char* out, uint64_t v, unsigned base) LITE_HIDDEN;

/* ----------------------------------------------------------------------------
 * alloc.c: the entry points. Their fast paths are here, inline, so that the
 * override files' malloc and free are the fast paths themselves rather than
 * a jump to lite_malloc and lite_free.
 * ------------------------------------------------------------------------- */
void* lite_malloc_generic(size_t size, lite_front* f) LITE_HIDDEN;
void lite_free_generic(void* p, lite_front* f, lite_page* page) LITE_HIDDEN;
void lite_set_enomem(void) LITE_HIDDEN;

/* Pops a block of the page in `slot`, with the owner's busy flag raised around
 * it (reclaim.c: a reclaimer may revoke the slot meanwhile). */
LITE_INLINE lite_block* lite_slot_pop(lite_front* f, lite_page** slot) {
  lite_busy_raise(f);
  lite_block* b = lite_page_pop(LITE_SLOT_GET(*slot));
  lite_store_release(&f->busy, 0);
  return b;
}

/* malloc: one TLS load, the page for the size, pop its free list. */
LITE_INLINE void* lite_malloc_fast(size_t size) {
  lite_front* f = lite_tls_front;
  if (LITE_LIKELY(size <= LITE_SMALL_MAX)) {
    lite_block* b = lite_slot_pop(f, &f->direct[(size + 7) >> 3]);
    if (LITE_LIKELY(b != NULL)) return b;
  }
  return lite_malloc_generic(size, f);
}

/* free: two radix-map loads find the page; if the calling thread owns it, the
 * pointer is the start of a carved block and the block is not marked free
 * (twice.c), push it. */
LITE_INLINE void lite_free_fast(void* p) {
  uintptr_t a = (uintptr_t)p;
  lite_page* page = lite_page_of(a);
  lite_front* f = lite_tls_front;
  lite_block* b = p;
  /* owner: a plain read outside ThreadSanitizer (an aligned word: the same
   * load as a relaxed one), which the compiler may fold into the compare. */
  uintptr_t owner = LITE_TSAN_ON ? lite_load_relaxed(&page->owner) : *(const uintptr_t*)&page->owner;
  if (LITE_LIKELY(owner == (uintptr_t)f &&
                  lite_page_is_block(page, a, page->limit) && !lite_block_marked_free(page, b))) {
    lite_page_push(page, b);
    /* Release: a reclaimer that reads the count (reclaim.c) sees the push.
     * x86-64 orders stores as written, so there it is one decrement in
     * memory after a compiler barrier. */
#if defined(__x86_64__) && !LITE_TSAN_ON
    atomic_signal_fence(memory_order_release);
    if (LITE_LIKELY(--page->used != 0)) return;
#else
    uint32_t used = page->used - 1;
    __atomic_store_n(&page->used, used, __ATOMIC_RELEASE);
    if (LITE_LIKELY(used != 0)) return;
#endif
    lite_page_unused(f, page);
    return;
  }
  lite_free_generic(p, f, page);
}

#endif
