/* Every structure of lite_malloc, with what each field means and who may touch it.
 *
 * Memory comes from the OS in 4 MiB-aligned segments. A segment's first 64 KiB
 * slice holds its header; the other 63 slices are handed out in runs ("pages")
 * that each serve one size class. Every segment (and every directly mapped large
 * block) is entered in a two-level radix map keyed by address, so any pointer can
 * be traced to its header in two loads, and foreign pointers are recognised.
 *
 * Ownership rules:
 *  - A page belongs to at most one thread front (its owner). Only the owner pops
 *    blocks, pushes blocks it frees itself, and changes used/free/reserved.
 *  - Other threads free into the page's xfree list with a CAS push; the owner
 *    takes the whole list with one exchange, so neither side can suffer ABA.
 *    Before the owner puts a page on its full list it arms the word (no blocks,
 *    the owner's handle id); the first remote free then takes the word back to
 *    empty and hands its block to that handle instead, which is how the owner
 *    hears that a full page has room again (remote.c).
 *  - Handles are small type-stable records, one per live front, never unmapped
 *    (handle.c): remote threads and reclaimers only ever write to a handle, never
 *    to a front, so fronts can be released when their thread exits.
 *  - Engines are shared by threads: their segment lists are push-only, their
 *    stacks of abandoned pages use 64-bit words holding a 32-bit page id and a
 *    32-bit tag, and segment slice bitmaps change only by CAS. No locks anywhere.
 *  - A segment's header slice is never unmapped (free slices are purged with
 *    madvise, and a segment left entirely free has its other 63 slices
 *    unmapped), so page descriptors stay readable for as long as the process
 *    lives. Large-block descriptors live in a pool apart from their mappings. */
#ifndef LITE_TYPES_H
#define LITE_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include "lite_atomic.h"
#include "lite_config.h"

/* A free block. Every block has room for both words (16 bytes at least). */
typedef struct lite_block {
  struct lite_block* next;
  /* Its page descriptor's address while the block is free, in every build;
   * malloc clears it.
   * A free that finds it set looks the block up in its page's lists (twice.c). */
  uintptr_t key;
} lite_block;

struct lite_front;

enum lite_page_kind {
  LITE_PAGE_NONE = 0,   /* not a page of blocks: empty slice, header, large block */
  LITE_PAGE_BLOCKS = 1, /* a page of blocks of one size class */
  LITE_PAGE_FRONT = 2,  /* slices that hold a thread front */
};

/* Owner tag bit: set in `owner` while the page sits on its owner's full list. */
#define LITE_OWNER_FULL ((uintptr_t)1)
/* xfree value of an armed page: low word 1 (block offsets are multiples of 8),
 * high word the id of the owner's handle. */
#define LITE_XFREE_ARMED 1u

typedef struct lite_page {
  /* --- read by every free, on any thread --- */
  _Atomic(uintptr_t) owner; /* the owning front (| LITE_OWNER_FULL when full), or 0 */
  uintptr_t start;          /* address of the first block */
  size_t limit;             /* bytes of blocks carved so far (owner writes) */
  uint64_t magic;           /* UINT64_MAX / block_size + 1: offset % size == 0 test */
  /* magic again, as the bound of that test: from a field of its own, both
   * operands come straight from memory (one instruction fewer on free). */
  uint64_t magic_bound;
  /* --- owner only --- */
  lite_block* free;         /* blocks ready to hand out */
  uint32_t used;            /* blocks handed out and not yet back in `free` */
  uint32_t reserved;        /* blocks carved from the page so far */
  /* Last of the fields the fast paths touch, so that they all share the
   * descriptor's first cache line. */
  uint64_t frees;           /* blocks that came back to this page, ever (statistics);
                               blocks handed out = frees + used */
  uint32_t capacity;        /* blocks the page can hold */
  uint32_t block_size;      /* bytes per block */
  uint16_t cls;             /* size class */
  uint8_t slice_count;      /* 64 KiB slices the page spans */
  uint8_t kind;             /* enum lite_page_kind */
  uint32_t slice_index;     /* first slice within its segment */
  struct lite_page* next;   /* owner's list (available or full) for this class */
  struct lite_page* prev;
  /* --- shared --- */
  /* Blocks freed by other threads: (count << 32) | offset of the first block
   * from the segment start (0: none), or armed (see LITE_XFREE_ARMED). One CAS
   * pushes, one exchange takes all, and the owner learns the count without
   * walking the list. */
  _Atomic(uint64_t) xfree;
  _Atomic(uint32_t) stack_next; /* page id below this one in a lock-free stack */
  _Atomic(uint32_t) pending;    /* blocks freed into it that wait on a handle's list */
} __attribute__((aligned(64))) lite_page;
_Static_assert(__builtin_offsetof(lite_page, frees) + sizeof(uint64_t) <= 64,
               "the fields of the fast paths fit in one cache line");

enum { LITE_HOLLOW_NO = 0, LITE_HOLLOW_YES = 1, LITE_HOLLOW_FILLING = 2, LITE_HOLLOW_LOST = 3 };

/* Most kernel mappings one large block's mapping may be made of (large.c). */
#define LITE_LARGE_PIECES 32

enum lite_segment_kind {
  LITE_SEGMENT_NULL = 0,  /* the shared stand-in for "not lite_malloc's" */
  LITE_SEGMENT_PAGES = 1, /* 4 MiB of slices */
  LITE_SEGMENT_LARGE = 2, /* a directly mapped block's descriptor (not in the mapping) */
};

