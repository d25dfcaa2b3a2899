/* lite_malloc_version(): the version of the library itself, from the macros of
 * lite_malloc.h (the one place the version is written). A file of its own so
 * that the core's other files need not change when the version does. */
#include "lite_malloc.h"

int lite_malloc_version(void) { return LITE_MALLOC_VERSION; }
