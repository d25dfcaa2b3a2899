/* The __wrap_* names of the allocation API, forwarded to the prefixed core.
 *
 * For the two link modes that rename malloc at link time instead of defining
 * it (README, "Usage"):
 *   - a static executable linked with -Wl,--wrap,malloc -Wl,--wrap,free ...:
 *     ld turns every undefined reference to malloc, libc.a's own included, into
 *     one to __wrap_malloc;
 *   - a dynamic executable linked with -Wl,--defsym=malloc=__wrap_malloc ...:
 *     the executable then defines malloc itself, and libc.so's calls bind to it.
 * Every name of override_names.inc gets its __wrap_ twin, and so does
 * malloc_trim. */
#include <stddef.h>

#include "lite_internal.h"

#define LITE_NAME(type, name, target, params, args, ret, libc) \
  LITE_FORWARD(type, __wrap_##name, target, params, args, ret)
#include "override_names.inc"

LITE_FORWARD(int, __wrap_malloc_trim, lite_malloc_trim, (size_t pad), (pad), return)
