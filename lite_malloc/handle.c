/* Handles: the part of a thread front that other threads may write to (the
 * blocks delivered by remote.c, the steal word of reclaim.c). 64 bytes each, in
 * a pool of type-stable records (stack.c): mapped once, never unmapped, found
 * by index, reused by later fronts. So a freer or a reclaimer may touch a
 * handle at any time, whatever became of the front that had it. */
#include <stddef.h>
#include "lite_internal.h"

lite_handle* _Atomic lite_handle_chunks[LITE_HANDLE_CHUNKS];

static void lite_handle_init(void* record, uint32_t index) {
  (void)index;
  atomic_init(&((lite_handle*)record)->steal, LITE_STEAL_DEAD);
}

lite_pool lite_handles = {
    .chunks = (void* _Atomic*)lite_handle_chunks,
    .per_chunk = LITE_HANDLE_CHUNK,
    .max_chunks = LITE_HANDLE_CHUNKS,
    .size = sizeof(lite_handle),
    .link = offsetof(lite_handle, free_next),
    .init = lite_handle_init,
};
