/* Short names for the C11 atomics lite_malloc uses. Every shared field is an
 * _Atomic object; orderings are spelled out at each use so that the code is
 * correct under the C11 model, not only on x86. */
#ifndef LITE_ATOMIC_H
#define LITE_ATOMIC_H
#include <stdatomic.h>

#define lite_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define lite_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define lite_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define lite_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define lite_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define lite_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define lite_cas_weak(p, expected, desired, success, failure) \
  atomic_compare_exchange_weak_explicit((p), (expected), (desired), (success), (failure))
#define lite_exchange(p, v, order) atomic_exchange_explicit((p), (v), (order))

#endif
