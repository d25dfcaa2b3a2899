/* Large blocks: anything above the largest superblock class, or aligned beyond
 * 64 KiB, gets a mapping of its own. The mapping starts on a 4 MiB boundary; the
 * block starts max(OS page, alignment) into it, and a gap of 64 KiB or more
 * before it is unmapped again. Its descriptor (a lite_segment of kind LARGE)
 * does not live in the mapping but in a table of descriptors that are never
 * unmapped, and the radix map holds one entry per block, for the 4 MiB unit
 * where the block starts. So a lookup of any address (lite_malloc_owns, the
 * hooks mode, an invalid free) reads only memory that stays mapped, even while
 * another thread unmaps the block, and a block of any size costs one map
 * entry. A stale lookup finds a descriptor whose block is gone (large_user 0,
 * or another block's start), never unmapped memory.
 *
 * Freed mappings of up to LITE_LARGE_CACHE_BLOCK bytes (LITE_LARGE_CACHE_BYTES
 * in all) wait in a small lock-free cache (slots taken and filled by CAS), so
 * that bursts of large blocks cost no page faults. A request takes the
 * smallest cached mapping that fits: as it is with at most as much again to
 * spare, else cut down, the tail moved by mremap to a mapping of its own that
 * is cached in turn. When none fits, the largest is grown (in place, or moved
 * by mremap) and the growth is filled with the pages other cached mappings
 * have used, moved by mremap (gathering); a request that finds no mapping
 * to grow gathers into a fresh one. So resident pages freed at one size serve
 * any other size: mremap moves page tables, it neither copies nor faults.
 * A mapping made of moved pages is several kernel mappings (pieces, at most
 * LITE_LARGE_PIECES, and LITE_LARGE_EXTRA_PIECES beyond the first in the
 * whole process); its descriptor keeps where each starts, because mremap
 * works within one kernel mapping: a move or a growth in place takes one
 * piece at a time, and a live block of several pieces that must move is
 * copied instead.
 *
 * Cached mappings count as dirty memory and decay like the rest (decay.c): a
 * tick unmaps those that were already cached at the previous tick or were
 * cached a whole delay ago by the decay clock, lite_malloc_trim and a failed
 * mapping unmap them all. When every slot is taken, the smallest cached
 * mapping makes way for a larger one. Hardened builds keep no cache: each
 * block ends in a guard page.
 *
 * Resident memory is the part of each mapping that blocks have used (a
 * descriptor keeps where that ends; room a move left for growth is not
 * written), so the cache also keeps a budget: what live and cached mappings
 * have used may add up to at most the peak of live large bytes over the last
 * one to two purge delays, plus 1/16 and 2 MiB. A freed mapping that does not fit is
 * unmapped; a request that would grow the total past it unmaps the smallest
 * cached mappings first; a cached mapping taken for a smaller request while
 * the total is past it has its slack unmapped.
 * Within the budget nothing is unmapped or faulted in again. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "lite_internal.h"

/* The header: one OS page (read at start-up, os.c) before the block. */
#define LITE_LARGE_HEADER lite_os_page_size()
/* Hardened builds end every large block with an inaccessible guard page. */
#define LITE_LARGE_GUARD (LITE_MALLOC_HARDENED ? lite_os_page_size() : (size_t)0)
#define LITE_LARGE_CACHE_SLOTS 32
#define LITE_LARGE_CACHE_BLOCK ((size_t)32 << 20) /* largest mapping kept */
#define LITE_LARGE_CACHE_BYTES ((size_t)128 << 20) /* most bytes kept in all */
#define LITE_LARGE_BUDGET_SHARE 16                  /* peak / this over the peak, */
#define LITE_LARGE_BUDGET_SLACK ((size_t)2 << 20)    /* and this */
/* A growing block looks for a cached mapping this many times its size. */
#define LITE_LARGE_GROW_ROOM 4
/* A cached mapping more than this many times the request has its tail split off. */
#define LITE_LARGE_SPLIT 2

// -----------------------------------------------------------------------------
// Descriptors: chunks mapped once, never unmapped, reused through a stack
// -----------------------------------------------------------------------------
#define LITE_LARGE_DESC_CHUNK 256u   /* descriptors per mapping (about 160 KiB) */
#define LITE_LARGE_DESC_CHUNKS 4096u /* at most 1 M large blocks at once */
static void* _Atomic lite_large_desc_chunks[LITE_LARGE_DESC_CHUNKS];

static void lite_large_desc_init(void* record, uint32_t index) {
  lite_segment* d = record;
  for (size_t j = 0; j < LITE_SLICES; j++) atomic_init(&d->slice_page[j], &lite_empty_page);
  d->kind = LITE_SEGMENT_LARGE;
  d->large_index = index;
  d->large_pieces = 1;
}

static lite_pool lite_large_descs = {
    .chunks = lite_large_desc_chunks,
    .per_chunk = LITE_LARGE_DESC_CHUNK,
    .max_chunks = LITE_LARGE_DESC_CHUNKS,
    .size = sizeof(lite_segment),
    .link = offsetof(lite_segment, large_free_next),
    .init = lite_large_desc_init,
};

