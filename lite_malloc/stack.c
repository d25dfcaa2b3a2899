/* Lock-free stacks of pages: one 64-bit word holding (tag << 32) | page id, with
 * the link to the page below kept in the page descriptor (stack_next). The tag
 * grows on every change, so ABA would need 2^32 operations between one thread's
 * read and its CAS. Descriptors live in segment headers that stay mapped, so a
 * stale id read by a losing pop still names readable memory. */
#include "lite_internal.h"

/* Failed CAS attempts are added to *retries (an engine's contention count). */
void lite_stack_push(_Atomic(uint64_t)* stack, lite_page* page, _Atomic(size_t)* retries) {
  uint64_t old = lite_load_relaxed(stack), id = lite_page_id(page);
  for (;;) {
    lite_store_relaxed(&page->stack_next, (uint32_t)old);
    if (lite_cas_weak(stack, &old, ((old >> 32) + 1) << 32 | id, memory_order_release,
                      memory_order_relaxed))
      return;
    lite_add_relaxed(retries, 1);
  }
}

lite_page* lite_stack_pop(_Atomic(uint64_t)* stack, _Atomic(size_t)* retries) {
  uint64_t old = lite_load_acquire(stack);
  for (;;) {
    if ((uint32_t)old == 0) return NULL;
    lite_page* page = lite_page_from_id((uint32_t)old);
    uint64_t next = lite_load_relaxed(&page->stack_next);
    if (lite_cas_weak(stack, &old, ((old >> 32) + 1) << 32 | next, memory_order_acquire,
                      memory_order_acquire))
      return page;
    lite_add_relaxed(retries, 1);
  }
}

/* Pushes a page whose owner left onto its engine's stack for its class, where
 * threads of that engine adopt it and trims look for it. */
void lite_engine_push(lite_page* page) {
  lite_engine* e = &lite_engines[lite_segment_of_page(page)->engine];
  lite_stack_push(&e->abandoned[page->cls], page, &e->retries);
  lite_store_release(&e->any_abandoned, true);
}
