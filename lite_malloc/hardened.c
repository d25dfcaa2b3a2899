/* The hardened build (LITE_MALLOC_HARDENED=1): checks that cost a few atomic
 * operations per call, for deployments that value stopping on heap misuse more
 * than the last nanosecond.
 *
 *  - Free-list links are encoded (see lite_next in lite_internal.h) and each
 *    decoded link is checked to land on a block of the same page.
 *  - Each segment header keeps a bitmap with one bit per 16 bytes of its slices:
 *    set while the block starting there is handed out. malloc sets it (finding
 *    it set means the free list was corrupted), free clears it (finding it clear
 *    means a double free), atomically, since other threads free too. Blocks are
 *    multiples of 16 bytes in this build (the 8-byte class becomes 16).
 *  - LITE_MALLOC_ZERO_FREED=1 zeroes small blocks as they are freed.
 * In the default build only lite_hardened_init exists, and does nothing. */
#include <string.h>
#include "lite_internal.h"

#if LITE_MALLOC_HARDENED
uintptr_t lite_list_key;

#define LITE_BITMAP_OFFSET 16384 /* past the page descriptors, inside slice 0 */
_Static_assert(sizeof(lite_segment) + LITE_SLICES * sizeof(lite_page) <= LITE_BITMAP_OFFSET,
               "segment header overlaps the hardened bitmap");
/* The header purge (segment.c) frees the OS pages the descriptors reach into:
 * with 16 KiB pages, up to here. */
_Static_assert(LITE_BITMAP_OFFSET % 16384 == 0, "a header purge would reach the hardened bitmap");
_Static_assert(LITE_BITMAP_OFFSET + LITE_SEGMENT_SIZE / 16 / 8 <= LITE_SLICE_SIZE,
               "hardened bitmap does not fit in the header slice");

void lite_hardened_init(void) {
  lite_list_key = (0x9e3779b97f4a7c15ULL ^ (uintptr_t)&lite_list_key ^ lite_os_random()) | 1;
}

/* The bitmap word and bit for the block at b. */
static _Atomic(uint64_t)* lite_bit_of(const void* b, uint64_t* bit) {
  uintptr_t a = (uintptr_t)b, seg = a & ~(uintptr_t)(LITE_SEGMENT_SIZE - 1);
  size_t index = (a - seg) >> 4;
  *bit = (uint64_t)1 << (index & 63);
  return (_Atomic(uint64_t)*)(seg + LITE_BITMAP_OFFSET) + (index >> 6);
}

void lite_hardened_on_alloc(lite_page* page, lite_block* b, lite_block* next) {
  if (next != NULL && !lite_page_is_block(page, (uintptr_t)next, page->limit))
    lite_fatal("corrupted free list", b, "link leaves its page");
  uint64_t bit;
  _Atomic(uint64_t)* word = lite_bit_of(b, &bit);
  uint64_t old = atomic_fetch_or_explicit(word, bit, memory_order_relaxed);
  if (old & bit) lite_fatal("corrupted free list", b, "block is already in use");
}

void lite_hardened_on_free(lite_page* page, lite_block* b) {
  uint64_t bit;
  _Atomic(uint64_t)* word = lite_bit_of(b, &bit);
  uint64_t old = atomic_fetch_and_explicit(word, ~bit, memory_order_relaxed);
  if (!(old & bit)) lite_fatal("double free", b, "block is already free");
  if (lite_options[LITE_OPT_ZERO_FREED]) memset(b, 0, page->block_size);
}
#else
void lite_hardened_init(void) {}
#endif
