/* Segments and the radix map.
 *
 * A segment is 4 MiB, 4 MiB-aligned: slice 0 holds the header and the page
 * descriptors, slices 1..63 are claimed in runs by setting bits in used_mask with
 * a CAS. Released slices stay mapped and are marked dirty; the decay ticks
 * (decay.c) call lite_purge_some, which claims the runs that have stayed dirty
 * for a tick, madvises them away and releases them again, so memory goes back
 * to the OS without a syscall per free.
 * A segment left entirely free is hollowed (lite_purge_header): its data
 * slices are unmapped, its header slice never is, so page descriptors stay
 * readable for the lock-free stacks that may still hold stale page ids.
 *
 * The radix map sends every 4 MiB unit of a segment to its header, and the
 * unit where a large block starts to that block's descriptor (large.c). Its
 * tables start out pointing at shared static stand-ins, so a lookup never
 * branches on "not present". */
#include "lite_internal.h"

lite_page lite_empty_page = {0};

/* The engines: each owns a list of segments and stacks of abandoned pages. */
lite_engine lite_engines[LITE_MALLOC_ENGINES_COUNT];

lite_segment lite_null_segment = {
    .slice_page = {[0 ... LITE_SLICES - 1] = &lite_empty_page},
    .kind = LITE_SEGMENT_NULL,
};

static _Atomic(lite_segment*) lite_zero_leaf[LITE_MAP_LEAF_SIZE] = {
    [0 ... LITE_MAP_LEAF_SIZE - 1] = &lite_null_segment,
};

_Atomic(lite_segment*)* _Atomic lite_map_top[LITE_MAP_TOP_SIZE] = {
    [0 ... LITE_MAP_TOP_SIZE - 1] = lite_zero_leaf,
};

// -----------------------------------------------------------------------------
// Radix map
// -----------------------------------------------------------------------------
static _Atomic(lite_segment*)* lite_map_leaf_for(uintptr_t a) {
  _Atomic(lite_segment*)* _Atomic* slot =
      &lite_map_top[(a >> LITE_MAP_TOP_SHIFT) & (LITE_MAP_TOP_SIZE - 1)];
  _Atomic(lite_segment*)* leaf = lite_load_acquire(slot);
  if (leaf != lite_zero_leaf) return leaf;
  _Atomic(lite_segment*)* fresh = lite_os_map(sizeof(lite_map_leaf), NULL);
  if (fresh == NULL) return NULL;
  for (size_t i = 0; i < LITE_MAP_LEAF_SIZE; i++) atomic_init(&fresh[i], &lite_null_segment);
  if (atomic_compare_exchange_strong_explicit(slot, &leaf, fresh, memory_order_acq_rel,
                                              memory_order_acquire)) {
    lite_add_relaxed(&lite_stat.mappings, 1);
    return fresh;
  }
  lite_os_unmap(fresh, sizeof(lite_map_leaf));
  return leaf;
}

void lite_map_unregister(uintptr_t start, uintptr_t end) {
  for (uintptr_t a = start; a < end; a += LITE_SEGMENT_SIZE) {
    _Atomic(lite_segment*)* leaf =
        lite_load_acquire(&lite_map_top[(a >> LITE_MAP_TOP_SHIFT) & (LITE_MAP_TOP_SIZE - 1)]);
    if (leaf == lite_zero_leaf) continue;
    lite_store_release(&leaf[(a >> LITE_SEGMENT_SHIFT) & (LITE_MAP_LEAF_SIZE - 1)],
                       &lite_null_segment);
  }
}

/* Enters [start, end) (start 4 MiB-aligned) into the map; false if a table
 * could not be mapped (nothing stays registered then). */
bool lite_map_register(uintptr_t start, uintptr_t end, lite_segment* seg) {
  for (uintptr_t a = start; a < end; a += LITE_SEGMENT_SIZE) {
    _Atomic(lite_segment*)* leaf = lite_map_leaf_for(a);
    if (leaf == NULL) {
      lite_map_unregister(start, a);
      return false;
    }
    lite_store_release(&leaf[(a >> LITE_SEGMENT_SHIFT) & (LITE_MAP_LEAF_SIZE - 1)], seg);
  }
  return true;
}

// -----------------------------------------------------------------------------
// Segments
// -----------------------------------------------------------------------------
/* Segments mapped but not yet given to an engine, as a stack of the page ids
 * of their header slices. */
static _Atomic(uint64_t) lite_spare_segments;

/* A fresh (all-zero) segment: a spare one, or the first of a new batch of
 * segments mapped at once (one mapping instead of several). */
