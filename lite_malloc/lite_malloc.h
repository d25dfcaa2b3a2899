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

/* The version, in this one place: the Makefile reads these three lines for the
 * shared library's soname (liblite-malloc-shared.so.MAJOR) and the pkg-config
 * files, and the statistics print LITE_MALLOC_VERSION_STRING. MAJOR changes
 * when a program built against an older version may no longer link or run. */
#define LITE_MALLOC_VERSION_MAJOR 1
#define LITE_MALLOC_VERSION_MINOR 4
#define LITE_MALLOC_VERSION_PATCH 1
/* 10401 for 1.4.1: compare it with lite_malloc_version(). */
#define LITE_MALLOC_VERSION \
  (LITE_MALLOC_VERSION_MAJOR * 10000 + LITE_MALLOC_VERSION_MINOR * 100 + LITE_MALLOC_VERSION_PATCH)
#define LITE_MALLOC_VERSION_STR_(x) #x
#define LITE_MALLOC_VERSION_STR(x) LITE_MALLOC_VERSION_STR_(x)
/* "1.4.1" */
#define LITE_MALLOC_VERSION_STRING                       \
  LITE_MALLOC_VERSION_STR(LITE_MALLOC_VERSION_MAJOR)     \
  "." LITE_MALLOC_VERSION_STR(LITE_MALLOC_VERSION_MINOR) \
  "." LITE_MALLOC_VERSION_STR(LITE_MALLOC_VERSION_PATCH)

/* Exported, and never throwing (so C++ callers, e.g. noexcept operator delete,
 * need no unwinding around them). */
#define LITE_API __attribute__((visibility("default"), nothrow))

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

/* LITE_MALLOC_VERSION of the library the program runs with, which may be newer
 * than the header it was compiled against. */
LITE_API int lite_malloc_version(void);

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

/* The OS page size lite_malloc works with, read from the kernel at start-up:
 * 4096, 16384 or 65536. valloc and pvalloc align to it; large blocks come in
 * multiples of it. */
LITE_API size_t lite_malloc_page_size(void);

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
  size_t bytes_in_use;      /* bytes in live blocks (class sizes, large blocks) */
  size_t bytes_cached;      /* bytes held for reuse: free blocks in pages, dirty slices */
  size_t cas_retries;       /* failed CAS attempts on shared structures, all engines */
  uint64_t allocations;     /* blocks ever handed out */
  uint64_t frees;           /* blocks ever given back */
} lite_malloc_stats;
LITE_API void lite_malloc_get_stats(lite_malloc_stats* out);

/* System calls made so far and what the decay holds (a struct of its own, so
 * that lite_malloc_stats keeps its layout). */
typedef struct lite_malloc_os_stats {
  uint64_t maps;                /* mmap calls (segments, large blocks, tables) */
  uint64_t unmaps;              /* munmap calls */
  uint64_t purges;              /* madvise(MADV_DONTNEED) calls */
  uint64_t remaps;              /* mremap calls (large blocks grown or moved) */
  size_t large_cached_bytes;    /* freed large mappings kept for reuse */
  size_t large_cached_blocks;   /* and how many */
  uint64_t background_ticks;    /* decay ticks run by the background thread */
} lite_malloc_os_stats;
LITE_API void lite_malloc_get_os_stats(lite_malloc_os_stats* out);

/* Per size class (index 0 .. size_classes-1; see lite_malloc_get_config). The
 * figures of other threads are read while they run, so they are a snapshot. */
typedef struct lite_malloc_class_stats {
  size_t block_size;        /* bytes per block */
  uint64_t allocations;     /* blocks ever handed out */
  uint64_t frees;           /* blocks ever given back (and collected by their page) */
  size_t live;              /* blocks in use now */
  size_t pages;             /* pages of this class */
} lite_malloc_class_stats;
/* Fills out[0 .. count-1] for the first `count` classes; returns the number of
 * classes. The last entry past them (index size_classes) is not written. */
LITE_API size_t lite_malloc_get_class_stats(lite_malloc_class_stats* out, size_t count);

/* Failed CAS attempts on engine `engine` (contention), or 0 past the last. */
LITE_API size_t lite_malloc_engine_retries(size_t engine);

/* Writes the statistics as text (format 0, as lite_malloc_stats_print does) or
 * as XML (format 1, in the spirit of glibc's malloc_info) through write(). */
LITE_API void lite_malloc_stats_write(void (*write)(void* ctx, const char* s, size_t n), void* ctx,
                                      int format);

/* Fault injection (builds with LITE_MALLOC_FAULT_INJECTION=1, e.g. the Bazel
 * target //lite_malloc:core_faults): after `skip` more successful calls of the
 * operation, the next `count` calls fail as if the kernel had refused them.
 * Returns 0, or -1 in builds without fault injection. */
typedef enum lite_malloc_fault {
  LITE_FAULT_MMAP = 0,
  LITE_FAULT_MADVISE = 1,
  LITE_FAULT_MUNMAP = 2,
} lite_malloc_fault;
LITE_API int lite_malloc_fault_inject(lite_malloc_fault op, unsigned long skip, unsigned long count);

/* Test hooks (builds with LITE_MALLOC_TEST_HOOKS=1, e.g. the Bazel target
 * //testing/lifecycle:core_test_hooks): fn (NULL: none) is called, on the
 * thread that gets there, at the point named, so a test can make another
 * thread act inside a race window. Returns 0, or -1 in builds without hooks.
 *   LITE_HOOK_ARM          the owner found a page out of blocks and is about to
 *                          arm it and move it to its full list
 *   LITE_HOOK_REMOTE_PUSH  a thread freeing into another thread's page has read
 *                          the page's remote-free word and is about to CAS it */
typedef enum lite_malloc_hook_point {
  LITE_HOOK_ARM = 0,
  LITE_HOOK_REMOTE_PUSH = 1,
} lite_malloc_hook_point;
LITE_API int lite_malloc_test_hook(lite_malloc_hook_point point, void (*fn)(void));

/* Prints the statistics above to stderr. */
LITE_API void lite_malloc_stats_print(void);

#ifdef __cplusplus
}
#endif
#endif
