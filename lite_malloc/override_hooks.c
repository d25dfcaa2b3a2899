/* The functions lite-hooks.h renames free, realloc and malloc_usable_size to,
 * in files that include it.
 *
 * Such a file allocates from lite_malloc, but it also frees blocks that libc
 * and other code allocated with glibc's malloc (strdup, getline, scandir, ...).
 * So each of these looks the pointer up first (lite_malloc_owns, which never
 * aborts) and hands a block lite_malloc never handed out to glibc's function.
 * This file does not include lite-hooks.h: free, realloc and
 * malloc_usable_size here are the process's own (glibc's, unless the process
 * also has an override library, which then owns every block anyway). */
#include <malloc.h>
#include <stdlib.h>

#include "lite_malloc.h"

#define LITE_OVERRIDE __attribute__((visibility("default")))

LITE_OVERRIDE void lite_hooks_free(void* p);
LITE_OVERRIDE void* lite_hooks_realloc(void* p, size_t size);
LITE_OVERRIDE size_t lite_hooks_malloc_usable_size(void* p);
LITE_OVERRIDE void lite_hooks_free_sized(void* p, size_t size);
LITE_OVERRIDE void lite_hooks_free_aligned_sized(void* p, size_t alignment, size_t size);

/* NULL counts as lite_malloc's: lite_free(NULL) and lite_realloc(NULL, n) do
 * what the standard says. */
static int lite_hooks_ours(void* p) { return p == NULL || lite_malloc_owns(p); }

LITE_OVERRIDE void lite_hooks_free(void* p) {
  if (lite_hooks_ours(p))
    lite_free(p);
  else
    free(p);
}

LITE_OVERRIDE void* lite_hooks_realloc(void* p, size_t size) {
  if (lite_hooks_ours(p)) return lite_realloc(p, size);
  return realloc(p, size);
}

LITE_OVERRIDE size_t lite_hooks_malloc_usable_size(void* p) {
  if (lite_hooks_ours(p)) return lite_malloc_usable_size(p);
  return malloc_usable_size(p);
}

LITE_OVERRIDE void lite_hooks_free_sized(void* p, size_t size) {
  if (lite_hooks_ours(p))
    lite_free_sized(p, size);
  else
    free(p);
}

LITE_OVERRIDE void lite_hooks_free_aligned_sized(void* p, size_t alignment, size_t size) {
  if (lite_hooks_ours(p))
    lite_free_aligned_sized(p, alignment, size);
  else
    free(p);
}