static lite_segment* lite_large_desc_new(void) {
  uint32_t index;
  return lite_pool_new(&lite_large_descs, &index);
}

/* Pieces past the first of all mappings (gathering stops at a bound, so that
 * the process keeps its kernel mappings for other uses). */
static _Atomic(size_t) lite_large_extra_pieces;
#define LITE_LARGE_EXTRA_PIECES 4096

static void lite_large_desc_release(lite_segment* d) {
  LITE_FIELD_SET(d->large_user, 0);
  lite_sub_relaxed(&lite_large_extra_pieces, d->large_pieces - 1);
  d->large_pieces = 1;
  lite_pool_free(&lite_large_descs, d->large_index);
}

// -----------------------------------------------------------------------------
// Recently freed blocks, so a second free reads "double free"
// -----------------------------------------------------------------------------
#define LITE_LARGE_RECENT 64
static _Atomic(uintptr_t) lite_large_recent[LITE_LARGE_RECENT];
static _Atomic(unsigned) lite_large_recent_next;

bool lite_large_recently_freed(const void* p) {
  for (size_t i = 0; i < LITE_LARGE_RECENT; i++)
    if (lite_load_relaxed(&lite_large_recent[i]) == (uintptr_t)p) return true;
  return false;
}

static void lite_large_forget(uintptr_t user) {
  for (size_t i = 0; i < LITE_LARGE_RECENT; i++) {
    /* A locked CAS only where the address is: 64 of them cost every large
     * malloc about a microsecond. */
    uintptr_t old = user;
    if (lite_load_relaxed(&lite_large_recent[i]) == user)
      atomic_compare_exchange_strong_explicit(&lite_large_recent[i], &old, 0, memory_order_relaxed,
                                              memory_order_relaxed);
  }
}

// -----------------------------------------------------------------------------
// Pieces: the kernel mappings a mapping is made of
// -----------------------------------------------------------------------------
/* The mapping's size; only for a mapping the caller owns (or a live block's). */
static size_t lite_large_span(lite_segment* seg) { return LITE_COUNTER_GET(seg->large_map_end) - seg->large_base; }

/* Where piece k starts, as an offset from the base. An aligned block's
 * mapping (never cached, one piece) starts again at the block, after its gap. */
static size_t lite_large_piece_start(const lite_segment* seg, uint32_t k) {
  if (k > 0) return seg->large_cut[k - 1];
  return seg->large_gap ? seg->large_user - seg->large_base : 0;
}

/* Forgets the pieces that start at or past offset `end`: the mapping ends there now. */
static void lite_large_cut_back(lite_segment* seg, size_t end) {
  while (seg->large_pieces > 1 && seg->large_cut[seg->large_pieces - 2] >= end) {
    seg->large_pieces--;
    lite_sub_relaxed(&lite_large_extra_pieces, 1);
  }
}

/* Notes that a kernel mapping starts at offset `at` (the caller checked
 * there is room for it). */
static void lite_large_add_cut(lite_segment* seg, size_t at) {
  uint32_t k = seg->large_pieces - 1;
  if (at == 0 || at >= lite_large_span(seg)) return;
  while (k > 0 && seg->large_cut[k - 1] > at) k--;
  if (k > 0 && seg->large_cut[k - 1] == at) return;
  for (uint32_t j = seg->large_pieces - 1; j > k; j--) seg->large_cut[j] = seg->large_cut[j - 1];
  seg->large_cut[k] = at;
  seg->large_pieces++;
  lite_add_relaxed(&lite_large_extra_pieces, 1);
}

/* Whether dst may take `pieces` more moved pieces (one more cut each, and
 * one where the last ends). */
static bool lite_large_room_for(const lite_segment* dst, uint32_t pieces) {
  return dst->large_pieces + pieces + 1 <= LITE_LARGE_PIECES &&
         lite_load_relaxed(&lite_large_extra_pieces) + pieces + 1 <= LITE_LARGE_EXTRA_PIECES;
}

/* The mapping ends at offset `end` now (what was past it moved or was
 * unmapped): the pieces, and what blocks have used of it, follow. */
static void lite_large_end_at(lite_segment* seg, size_t end) {
  uintptr_t new_end = seg->large_base + end;
  LITE_FIELD_SET(seg->large_map_end, new_end);
  lite_large_cut_back(seg, end);
  if (seg->large_touched_end > new_end) seg->large_touched_end = new_end;
}

/* Whether the kernel moves a range of several of its mappings in one mremap
 * (Linux 6.17 and later); cleared at the first refusal. */
static _Atomic(bool) lite_large_moves_many = true;

/* Moves the pages of [off, span) of src to dst at dst_off (mapped there by the
 * caller, fresh): mremap moves page tables, with no copy and no fault. Both
 * are mappings the caller owns. In one call where the kernel can, else piece
 * by piece from the end. src then ends where the moved part begins. Returns
 * that offset: off when all of it moved, more when the kernel refused or dst
 * had no room for another piece. A move that fails may leave its target
 * unmapped; fresh pages are mapped there again, and if even that fails
 * *broken is set: dst has a hole and must go. */
