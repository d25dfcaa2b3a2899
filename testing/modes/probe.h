/* How a probe program asks "did this block come from lite_malloc?".
 *
 * A program linked with lite_malloc (-DLITE_PROBE_LINKED=1) calls
 * lite_malloc_owns and lite_malloc_get_stats directly. An unmodified program
 * (run under LD_PRELOAD, or with no lite_malloc at all) looks them up with
 * dlsym; when the process has no lite_malloc, no block is lite_malloc's. */
#ifndef LITE_TESTING_MODES_PROBE_H
#define LITE_TESTING_MODES_PROBE_H

#include <stdio.h>
#include <stdlib.h>

#if LITE_PROBE_LINKED
#include "lite_malloc/lite_malloc.h"
#else
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
/* The layout of lite_malloc.h's lite_malloc_stats, as far as the probes read. */
typedef struct lite_malloc_stats {
  size_t mapped_bytes, mappings, segments, large_blocks, large_bytes, dirty_bytes,
      purged_bytes, pages_in_use, threads, bytes_in_use, bytes_cached, cas_retries;
  uint64_t allocations, frees;
} lite_malloc_stats;
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Nonzero when p is a block of lite_malloc's. */
static inline int probe_owns(const void* p) {
#if LITE_PROBE_LINKED
  return lite_malloc_owns(p);
#else
  int (*owns)(const void*) = (int (*)(const void*))dlsym(RTLD_DEFAULT, "lite_malloc_owns");
  return owns != NULL && owns(p);
#endif
}

/* Whether the process has lite_malloc at all; fills *s when it does. */
static inline int probe_stats(lite_malloc_stats* s) {
#if LITE_PROBE_LINKED
  lite_malloc_get_stats(s);
  return 1;
#else
  void (*get)(lite_malloc_stats*) =
      (void (*)(lite_malloc_stats*))dlsym(RTLD_DEFAULT, "lite_malloc_get_stats");
  if (get != NULL) get(s);
  return get != NULL;
#endif
}

/* Checks a condition, printing it; returns 1 on failure, for summing. */
static inline int probe_check(int ok, const char* what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  return !ok;
}

#ifdef __cplusplus
}
#endif
#endif