static lite_segment* lite_segment_map(void) {
  lite_page* header = lite_stack_pop(&lite_spare_segments, &lite_stat.retries);
  if (header != NULL) return lite_segment_of_page(header);
  /* Batches grow with use: 1, 1, 2, 4, ... up to LITE_MALLOC_SEGMENT_BATCH,
   * so a small program maps one segment, not a batch of them. */
  static _Atomic(size_t) mapped_ever;
  size_t count = lite_load_relaxed(&mapped_ever);
  if (count < 1) count = 1;
  if (count > LITE_MALLOC_SEGMENT_BATCH) count = LITE_MALLOC_SEGMENT_BATCH;
  lite_decay_before_growth();
  uint8_t* batch = lite_os_map_aligned(count * LITE_SEGMENT_SIZE, LITE_SEGMENT_SIZE);
  /* Out of address space or commit: every cache goes back first (free
   * segments are hollowed), then one more try. */
  if (batch == NULL && lite_decay_run(true, false))
    batch = lite_os_map_aligned(count * LITE_SEGMENT_SIZE, LITE_SEGMENT_SIZE);
  if (batch == NULL && count > 1) {
    count = 1;
    batch = lite_os_map_aligned(LITE_SEGMENT_SIZE, LITE_SEGMENT_SIZE);
  }
  if (batch == NULL) return NULL;
  lite_add_relaxed(&mapped_ever, count);
  lite_add_relaxed(&lite_stat.mappings, 1);
  for (size_t i = 1; i < count; i++)
    lite_stack_push(&lite_spare_segments, &((lite_segment*)(batch + i * LITE_SEGMENT_SIZE))->pages[0],
                    &lite_stat.retries);
  return (lite_segment*)batch;
}

static lite_segment* lite_segment_new(uint32_t engine) {
  lite_segment* seg = lite_segment_map();
  if (seg == NULL) return NULL;
  /* Fresh anonymous memory is zero: only non-zero fields need setting. */
  for (size_t i = 0; i < LITE_SLICES; i++) {
    atomic_init(&seg->slice_page[i], &lite_empty_page);
    seg->pages[i].slice_index = (uint32_t)i;
  }
  seg->kind = LITE_SEGMENT_PAGES;
  seg->engine = engine;
  atomic_init(&seg->used_mask, 1); /* the header slice */
  if (!lite_map_register((uintptr_t)seg, (uintptr_t)seg + LITE_SEGMENT_SIZE, seg)) {
    lite_stack_push(&lite_spare_segments, &seg->pages[0], &lite_stat.retries);
    return NULL;
  }
  lite_engine* e = &lite_engines[engine];
  lite_segment* head = lite_load_relaxed(&e->segments);
  for (;;) {
    seg->next = head;
    if (lite_cas_weak(&e->segments, &head, seg, memory_order_release, memory_order_relaxed)) break;
    lite_add_relaxed(&e->retries, 1);
  }
  lite_add_relaxed(&lite_stat.segments, 1);
  return seg;
}

static uint64_t lite_run_mask(size_t count) {
  return count >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << count) - 1);
}

/* Claims `count` contiguous free slices of seg (only a run of dirty ones when
 * `dirty_only`); returns the descriptor of the first one, or NULL when the
 * segment has no such run. */
static lite_page* lite_segment_try_claim(lite_segment* seg, size_t count, bool dirty_only) {
  uint64_t used = lite_load_relaxed(&seg->used_mask);
  for (;;) {
    /* Prefer a run of dirty slices: they are still resident, so no page faults. */
    uint64_t free = ~used, dirty = free & lite_load_relaxed(&seg->dirty_mask);
    uint64_t runs = free, dirty_runs = dirty;
    for (size_t j = 1; j < count; j++) {
      runs &= free >> j;
      dirty_runs &= dirty >> j;
    }
    if (runs == 0 || (dirty_only && dirty_runs == 0)) return NULL;
    unsigned i = (unsigned)__builtin_ctzll(dirty_runs ? dirty_runs : runs);
    uint64_t want = lite_run_mask(count) << i;
    if (!lite_cas_weak(&seg->used_mask, &used, used | want, memory_order_acquire,
                       memory_order_relaxed)) {
      lite_add_relaxed(&lite_engines[seg->engine].retries, 1);
      continue;
    }
    uint64_t was_dirty = atomic_fetch_and_explicit(&seg->dirty_mask, ~want, memory_order_relaxed) & want;
    if (was_dirty)
      lite_sub_relaxed(&lite_stat.dirty_bytes, (size_t)__builtin_popcountll(was_dirty) * LITE_SLICE_SIZE);
    lite_add_relaxed(&lite_stat.pages_in_use, count);
    lite_page* page = &seg->pages[i];
    /* Set here, not once per segment: the descriptors of a segment that was
     * entirely free may have been purged to zeros (lite_purge_header). */
    LITE_FIELD_SET(page->slice_index, i);
    page->slice_count = (uint8_t)count;
    if (lite_load_relaxed(&seg->header_purged)) lite_store_relaxed(&seg->header_purged, false);
    return page;
  }
}