static size_t lite_large_move_tail(lite_segment* src, size_t off, lite_segment* dst, size_t dst_off,
                                   bool* broken) {
  size_t end = lite_large_span(src);
  uint32_t last = src->large_pieces - 1, first = last;
  while (first > 0 && lite_large_piece_start(src, first) > off) first--;
  if (first < last && lite_load_relaxed(&lite_large_moves_many) &&
      lite_large_room_for(dst, last - first + 1)) {
    uint8_t* from = (uint8_t*)src->large_base + off;
    uint8_t* to = (uint8_t*)dst->large_base + dst_off;
    long r = lite_os_move(from, end - off, to, end - off);
    if (r == -EFAULT || r == -EINVAL) {
      lite_store_relaxed(&lite_large_moves_many, false); /* an older kernel: nothing moved */
    } else {
      if (r == 0) {
        for (uint32_t k = first + 1; k <= last; k++)
          lite_large_add_cut(dst, dst_off + (lite_large_piece_start(src, k) - off));
      } else {
        /* Failed partway: the range at dst is made whole again, fresh, and
         * what is left at src goes. */
        if (!lite_os_map_over(to, end - off)) *broken = true;
        lite_os_unmap(from, end - off);
      }
      lite_large_add_cut(dst, dst_off);
      lite_large_add_cut(dst, dst_off + (end - off));
      lite_large_end_at(src, off);
      return off;
    }
  }
  while (end > off && lite_large_room_for(dst, 1)) {
    size_t start = lite_large_piece_start(src, src->large_pieces - 1);
    if (start < off) start = off;
    uint8_t* to = (uint8_t*)dst->large_base + dst_off + (start - off);
    if (lite_os_move((void*)(src->large_base + start), end - start, to, end - start) != 0) {
      if (!lite_os_map_over(to, end - start)) *broken = true;
      break;
    }
    lite_large_add_cut(dst, dst_off + (start - off));
    lite_large_add_cut(dst, dst_off + (end - off));
    lite_large_end_at(src, start);
    end = start;
  }
  return end;
}

/* Grows a mapping in place to new_span bytes: the kernel extends its last
 * piece when the addresses after it are free. */
static bool lite_large_grow(lite_segment* seg, size_t new_span) {
  size_t start = lite_large_piece_start(seg, seg->large_pieces - 1);
  if (!lite_os_grow_inplace((void*)(seg->large_base + start), lite_large_span(seg) - start, new_span - start))
    return false;
  LITE_FIELD_SET(seg->large_map_end, seg->large_base + new_span);
  return true;
}

/* Unmaps the part of a mapping past offset `end`. */
static void lite_large_cut_to(lite_segment* seg, size_t end) {
  uintptr_t new_end = seg->large_base + end;
  if (lite_os_unmap((void*)new_end, LITE_COUNTER_GET(seg->large_map_end) - new_end)) lite_large_end_at(seg, end);
}

// -----------------------------------------------------------------------------
// Mapping and unmapping
// -----------------------------------------------------------------------------
/* The one radix-map entry of a block: the 4 MiB unit of its first byte. It is
 * entered before the block is handed out and removed before the mapping is
 * unmapped or moved, so it never outlives the mapping into someone else's. */
static uintptr_t lite_large_unit(const lite_segment* seg) {
  /* A cached mapping (large_user 0) keeps the entry of its block, which
   * started right after the header. */
  uintptr_t user = seg->large_user ? seg->large_user : seg->large_base + LITE_LARGE_HEADER;
  return user & ~(uintptr_t)(LITE_SEGMENT_SIZE - 1);
}

static void lite_large_unmap(lite_segment* seg) {
  uintptr_t base = seg->large_base, user = seg->large_user, end = seg->large_map_end;
  lite_map_unregister(lite_large_unit(seg), lite_large_unit(seg) + 1);
  if (seg->large_gap) {
    lite_os_unmap((void*)user, end - user + LITE_LARGE_GUARD);
    lite_os_unmap((void*)base, LITE_LARGE_HEADER);
  } else if (lite_os_unmap((void*)base, end - base + LITE_LARGE_GUARD)) {
    lite_os_hint_free((void*)base, end - base + LITE_LARGE_GUARD);
  }
  lite_large_desc_release(seg);
}

/* Moves a block that starts right after its header page to a new 4 MiB-aligned
 * mapping with room for `room` bytes, with mremap: the pages move, nothing is
 * copied, the descriptor stays. False if the kernel refuses or the mapping is
 * made of several pieces; the block is then untouched. */
