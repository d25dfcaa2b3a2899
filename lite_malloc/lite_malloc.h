/* lite_malloc: a lock-free, engine-based memory allocator for threaded servers.
 *
 * This is the public, prefixed API. Every function follows glibc 2.36's rules for
 * its unprefixed namesake (errno values, NULL returns, realloc(p, 0) frees). The
 * override libraries (//lite_malloc:static, liblite-malloc-shared.so) map the libc
 * names onto these. */
#ifndef LITE_MALLOC_H
#define LITE_MALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LITE_API __attribute__((visibility("default")))

LITE_API void* lite_malloc(size_t size);
LITE_API void lite_free(void* p);
LITE_API void* lite_calloc(size_t count, size_t size);
LITE_API void* lite_realloc(void* p, size_t size);
LITE_API void* lite_reallocarray(void* p, size_t count, size_t size);
LITE_API void* lite_memalign(size_t alignment, size_t size);
LITE_API int lite_posix_memalign(void** out, size_t alignment, size_t size);
LITE_API void* lite_aligned_alloc(size_t alignment, size_t size);
LITE_API void* lite_valloc(size_t size);
LITE_API void* lite_pvalloc(size_t size);
LITE_API size_t lite_malloc_usable_size(void* p);
LITE_API void lite_free_sized(void* p, size_t size);
LITE_API void lite_free_aligned_sized(void* p, size_t alignment, size_t size);

/* Returns cached free memory to the OS (all engines, and the calling thread's
 * empty pages). Returns 1 if any memory was released, like glibc's malloc_trim. */
LITE_API int lite_malloc_trim(size_t pad);

/* Nonzero when p is a live or cached block of lite_malloc (never aborts). */
LITE_API int lite_malloc_owns(const void* p);

/* The compile-time options this library was built with. */
typedef struct lite_malloc_config {
  size_t engines_count;          /* LITE_MALLOC_ENGINES_COUNT */
  size_t miniblock_cache_size;   /* LITE_MALLOC_MINIBLOCK_CACHE_SIZE (x 8 bytes) */
  size_t superblock_cache_size;  /* LITE_MALLOC_SUPERBLOCK_CACHE_SIZE (x 4096 bytes) */
  int use_perthread_engines;     /* LITE_MALLOC_USE_PERTHREAD_ENGINES */
  size_t small_max;              /* largest size served from miniblock classes */
  size_t medium_max;             /* largest size served from superblock classes */
  size_t size_classes;           /* number of cached size classes */
} lite_malloc_config;
LITE_API void lite_malloc_get_config(lite_malloc_config* out);

/* Process-wide figures, gathered without stopping other threads. */
typedef struct lite_malloc_stats {
  size_t mapped_bytes;      /* address space lite_malloc holds from the OS */
  size_t mappings;          /* number of OS mappings it holds */
  size_t segments;          /* 4 MiB segments (small and medium blocks) */
  size_t large_blocks;      /* live directly-mapped blocks */
  size_t large_bytes;       /* bytes in those mappings */
  size_t dirty_bytes;       /* free pages still backed by memory (awaiting purge) */
  size_t purged_bytes;      /* total bytes handed back with madvise so far */
  size_t pages_in_use;      /* 64 KiB slices holding blocks */
  size_t threads;           /* thread fronts currently attached */
} lite_malloc_stats;
LITE_API void lite_malloc_get_stats(lite_malloc_stats* out);

/* Prints the statistics above to stderr. */
LITE_API void lite_malloc_stats_print(void);

#ifdef __cplusplus
}
#endif
#endif