static lite_segment* lite_segment_refill(uint32_t engine);

/* Claims a run of slices from the segments of `engine`, mapping a new segment
 * when none has room. The caller initialises the returned descriptor. */
lite_page* lite_slices_claim(uint32_t engine, size_t count) {
  lite_engine* e = &lite_engines[engine];
  lite_segment* hint = lite_load_acquire(&e->hint);
  /* Dirty slices are still resident: while there are enough of them anywhere,
   * a first pass takes a dirty run from any segment of the engine before any
   * untouched or purged one is faulted in. */
  bool dirty_first = lite_load_relaxed(&lite_stat.dirty_bytes) - lite_load_relaxed(&lite_stat.large_cached) >=
                     count * LITE_SLICE_SIZE;
  for (int attempt = 0; attempt < 4; attempt++, dirty_first = false) {
    if (hint != NULL) {
      lite_page* page = lite_segment_try_claim(hint, count, dirty_first);
      if (page != NULL) return page;
    }
    for (lite_segment* seg = lite_load_acquire(&e->segments); seg != NULL; seg = seg->next) {
      if (seg == hint) continue;
      lite_page* page = lite_segment_try_claim(seg, count, dirty_first);
      if (page != NULL) {
        lite_store_release(&e->hint, seg);
        return page;
      }
    }
    if (dirty_first) continue; /* no dirty run anywhere: any run, then a new segment */
    hint = lite_segment_refill(engine);
    if (hint == NULL) hint = lite_segment_new(engine);
    if (hint == NULL) return NULL;
    lite_store_release(&e->hint, hint);
  }
  return NULL;
}

/* Gives a page's slices back to its segment. The memory stays resident (dirty)
 * until a decay tick purges it: the first after a whole delay, or the next one
 * when it is aged (marked as seen by a tick already). */
static void lite_slices_give_back(lite_page* page, bool aged) {
  lite_segment* seg = lite_segment_of_page(page);
  if (page->kind == LITE_PAGE_BLOCKS) lite_add_relaxed(&lite_stat.retired_frees[page->cls], page->frees);
  size_t first = page->slice_index, count = page->slice_count;
  for (size_t j = first; j < first + count; j++)
    lite_store_relaxed(&seg->slice_page[j], &lite_empty_page);
  LITE_FIELD_SET(page->kind, LITE_PAGE_NONE);
  lite_store_relaxed(&page->owner, 0);
  uint64_t mask = lite_run_mask(count) << first;
  size_t bytes = count * LITE_SLICE_SIZE;
  lite_add_relaxed(&lite_stat.dirty_bytes, bytes);
  if (aged)
    atomic_fetch_or_explicit(&seg->dirty_seen, mask, memory_order_relaxed);
  else
    lite_store_relaxed(&seg->dirty_ms, lite_load_relaxed(&lite_decay_now));
  atomic_fetch_or_explicit(&seg->dirty_mask, mask, memory_order_relaxed);
  atomic_fetch_and_explicit(&seg->used_mask, ~mask, memory_order_release);
  lite_sub_relaxed(&lite_stat.pages_in_use, count);
  if (!aged) lite_decay_tick(); /* aged ones come from a tick already */
}

void lite_slices_release(lite_page* page) { lite_slices_give_back(page, false); }

void lite_slices_release_aged(lite_page* page) { lite_slices_give_back(page, true); }

static _Atomic(int) lite_purging;

// -----------------------------------------------------------------------------
// Purging
// -----------------------------------------------------------------------------
/* madvises every contiguous run of bits in mask; returns the bits of the runs
 * the kernel accepted. */
static uint64_t lite_purge_runs(lite_segment* seg, uint64_t mask) {
  uint64_t done = 0;
  while (mask) {
    unsigned i = (unsigned)__builtin_ctzll(mask);
    unsigned n = (unsigned)__builtin_ctzll(~(mask >> i));
    uint64_t run = lite_run_mask(n) << i;
    if (lite_os_purge((uint8_t*)seg + ((size_t)i << LITE_SLICE_SHIFT), (size_t)n << LITE_SLICE_SHIFT))
      done |= run;
    mask &= ~run;
  }
  return done;
}