static bool lite_large_move(lite_segment* seg, size_t room) {
  uintptr_t base = seg->large_base, map_end = seg->large_map_end;
  if (seg->large_pieces > 1) return false; /* mremap moves one kernel mapping */
  room = lite_os_page_round(room);
  size_t span = LITE_LARGE_HEADER + room;
  uint8_t* to = lite_os_map_aligned(span, LITE_SEGMENT_SIZE);
  if (to == NULL) return false;
  if (!lite_map_register((uintptr_t)to, (uintptr_t)to + 1, seg)) {
    lite_os_unmap(to, span);
    return false;
  }
  lite_map_unregister(base, base + 1);
  if (lite_os_move((void*)base, map_end - base, to, span) != 0) {
    lite_map_register(base, base + 1, seg); /* the table exists: cannot fail */
    lite_map_unregister((uintptr_t)to, (uintptr_t)to + 1);
    lite_os_unmap(to, span);
    return false;
  }
  seg->large_touched_end = (uintptr_t)to + (seg->large_touched_end - base);
  seg->large_base = (uintptr_t)to;
  LITE_FIELD_SET(seg->large_user, (uintptr_t)to + LITE_LARGE_HEADER);
  LITE_FIELD_SET(seg->large_map_end, (uintptr_t)to + span);
  return true;
}

static lite_segment* lite_large_map(size_t body, size_t align) {
  size_t offset = align; /* from the start of the mapping to the block */
  size_t base_align = align > LITE_SEGMENT_SIZE ? align : LITE_SEGMENT_SIZE;
  lite_decay_before_growth();
  uint8_t* base = lite_os_map_aligned(offset + body + LITE_LARGE_GUARD, base_align);
  /* Out of address space: every cache goes back first (free segments are
   * hollowed), then one more try. */
  if (base == NULL && lite_decay_run(true, false))
    base = lite_os_map_aligned(offset + body + LITE_LARGE_GUARD, base_align);
  if (base == NULL) return NULL;
  lite_segment* seg = lite_large_desc_new();
  if (seg == NULL ||
      (LITE_LARGE_GUARD && !lite_os_protect_none(base + offset + body, LITE_LARGE_GUARD))) {
    if (seg != NULL) lite_large_desc_release(seg);
    lite_os_unmap(base, offset + body + LITE_LARGE_GUARD);
    return NULL;
  }
  seg->large_base = (uintptr_t)base;
  LITE_FIELD_SET(seg->large_user, (uintptr_t)base + offset);
  LITE_FIELD_SET(seg->large_map_end, seg->large_user + body);
  seg->large_touched_end = (uintptr_t)base; /* nothing written yet */
  seg->large_gap = 0;
  if (offset - LITE_LARGE_HEADER >= LITE_SLICE_SIZE &&
      lite_os_unmap(base + LITE_LARGE_HEADER, offset - LITE_LARGE_HEADER))
    seg->large_gap = (uintptr_t)base + LITE_LARGE_HEADER;
  if (!lite_map_register(lite_large_unit(seg), lite_large_unit(seg) + 1, seg)) {
    lite_large_unmap(seg);
    return NULL;
  }
  return seg;
}

/* Unmaps the part of a mapping past new_end when it is 64 KiB or more. */
static void lite_large_trim_slack(lite_segment* seg, uintptr_t new_end) {
  if (seg->large_map_end - new_end >= LITE_SLICE_SIZE) lite_large_cut_to(seg, new_end - seg->large_base);
}

// -----------------------------------------------------------------------------
// The cache of freed mappings
// -----------------------------------------------------------------------------
/* Slot i holds a cached mapping, and lite_large_cache_span[i] its size: a
 * scan must not touch a mapping it does not own yet (another thread may take
 * it and a purge unmap it meanwhile), so it picks by the size beside the slot
 * and checks the real size once its CAS has made the mapping its own. */
static _Atomic(lite_segment*) lite_large_cache[LITE_LARGE_CACHE_SLOTS];
static _Atomic(size_t) lite_large_cache_span[LITE_LARGE_CACHE_SLOTS];

/* What a mapping counts in the budget: the part blocks have used (room a
 * move left past the block was never written). */
static size_t lite_large_charge(const lite_segment* seg) {
  /* An aligned block's gap before it is unmapped (such blocks are never cached). */
  uintptr_t start = seg->large_gap ? seg->large_user : seg->large_base;
  return seg->large_touched_end > start ? seg->large_touched_end - start : 0;
}
static _Atomic(size_t) lite_large_cached_charge;

static void lite_large_uncount(lite_segment* seg) {
  size_t span = lite_large_span(seg);
  lite_sub_relaxed(&lite_large_cached_charge, lite_large_charge(seg));
  lite_sub_relaxed(&lite_stat.large_cached, span);
  lite_sub_relaxed(&lite_stat.large_cached_blocks, 1);
  lite_sub_relaxed(&lite_stat.dirty_bytes, span);
}

/* Takes the mapping in slot i, if any; its size no longer counts as cached. */
static lite_segment* lite_large_cache_grab(size_t i) {
  lite_segment* seg = lite_load_acquire(&lite_large_cache[i]);
  if (seg == NULL ||
      !atomic_compare_exchange_strong_explicit(&lite_large_cache[i], &seg, NULL,
                                               memory_order_acquire, memory_order_relaxed))
    return NULL;
  lite_large_uncount(seg);
  return seg;
}

/* The slot of the smallest cached mapping of at least `want` bytes, else of
 * the largest one (by the sizes beside the slots); SLOTS if the cache is
 * empty. A block that grows wants more than it needs: room to grow into. */
