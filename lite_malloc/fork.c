/* fork() from a threaded process. The child has one thread, the one that called
 * fork, but inherits the allocator as every thread left it, possibly in the
 * middle of an operation. Nothing in lite_malloc is a lock, so nothing can stay
 * held; what must be undone is work in progress and ownership by threads that
 * do not exist in the child. The child handler (registered with pthread_atfork
 * when the library starts) rebuilds the shared structures from the one source
 * that is always consistent, the segments' slice maps:
 *  - every page of blocks of another thread is left to its engine's stack, so
 *    the child's frees make it reusable and returnable and its allocations
 *    adopt it; the forking thread keeps its own pages, unless a reclaimer held
 *    its front at that moment (its lists may then be half changed, and its
 *    pages go to the engines too);
 *  - the fronts of the other threads are released, their handles freed, and
 *    blocks waiting on any handle are passed to their pages;
 *  - try-flags (purge, reclaim) are cleared, the membarrier registration redone.
 * The forking thread keeps its front. */
#include "lite_internal.h"

static lite_front* lite_fork_self;
static bool lite_fork_keep_own; /* the forking thread's lists are intact */

static void lite_fork_visit(lite_page* page) {
  if (page->kind == LITE_PAGE_BLOCKS) {
    if (lite_fork_keep_own &&
        (lite_load_relaxed(&page->owner) & ~LITE_OWNER_FULL) == (uintptr_t)lite_fork_self)
      return;
    uint64_t x = lite_load_relaxed(&page->xfree);
    if ((uint32_t)x == LITE_XFREE_ARMED) lite_store_relaxed(&page->xfree, 0);
    lite_store_relaxed(&page->owner, 0);
    lite_page_collect(page);
    if (page->used == 0 && lite_load_relaxed(&page->pending) == 0) {
      lite_slices_release(page);
    } else {
      lite_engine_push(page);
    }
  } else if (page->kind == LITE_PAGE_FRONT &&
             (lite_fork_self == NULL || page != lite_fork_self->self)) {
    lite_slices_release(page);
  }
}

void lite_fork_child_reset(void) {
  lite_os_fork_child();
  lite_reclaim_fork_child();
  lite_front* self = lite_tls_front;
  lite_fork_self = (self == &lite_empty_front || self == &lite_dying_front) ? NULL : self;
  lite_fork_keep_own = lite_fork_self != NULL &&
                       lite_load_relaxed(&lite_fork_self->handle->steal) == LITE_STEAL_FREE;
  uint32_t count = lite_load_relaxed(&lite_handles.count);
  lite_store_relaxed(&lite_handles.free, 0);
  for (uint32_t hid = 0; hid < count; hid++) {
    if (!lite_pool_mapped(&lite_handles, hid)) continue;
    lite_handle* h = lite_handle_at(hid);
    if (lite_fork_self != NULL && hid == lite_fork_self->hid) {
      lite_store_relaxed(&h->steal, LITE_STEAL_FREE);
    } else {
      lite_store_relaxed(&h->front, NULL);
      lite_store_relaxed(&h->steal, LITE_STEAL_DEAD);
      lite_pool_free(&lite_handles, hid);
    }
  }
  if (lite_fork_self != NULL && !lite_fork_keep_own) {
    for (size_t cls = 0; cls < LITE_CLASSES; cls++) {
      lite_front_set_cur(lite_fork_self, cls, &lite_empty_page);
      lite_fork_self->avail[cls] = lite_fork_self->full[cls] = NULL;
    }
  }
  if (lite_fork_self != NULL) lite_store_relaxed(&lite_fork_self->busy, 0);
  lite_segments_fork_child(lite_fork_visit);
  /* Blocks waiting on handles go to their pages, except those on the forking
   * thread's own handle if it kept its pages: it takes them itself. */
  for (uint32_t hid = 0; hid < count; hid++)
    if (lite_pool_mapped(&lite_handles, hid) &&
        !(lite_fork_keep_own && hid == lite_fork_self->hid))
      lite_handle_drain(lite_handle_at(hid));
  lite_store_relaxed(&lite_stat.threads, lite_fork_self != NULL);
  lite_background_fork_child();
}
