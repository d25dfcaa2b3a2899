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


// -----------------------------------------------------------------------------
// Pools of type-stable records: chunks mapped on first use and never unmapped,
// records found by index, free ones on a tagged stack of indexes (+1, so that 0
// is empty). Handles and large-block descriptors live in pools: any thread may
// read a record at any time, whatever became of what it described.
// -----------------------------------------------------------------------------
void* lite_pool_at(lite_pool* pool, uint32_t index) {
  uint8_t* chunk = lite_load_acquire(&pool->chunks[index / pool->per_chunk]);
  return chunk + (size_t)(index % pool->per_chunk) * pool->size;
}

bool lite_pool_mapped(lite_pool* pool, uint32_t index) {
  return lite_load_acquire(&pool->chunks[index / pool->per_chunk]) != NULL;
}

static _Atomic(uint32_t)* lite_pool_link(lite_pool* pool, uint32_t index) {
  return (_Atomic(uint32_t)*)((uint8_t*)lite_pool_at(pool, index) + pool->link);
}

/* A free record, or NULL when the pool is full or no chunk could be mapped. */
void* lite_pool_new(lite_pool* pool, uint32_t* index) {
  uint64_t old = lite_load_acquire(&pool->free);
  while ((uint32_t)old != 0) {
    uint32_t id = (uint32_t)old - 1;
    uint64_t next = lite_load_relaxed(lite_pool_link(pool, id));
    if (lite_cas_weak(&pool->free, &old, ((old >> 32) + 1) << 32 | next, memory_order_acquire,
                      memory_order_acquire)) {
      *index = id;
      return lite_pool_at(pool, id);
    }
  }
  uint32_t id = lite_add_relaxed(&pool->count, 1);
  uint32_t chunk = id / pool->per_chunk;
  if (chunk >= pool->max_chunks) return NULL;
  void* table = lite_load_acquire(&pool->chunks[chunk]);
  if (table == NULL) {
    size_t bytes = (size_t)pool->per_chunk * pool->size;
    void* fresh = lite_os_map(bytes, NULL);
    if (fresh == NULL) return NULL; /* the index stays unused */
    for (uint32_t i = 0; i < pool->per_chunk; i++)
      pool->init((uint8_t*)fresh + (size_t)i * pool->size, chunk * pool->per_chunk + i);
    if (atomic_compare_exchange_strong_explicit(&pool->chunks[chunk], &table, fresh,
                                                memory_order_acq_rel, memory_order_acquire)) {
      lite_add_relaxed(&lite_stat.mappings, 1);
      table = fresh;
    } else {
      lite_os_unmap(fresh, bytes);
    }
  }
  *index = id;
  return (uint8_t*)table + (size_t)(id % pool->per_chunk) * pool->size;
}

void lite_pool_free(lite_pool* pool, uint32_t index) {
  _Atomic(uint32_t)* link = lite_pool_link(pool, index);
  uint64_t old = lite_load_relaxed(&pool->free);
  do {
    lite_store_relaxed(link, (uint32_t)old);
  } while (!lite_cas_weak(&pool->free, &old, ((old >> 32) + 1) << 32 | (index + 1),
                          memory_order_release, memory_order_relaxed));
}