static size_t lite_large_cache_pick(size_t want) {
  size_t fit = LITE_LARGE_CACHE_SLOTS, fit_span = SIZE_MAX, big = LITE_LARGE_CACHE_SLOTS, big_span = 0;
  for (size_t i = 0; i < LITE_LARGE_CACHE_SLOTS; i++) {
    if (lite_load_relaxed(&lite_large_cache[i]) == NULL) continue;
    size_t span = lite_load_relaxed(&lite_large_cache_span[i]);
    if (span >= want && span < fit_span) fit = i, fit_span = span;
    if (span > big_span) big = i, big_span = span;
  }
  return fit != LITE_LARGE_CACHE_SLOTS ? fit : big;
}

static bool lite_large_cache_put(lite_segment* seg);

/* Whether a cached mapping of at least `need` bytes is there now. */
static bool lite_large_cache_fits(size_t need) {
  size_t i = lite_large_cache_pick(need);
  return i != LITE_LARGE_CACHE_SLOTS && lite_load_relaxed(&lite_large_cache_span[i]) >= need;
}

/* The budget's figures: what the mappings of live blocks charge, and the
 * peak of live large bytes in this purge period and the one before. */
static _Atomic(size_t) lite_large_live_charge, lite_large_peak, lite_large_peak_before;

static void lite_large_note_live(void) {
  size_t live = lite_load_relaxed(&lite_stat.large_bytes);
  if (live > lite_load_relaxed(&lite_large_peak)) lite_store_relaxed(&lite_large_peak, live);
}

static size_t lite_large_budget(void) {
  size_t peak = lite_load_relaxed(&lite_large_peak), before = lite_load_relaxed(&lite_large_peak_before);
  if (before > peak) peak = before;
  return peak + peak / LITE_LARGE_BUDGET_SHARE + LITE_LARGE_BUDGET_SLACK;
}

/* Whether what live and cached mappings charge, with `extra` more, is past
 * the budget. */
static bool lite_large_over_budget(size_t extra) {
  return lite_load_relaxed(&lite_large_live_charge) + lite_load_relaxed(&lite_large_cached_charge) + extra >
         lite_large_budget();
}

/* Unmaps the smallest cached mapping if it is smaller than `below`; false if
 * there is none. */
static bool lite_large_evict_smallest(size_t below) {
  size_t best = LITE_LARGE_CACHE_SLOTS, best_span = SIZE_MAX;
  for (size_t i = 0; i < LITE_LARGE_CACHE_SLOTS; i++) {
    if (lite_load_relaxed(&lite_large_cache[i]) == NULL) continue;
    size_t span = lite_load_relaxed(&lite_large_cache_span[i]);
    if (span < best_span) best = i, best_span = span;
  }
  if (best == LITE_LARGE_CACHE_SLOTS || best_span >= below) return false;
  lite_segment* seg = lite_large_cache_grab(best);
  if (seg != NULL) {
    lite_add_relaxed(&lite_stat.purged_bytes, lite_large_span(seg));
    lite_large_unmap(seg);
  }
  return true;
}

/* Cuts a mapping the caller owns down to `keep` bytes; the pages past that
 * move (mremap: no copy, no fault) to a 4 MiB-aligned mapping of their own that
 * goes to the cache. Without a descriptor, an address or a free slot the tail
 * is unmapped instead. */
static void lite_large_split(lite_segment* seg, size_t keep) {
  size_t span = lite_large_span(seg), tail = span - keep;
  uintptr_t touched = seg->large_touched_end, from = seg->large_base + keep;
  lite_segment* rest = lite_large_desc_new();
  uint8_t* to = rest != NULL ? lite_os_map_aligned(tail, LITE_SEGMENT_SIZE) : NULL;
  if (to != NULL && lite_map_register((uintptr_t)to, (uintptr_t)to + 1, rest)) {
    rest->large_base = (uintptr_t)to;
    LITE_FIELD_SET(rest->large_map_end, (uintptr_t)to + tail);
    rest->large_gap = 0;
    bool broken = false;
    size_t left = lite_large_move_tail(seg, keep, rest, 0, &broken);
    if (broken) {
      if (left > keep) lite_large_cut_to(seg, keep);
      lite_large_unmap(rest);
      return;
    }
    if (left < span) {
      /* What did not move (the kernel refused a piece) is given back. */
      if (left > keep) lite_large_cut_to(seg, keep);
      rest->large_touched_end = (uintptr_t)to + (touched > from ? touched - from : 0);
      if (!lite_large_cache_put(rest)) lite_large_unmap(rest);
      return;
    }
    lite_map_unregister((uintptr_t)to, (uintptr_t)to + 1);
  }
  if (to != NULL) lite_os_unmap(to, tail);
  if (rest != NULL) lite_large_desc_release(rest);
  lite_large_trim_slack(seg, from);
}

/* Fills [from, need) of a mapping the caller owns, fresh there, with pages
 * that other cached mappings have used, moved from their ends: first from
 * the smallest that covers what is left, else the largest. A block whose size
 * no cached mapping has is then made of resident pages, with no page faults
 * and no growth of the process. Returns where the moved pages end: the
 * block may hold old data up to there. *broken: see lite_large_move_tail. */