/* A segment with no slice in use and nothing dirty is hollowed: its slices
 * 1..63 are unmapped, so address space and commit charge follow the memory in
 * use, and only the header slice stays mapped, with its page descriptors past
 * the first OS page purged to zeros. The header must stay: page ids may still
 * sit in lock-free stacks (a losing pop reads a stale descriptor: it then sees
 * an empty link) and the radix map may still send a lookup there (every slice
 * then reads as &lite_empty_page). That is the whole of the safe-reclamation
 * scheme: descriptors in memory that is never unmapped, apart from the data.
 * The segment is claimed whole meanwhile (used_mask all ones), so no claim can
 * land in unmapped slices; lite_segment_refill maps them again in place.
 * Returns true if anything went back. */
static bool lite_purge_header(lite_segment* seg) {
  uint64_t only_header = 1;
  if (lite_load_relaxed(&seg->hollow) != LITE_HOLLOW_NO ||
      (lite_load_relaxed(&seg->header_purged) && lite_load_relaxed(&seg->dirty_mask) != 0) ||
      !atomic_compare_exchange_strong_explicit(&seg->used_mask, &only_header, ~(uint64_t)0,
                                               memory_order_acquire, memory_order_relaxed))
    return false;
  bool any = false;
  if (lite_load_relaxed(&seg->dirty_mask) == 0 &&
      lite_os_unmap((uint8_t*)seg + LITE_SLICE_SIZE, LITE_SEGMENT_SIZE - LITE_SLICE_SIZE)) {
    lite_store_release(&seg->hollow, LITE_HOLLOW_YES); /* the refill acquires it */
    lite_sub_relaxed(&lite_stat.segments, 1); /* the statistic counts mapped segments */
    lite_add_relaxed(&lite_stat.mappings, 1);  /* the header is a mapping of its own now */
    any = true;
  }
  if (!lite_load_relaxed(&seg->header_purged)) {
    /* The whole OS pages the page descriptors fill (none with 64 KiB pages:
     * the header slice is one page, and its start stays in use). */
    uintptr_t from = lite_os_page_round((uintptr_t)&seg->pages[0]);
    uintptr_t to = lite_os_page_round((uintptr_t)&seg->pages[LITE_SLICES]);
    bool done = to > from && lite_os_purge((void*)from, to - from);
    lite_store_relaxed(&seg->header_purged, done);
    any |= done;
  }
  if (lite_load_relaxed(&seg->hollow) == LITE_HOLLOW_NO) lite_store_release(&seg->used_mask, 1);
  return any;
}

/* Maps a hollow segment of `engine` back in place; NULL if there is none or
 * the kernel has put something else in its range (it then stays hollow for
 * good: 64 KiB of address space). */
static lite_segment* lite_segment_refill(uint32_t engine) {
  for (lite_segment* seg = lite_load_acquire(&lite_engines[engine].segments); seg != NULL;
       seg = seg->next) {
    uint32_t state = LITE_HOLLOW_YES;
    if (lite_load_relaxed(&seg->hollow) != LITE_HOLLOW_YES ||
        !atomic_compare_exchange_strong_explicit(&seg->hollow, &state, LITE_HOLLOW_FILLING,
                                                 memory_order_acquire, memory_order_relaxed))
      continue;
    if (!lite_os_map_at((uint8_t*)seg + LITE_SLICE_SIZE, LITE_SEGMENT_SIZE - LITE_SLICE_SIZE)) {
      lite_store_relaxed(&seg->hollow, LITE_HOLLOW_LOST);
      continue;
    }
    lite_store_relaxed(&seg->hollow, LITE_HOLLOW_NO);
    lite_add_relaxed(&lite_stat.segments, 1);
    lite_sub_relaxed(&lite_stat.mappings, 1);
    lite_store_release(&seg->used_mask, 1);
    return seg;
  }
  return NULL;
}

/* Hands dirty free slices back to the OS: all of them, or (a decay tick)
 * those that were already dirty at the previous tick, so memory is returned
 * once it has been idle for at least one delay; segments left entirely free
 * are hollowed. Only one thread purges at a time; a thread that finds a purge
 * under way returns at once. */