typedef struct lite_segment {
  /* Page covering each slice; &lite_empty_page where none. Read by free. */
  _Atomic(lite_page*) slice_page[LITE_SLICES];
  uint32_t kind;                 /* enum lite_segment_kind */
  uint32_t engine;               /* engine whose list holds it */
  struct lite_segment* next;     /* next segment of the same engine (immutable) */
  _Atomic(uint64_t) used_mask;   /* slices handed out (bit 0: the header) */
  _Atomic(uint64_t) dirty_mask;  /* free slices still backed by memory */
  _Atomic(uint64_t) dirty_seen;  /* dirty slices at the last purge tick (decay) */
  _Atomic(uint64_t) dirty_ms;    /* decay clock when a slice was last released */
  _Atomic(bool) header_purged;   /* descriptors purged since the segment was last used */
  /* LITE_HOLLOW_*: slices 1..63 unmapped (only this header slice stays, so page
   * descriptors stay readable); used_mask is all ones meanwhile. */
  _Atomic(uint32_t) hollow;
  /* large blocks only */
  uintptr_t large_user;          /* the pointer handed out; 0 while cached */
  uintptr_t large_end;           /* end of the usable bytes (page aligned) */
  uintptr_t large_map_end;       /* end of the mapping (>= large_end when reused) */
  uintptr_t large_gap;           /* start of the unmapped gap before the block, or 0 */
  uintptr_t large_base;          /* start of the mapping */
  uint32_t large_index;          /* place in the table of descriptors (large.c) */
  _Atomic(uint32_t) large_free_next; /* next free descriptor + 1, while free */
  _Atomic(uint64_t) large_cached_ms; /* decay clock when the mapping was cached */
  uintptr_t large_touched_end;   /* end of what blocks have used of the mapping (resident) */
  /* The kernel mappings it is made of: 1, unless pages of other cached
   * mappings were moved in (large.c); large_cut[k] is where mapping k + 2
   * starts, as an offset from large_base, ascending. */
  uint32_t large_pieces;
  size_t large_cut[LITE_LARGE_PIECES - 1];
  lite_page pages[];             /* LITE_SEGMENT_PAGES only: one per slice */
} lite_segment;

typedef struct lite_engine {
  _Atomic(lite_segment*) segments;     /* push-only list */
  _Atomic(size_t) retries;             /* failed CAS attempts on this engine (contention) */
  _Atomic(lite_segment*) hint;         /* segment where the last claim succeeded */
  _Atomic(bool) any_abandoned;         /* set after each push to abandoned[] */
  _Atomic(uint64_t) abandoned[LITE_CLASSES]; /* stacks: (tag << 32) | page id */
} __attribute__((aligned(64))) lite_engine;

struct lite_handle;

/* Per-thread state. The malloc fast path reads direct[(size+7)/8]->free only. */
typedef struct lite_front {
  /* 1 while the owner is inside malloc or one of its slow paths; reclaimers
   * read it (reclaim.c). */
  _Atomic(uint32_t) busy;
  uint32_t hid;                   /* index of this front's handle */
  struct lite_handle* handle;
  /* cur[] of the small classes again, indexed by size in 8-byte steps so that
   * malloc needs no class computation (class c >= 1 fills entries 2c-1 and 2c). */
  lite_page* direct[LITE_SMALL_MAX / 8 + 1];
  lite_page* cur[LITE_CLASSES];   /* page to allocate from; &lite_empty_page if none */
  lite_page* avail[LITE_CLASSES]; /* owned pages that may have free blocks (has cur) */
  lite_page* full[LITE_CLASSES];  /* owned pages that had none left when last looked */
  lite_page* self;                /* the page that holds this front */
  uint32_t id;                    /* attach order; picks the pinned engine */
  uint32_t rr;                    /* round-robin cursor (per-allocation engines) */
} lite_front;

/* Steal word of a handle (reclaim.c). */
enum {
  LITE_STEAL_FREE = 0, /* the owner may run its slow paths */
  LITE_STEAL_HELD = 1, /* a reclaimer is working on the front */
  LITE_STEAL_LEFT = 2, /* with HELD: the owner exited meanwhile; the reclaimer detaches */
  LITE_STEAL_DEAD = 4, /* no front: the handle is free */
};

/* What other threads know of a front: 64 bytes, in chunks never unmapped. */
typedef struct lite_handle {
  _Atomic(lite_front*) front;   /* NULL while the handle is free */
  _Atomic(lite_block*) delayed; /* blocks freed into the front's armed full pages */
  _Atomic(uint32_t) steal;      /* LITE_STEAL_* */
  _Atomic(uint32_t) epoch;      /* slow paths the owner has run (owner writes) */
  _Atomic(uint32_t) free_next;  /* handle below this one on the free stack */
  _Atomic(uint32_t) seen_epoch; /* epoch when a reclaim tick last looked */
  _Atomic(uint32_t) seen_ticks; /* ticks since a reclaim last went through the front */
  _Atomic(uint64_t) active_ms;  /* decay clock at the owner's last slow path (owner writes) */
} __attribute__((aligned(64))) lite_handle;
_Static_assert(sizeof(lite_handle) == 64, "a handle is one cache line");

#endif