#define LITE_LARGE_GATHER_MIN ((size_t)512 << 10) /* less than this is left to fault in */
static size_t lite_large_gather(lite_segment* seg, size_t from, size_t need, bool* broken) {
  size_t fill = from;
  for (size_t tries = 0; tries < LITE_LARGE_CACHE_SLOTS && need - fill >= LITE_LARGE_GATHER_MIN &&
                         lite_large_room_for(seg, 1);
       tries++) {
    size_t i = lite_large_cache_pick(need - fill);
    if (i == LITE_LARGE_CACHE_SLOTS) break;
    lite_segment* src = lite_large_cache_grab(i);
    if (src == NULL) continue;
    /* Pages it never used are not worth moving. */
    if (src->large_touched_end < src->large_map_end)
      lite_large_cut_to(src, src->large_touched_end > src->large_base ? src->large_touched_end - src->large_base : 0);
    size_t span = lite_large_span(src), take = span < need - fill ? span : need - fill;
    /* A mapping that moves away whole leaves the map first: once its
     * addresses are free, another thread may map there and register them. */
    uintptr_t unit = lite_large_unit(src);
    if (take == span) lite_map_unregister(unit, unit + 1);
    size_t left = take > 0 ? lite_large_move_tail(src, span - take, seg, fill, broken) : span;
    bool all = left == span - take;
    if (take == span && left > 0) lite_map_register(unit, unit + 1, src); /* the table exists: cannot fail */
    if (left == 0) {
      /* Nothing is left of it, header page included. */
      lite_os_hint_free((void*)src->large_base, span);
      lite_large_desc_release(src);
    } else if (!lite_large_cache_put(src)) {
      lite_large_unmap(src);
    }
    if (left < span) fill += take;
    if (!all || *broken) break;
  }
  return fill;
}

/* A cached mapping for a page-aligned block of `body` bytes, made to fit: the
 * smallest that is large enough, its tail split off (unless !split: a growing
 * block keeps it as room), else the largest, grown, the growth filled with
 * other cached mappings' pages. NULL if the cache is empty or the largest
 * cannot grow. *used: how many bytes of the block may hold old data (the rest
 * is fresh from the kernel, zero). */
static lite_segment* lite_large_cache_take(size_t body, size_t* used, bool split) {
  size_t need = LITE_LARGE_HEADER + body;
  lite_segment* seg = NULL;
  for (int attempt = 0; attempt < 4 && seg == NULL; attempt++) {
    size_t i = lite_large_cache_pick(split ? need : need * LITE_LARGE_GROW_ROOM);
    if (i == LITE_LARGE_CACHE_SLOTS) return NULL;
    seg = lite_large_cache_grab(i);
  }
  if (seg == NULL) return NULL;
  size_t have = lite_large_span(seg);
  *used = have - LITE_LARGE_HEADER;
  if (have < need) {
    lite_decay_before_growth();
    if (!lite_large_grow(seg, need) && !lite_large_move(seg, need - LITE_LARGE_HEADER)) {
      if (!lite_large_cache_put(seg)) lite_large_unmap(seg);
      return NULL;
    }
    bool broken = false;
    *used = lite_large_gather(seg, have, need, &broken) - LITE_LARGE_HEADER;
    if (broken) {
      lite_large_unmap(seg);
      return NULL;
    }
    while (lite_large_over_budget(need) && lite_large_evict_smallest(SIZE_MAX)) {
    }
  } else if (seg->large_touched_end >= seg->large_base + need + LITE_SLICE_SIZE &&
             lite_large_over_budget(lite_large_charge(seg))) {
    lite_large_trim_slack(seg, seg->large_base + need);
    if (*used > need - LITE_LARGE_HEADER) *used = need - LITE_LARGE_HEADER;
  }
  size_t span = lite_large_span(seg);
  if (split && span / LITE_LARGE_SPLIT > need && span - need >= LITE_SLICE_SIZE)
    lite_large_split(seg, need);
  return seg;
}

/* Keeps a freed mapping for reuse; false when it does not fit (too large, or
 * the cache is full, or LITE_MALLOC_PURGE_DELAY=0 asks for memory back at
 * once). */
