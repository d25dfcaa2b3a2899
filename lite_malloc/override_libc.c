/* The libc names of the allocation API, forwarded to the prefixed core.
 *
 * Linked into //lite_malloc:static, liblite-malloc-static.a and
 * liblite-malloc-shared.so, these definitions take the place of glibc's: in a
 * process that has them, every malloc, the ones inside libc (strdup, fopen,
 * pthread_create, dlopen, ...) included, is lite_malloc's, so no pointer of
 * glibc's allocator ever reaches lite_free.
 *
 * Each function is a tail call (one jmp), except malloc and free, which are
 * the fast paths themselves (override_names.inc). Besides the standard names (the
 * table in override_names.inc) this file defines glibc's internal entry points
 * __libc_malloc, ..., which some programs and tools call to reach "the real
 * malloc", and __posix_memalign. */
#include <malloc.h>
#include <stdlib.h>

#include "lite_internal.h"

/* malloc, ..., and for the rows marked 1, __libc_malloc, ... */
#define LITE_LIBC_NAME_0(type, name, target, params, args, ret)
#define LITE_LIBC_NAME_1(type, name, target, params, args, ret) \
  LITE_FORWARD(type, __libc_##name, target, params, args, ret)
#define LITE_NAME(type, name, target, params, args, ret, libc) \
  LITE_FORWARD(type, name, target, params, args, ret)          \
  LITE_LIBC_NAME_##libc(type, name, target, params, args, ret)
#include "override_names.inc"

LITE_FORWARD(int, __posix_memalign, lite_posix_memalign,
             (void** out, size_t alignment, size_t size), (out, alignment, size), return)