bool lite_purge_some(bool all) {
  int idle = 0;
  if (!atomic_compare_exchange_strong_explicit(&lite_purging, &idle, 1, memory_order_acquire,
                                               memory_order_relaxed))
    return false;
  bool any = false;
  uint64_t now = lite_load_relaxed(&lite_decay_now);
  for (size_t e = 0; e < LITE_MALLOC_ENGINES_COUNT; e++) {
    for (lite_segment* seg = lite_load_acquire(&lite_engines[e].segments); seg != NULL;
         seg = seg->next) {
      uint64_t used = lite_load_relaxed(&seg->used_mask);
      uint64_t dirty = lite_load_relaxed(&seg->dirty_mask);
      uint64_t old = lite_exchange(&seg->dirty_seen, dirty, memory_order_relaxed);
      /* Nothing released here for a whole delay: all of it is old. */
      if (lite_decay_expired(lite_load_relaxed(&seg->dirty_ms), now)) old = ~(uint64_t)0;
      uint64_t take;
      do {
        take = lite_load_relaxed(&seg->dirty_mask) & ~used & (all ? ~(uint64_t)0 : old);
        if (take == 0) break;
      } while (!lite_cas_weak(&seg->used_mask, &used, used | take, memory_order_acquire,
                              memory_order_relaxed));
      if (take == 0) {
        if (used == 1) any |= lite_purge_header(seg);
        continue;
      }
      uint64_t done = lite_purge_runs(seg, take);
      atomic_fetch_and_explicit(&seg->dirty_mask, ~done, memory_order_relaxed);
      size_t bytes = (size_t)__builtin_popcountll(done) * LITE_SLICE_SIZE;
      lite_sub_relaxed(&lite_stat.dirty_bytes, bytes);
      lite_add_relaxed(&lite_stat.purged_bytes, bytes);
      uint64_t left = atomic_fetch_and_explicit(&seg->used_mask, ~take, memory_order_release) & ~take;
      if (left == 1) lite_purge_header(seg);
      any = any || done != 0;
    }
  }
  lite_store_release(&lite_purging, 0);
  return any;
}

// -----------------------------------------------------------------------------
// After fork, in the child
// -----------------------------------------------------------------------------
/* Only the forking thread exists in the child: whatever another thread was
 * doing to a segment is undone. Each segment's masks are rebuilt from its
 * slice map (a claim that had not yet written its descriptor is dropped), and
 * visit() is called for the head page of each run, with the masks already
 * consistent. Counters are recomputed from the masks. */
void lite_segments_fork_child(void (*visit)(lite_page* page)) {
  lite_store_relaxed(&lite_purging, 0);
  size_t slices = 0, dirty = 0;
  for (size_t e = 0; e < LITE_MALLOC_ENGINES_COUNT; e++) {
    for (lite_segment* seg = lite_load_relaxed(&lite_engines[e].segments); seg != NULL; seg = seg->next) {
      uint64_t used = 1;
      uint32_t hollow = lite_load_relaxed(&seg->hollow);
      if (hollow == LITE_HOLLOW_FILLING) lite_store_relaxed(&seg->hollow, hollow = LITE_HOLLOW_LOST);
      for (size_t i = 1; i < LITE_SLICES; i++)
        if (lite_load_relaxed(&seg->slice_page[i]) != &lite_empty_page) used |= (uint64_t)1 << i;
      if (hollow != LITE_HOLLOW_NO) used = ~(uint64_t)0;
      uint64_t dirty_mask = lite_load_relaxed(&seg->dirty_mask) & ~used;
      lite_store_relaxed(&seg->used_mask, used);
      lite_store_relaxed(&seg->dirty_mask, dirty_mask);
      if (hollow == LITE_HOLLOW_NO) slices += (size_t)__builtin_popcountll(used) - 1;
      dirty += (size_t)__builtin_popcountll(dirty_mask) * LITE_SLICE_SIZE;
    }
  }
  lite_store_relaxed(&lite_stat.pages_in_use, slices);
  lite_store_relaxed(&lite_stat.dirty_bytes, dirty + lite_load_relaxed(&lite_stat.large_cached));
  for (size_t e = 0; e < LITE_MALLOC_ENGINES_COUNT; e++) {
    for (size_t cls = 0; cls < LITE_CLASSES; cls++) lite_store_relaxed(&lite_engines[e].abandoned[cls], 0);
    lite_store_relaxed(&lite_engines[e].any_abandoned, true);
    for (lite_segment* seg = lite_load_relaxed(&lite_engines[e].segments); seg != NULL; seg = seg->next) {
      for (size_t i = 1; i < LITE_SLICES; i++) {
        lite_page* page = lite_load_relaxed(&seg->slice_page[i]);
        if (page != &lite_empty_page && page->slice_index == i) visit(page);
      }
    }
  }
}