static bool lite_large_cache_put(lite_segment* seg) {
  size_t span = lite_large_span(seg);
  size_t cached = lite_load_relaxed(&lite_stat.large_cached);
  if (LITE_LARGE_GUARD || seg->large_gap || span > LITE_LARGE_CACHE_BLOCK ||
      lite_options[LITE_OPT_PURGE_DELAY] == 0 || cached + span > LITE_LARGE_CACHE_BYTES)
    return false;
  /* Past the budget, smaller cached mappings (cut-off tails, most often) make
   * way for this one, which a block of this size just needed. */
  size_t charge = lite_large_charge(seg);
  while (lite_large_over_budget(charge) && lite_large_evict_smallest(span)) {
  }
  if (lite_large_over_budget(charge)) return false;
  for (int round = 0; round < 2; round++) {
    for (size_t i = 0; i < LITE_LARGE_CACHE_SLOTS; i++) {
      if (lite_load_relaxed(&lite_large_cache[i]) != NULL) continue;
      lite_store_relaxed(&lite_large_cache_span[i], span);
      lite_store_relaxed(&seg->large_cached_ms, lite_load_relaxed(&lite_decay_now));
      lite_segment* empty = NULL;
      if (atomic_compare_exchange_strong_explicit(&lite_large_cache[i], &empty, seg,
                                                  memory_order_release, memory_order_relaxed)) {
        lite_add_relaxed(&lite_large_cached_charge, charge);
        lite_add_relaxed(&lite_stat.large_cached, span);
        lite_add_relaxed(&lite_stat.large_cached_blocks, 1);
        lite_add_relaxed(&lite_stat.dirty_bytes, span);
        lite_decay_tick();
        return true;
      }
    }
    /* Every slot taken: the smallest cached mapping makes way for a larger one. */
    if (!lite_large_evict_smallest(span)) break;
  }
  return false;
}

/* Unmaps cached mappings: all, or those already cached at the previous tick.
 * True if any went. */
static _Atomic(lite_segment*) lite_large_cache_seen[LITE_LARGE_CACHE_SLOTS];
bool lite_large_release(bool all, bool background) {
  (void)background;
  bool any = false;
  /* A new purge period for the budget's peak. */
  lite_store_relaxed(&lite_large_peak_before, all ? 0 : lite_load_relaxed(&lite_large_peak));
  lite_store_relaxed(&lite_large_peak, lite_load_relaxed(&lite_stat.large_bytes));
  uint64_t now = lite_load_relaxed(&lite_decay_now);
  for (size_t i = 0; i < LITE_LARGE_CACHE_SLOTS; i++) {
    lite_segment* seg = lite_load_relaxed(&lite_large_cache[i]);
    lite_segment* seen = lite_exchange(&lite_large_cache_seen[i], seg, memory_order_relaxed);
    /* Descriptors are never unmapped: the stamp of one taken meanwhile reads stale, not faults. */
    if (seg == NULL ||
        (!all && seg != seen && !lite_decay_expired(lite_load_relaxed(&seg->large_cached_ms), now)))
      continue;
    if (!atomic_compare_exchange_strong_explicit(&lite_large_cache[i], &seg, NULL,
                                                 memory_order_acquire, memory_order_relaxed))
      continue;
    lite_store_relaxed(&lite_large_cache_seen[i], NULL);
    size_t span = lite_large_span(seg);
    lite_large_uncount(seg);
    lite_add_relaxed(&lite_stat.purged_bytes, span);
    lite_large_unmap(seg);
    any = true;
  }
  return any;
}

// -----------------------------------------------------------------------------
// The entry points
// -----------------------------------------------------------------------------
static void* lite_large_alloc_in(size_t size, size_t align, bool zero, bool split) {
  size_t page = lite_os_page_size();
  if (align < page) align = page;
  size_t body = lite_os_page_round(size ? size : 1);
  if (body < size || body > PTRDIFF_MAX - align - LITE_SEGMENT_SIZE) return NULL;
  size_t used = 0;
  lite_segment* seg = align == page ? lite_large_cache_take(body, &used, split) : NULL;
  if (seg != NULL) {
    LITE_FIELD_SET(seg->large_user, seg->large_base + LITE_LARGE_HEADER);
    if (zero) memset((void*)seg->large_user, 0, used < body ? used : body);
  } else {
    seg = lite_large_map(body, align); /* fresh mappings are zero */
    if (seg == NULL) return NULL;
    /* Other sizes' cached pages, rather than page faults, when there are any. */
    if (align == page && !LITE_LARGE_GUARD) {
      bool broken = false;
      used = lite_large_gather(seg, LITE_LARGE_HEADER, LITE_LARGE_HEADER + body, &broken) - LITE_LARGE_HEADER;
      if (broken) {
        lite_large_unmap(seg);
        return NULL;
      }
      if (zero) memset((void*)seg->large_user, 0, used);
    }
  }
  seg->large_end = seg->large_user + body;
  if (seg->large_touched_end < seg->large_end) seg->large_touched_end = seg->large_end;
  lite_large_forget(seg->large_user);
  lite_add_relaxed(&lite_large_live_charge, lite_large_charge(seg));
  lite_add_relaxed(&lite_stat.large_blocks, 1);
  lite_add_relaxed(&lite_stat.large_bytes, body);
  lite_large_note_live();
  lite_add_relaxed(&lite_stat.large_allocs, 1);
  return (void*)seg->large_user;
}

void* lite_large_alloc(size_t size, size_t align, bool zero) {
  return lite_large_alloc_in(size, align, zero, true);
}

void* lite_large_alloc_growing(size_t size) { return lite_large_alloc_in(size, 0, false, false); }

static void lite_large_check(lite_segment* seg, const void* p, const char* what) {
  if ((uintptr_t)p == seg->large_user) return;
  if (seg->large_user == 0 || lite_large_recently_freed(p))
    lite_fatal("double free", p, "large block already freed");
  lite_fatal(what, p, "not the start of a block");
}

void lite_large_free(lite_segment* seg, void* p) {
  lite_large_check(seg, p, "invalid free");
  unsigned slot = lite_add_relaxed(&lite_large_recent_next, 1) % LITE_LARGE_RECENT;
  lite_store_relaxed(&lite_large_recent[slot], (uintptr_t)p);
  lite_sub_relaxed(&lite_stat.large_blocks, 1);
  lite_sub_relaxed(&lite_stat.large_bytes, seg->large_end - seg->large_user);
  lite_sub_relaxed(&lite_large_live_charge, lite_large_charge(seg));
  lite_add_relaxed(&lite_stat.large_frees, 1);
  uintptr_t user = seg->large_user;
  LITE_FIELD_SET(seg->large_user, 0); /* a free of it while cached is a double free */
  if (lite_large_cache_put(seg)) return;
  LITE_FIELD_SET(seg->large_user, user);
  lite_large_unmap(seg);
}

size_t lite_large_usable(lite_segment* seg, const void* p) {
  lite_large_check(seg, p, "malloc_usable_size");
  return seg->large_end - seg->large_user;
}

/* Shrinks in place (unmapping a tail of 64 KiB or more), grows in place into
 * slack or when the kernel can extend the mapping, or moves the pages with
 * mremap. NULL when the block must be copied instead (the caller, realloc,
 * does that: this layer does not allocate). */
static void* lite_large_resize_mapping(lite_segment* seg, void* p, size_t size) {
  uintptr_t user = seg->large_user, end = seg->large_end, map_end = seg->large_map_end;
  size_t usable = end - user, body = lite_os_page_round(size);
  if (size <= LITE_MEDIUM_MAX || (LITE_LARGE_GUARD && size <= usable / 2)) return NULL;
  if (body <= map_end - user && (LITE_LARGE_GUARD == 0 || body <= usable)) {
    uintptr_t new_end = user + body;
    if (!LITE_LARGE_GUARD) {
      /* Shrinking gives the tail back; growing into room keeps the rest of
       * the room for the growth to come. */
      if (body < usable) lite_large_trim_slack(seg, new_end);
      seg->large_end = new_end;
    }
    lite_add_relaxed(&lite_stat.large_bytes, seg->large_end - end);
    return p;
  }
  if (!LITE_LARGE_GUARD && body >= size && lite_large_grow(seg, user - seg->large_base + body)) {
    seg->large_end = user + body;
    lite_add_relaxed(&lite_stat.large_bytes, seg->large_end - end);
    return p;
  }
  if (!LITE_LARGE_GUARD && user == seg->large_base + LITE_LARGE_HEADER &&
      lite_large_move(seg, body + body / 2)) {
    seg->large_end = seg->large_user + body;
    lite_add_relaxed(&lite_stat.large_bytes, body - usable);
    return (void*)seg->large_user;
  }
  return NULL;
}

/* Moves a growing block into a cached mapping with room for half as much
 * again: its pages are resident, so copying into it costs less than faulting
 * the growth in, and the process does not grow. NULL if none was taken. */
static void* lite_large_copy_to_cached(lite_segment* seg, void* p, size_t body) {
  size_t used;
  lite_segment* to = lite_large_cache_take(lite_os_page_round(body + body / 2), &used, false);
  if (to == NULL) return NULL;
  (void)used;
  LITE_FIELD_SET(to->large_user, to->large_base + LITE_LARGE_HEADER);
  to->large_end = to->large_user + body;
  if (to->large_touched_end < to->large_end) to->large_touched_end = to->large_end;
  lite_large_forget(to->large_user);
  memcpy((void*)to->large_user, p, seg->large_end - seg->large_user);
  lite_add_relaxed(&lite_large_live_charge, lite_large_charge(to));
  lite_add_relaxed(&lite_stat.large_blocks, 1);
  lite_add_relaxed(&lite_stat.large_bytes, body);
  lite_add_relaxed(&lite_stat.large_allocs, 1);
  lite_large_note_live();
  lite_large_free(seg, p);
  return (void*)to->large_user;
}

void* lite_large_resize(lite_segment* seg, void* p, size_t size) {
  lite_large_check(seg, p, "invalid realloc");
  size_t body = lite_os_page_round(size);
  if (!LITE_LARGE_GUARD && size > LITE_MEDIUM_MAX && body >= size &&
      body > seg->large_map_end - seg->large_user &&
      lite_large_cache_fits(LITE_LARGE_HEADER + lite_os_page_round(body + body / 2))) {
    void* q = lite_large_copy_to_cached(seg, p, body);
    if (q != NULL) return q;
  }
  size_t charge = lite_large_charge(seg);
  void* q = lite_large_resize_mapping(seg, p, size);
  if (q != NULL) {
    if (seg->large_touched_end < seg->large_end) seg->large_touched_end = seg->large_end;
    lite_add_relaxed(&lite_large_live_charge, lite_large_charge(seg) - charge); /* wraps when it shrank */
    lite_large_note_live();
  }
  return q;
}
