/* The compile-time options of lite_malloc: one table, each with its default.
 * Override any of them with -DNAME=VALUE (Bazel: --define=lite_engines=8 etc.,
 * see options.bzl). Everything below the table is derived from it. */
#ifndef LITE_CONFIG_H
#define LITE_CONFIG_H

/* Number of independent allocator engines (shared pools of segments and of pages
 * left behind by exited threads). */
#ifndef LITE_MALLOC_ENGINES_COUNT
#define LITE_MALLOC_ENGINES_COUNT 32
#endif

/* Sizes up to this many x 8 bytes are miniblocks: served from per-size-class
 * pages (classes: 8, then every 16 bytes). */
#ifndef LITE_MALLOC_MINIBLOCK_CACHE_SIZE
#define LITE_MALLOC_MINIBLOCK_CACHE_SIZE 1024
#endif

/* Sizes up to this many x 4096 bytes are superblocks: cached per 4 KiB size
 * (LITE_MEDIUM_STEP, whatever the OS page size). Anything larger is mapped
 * directly. */
#ifndef LITE_MALLOC_SUPERBLOCK_CACHE_SIZE
#define LITE_MALLOC_SUPERBLOCK_CACHE_SIZE 32
#endif

/* 1: each thread is pinned to one engine (thread n uses engine n mod count).
 * 0: every visit to an engine picks the next one round-robin. */
#ifndef LITE_MALLOC_USE_PERTHREAD_ENGINES
#define LITE_MALLOC_USE_PERTHREAD_ENGINES 1
#endif

/* Free-but-resident bytes past which free slices go back to the OS at once,
 * without waiting for LITE_MALLOC_PURGE_DELAY; 0 (default): no such bound, the
 * delay alone decides (decay.c). */
#ifndef LITE_MALLOC_PURGE_BYTES
#define LITE_MALLOC_PURGE_BYTES 0
#endif

/* 1: thread-local state uses the global-dynamic TLS model so the shared library
 * can be dlopen()ed; 0 (default): initial-exec, one instruction to reach it. */
#ifndef LITE_MALLOC_TLS_DYNAMIC
#define LITE_MALLOC_TLS_DYNAMIC 0
#endif

/* 1: the OS layer can be told to fail its next mmap / madvise / munmap calls
 * (lite_malloc_fault_inject), so tests can walk every failure path. */
#ifndef LITE_MALLOC_FAULT_INJECTION
#define LITE_MALLOC_FAULT_INJECTION 0
#endif

/* 1: tests can have a function called at chosen points inside the allocator
 * (lite_malloc_test_hook), to replay races deterministically. */
#ifndef LITE_MALLOC_TEST_HOOKS
#define LITE_MALLOC_TEST_HOOKS 0
#endif

/* 1: hardened build: encoded free lists, every double free detected, guard
 * pages after large blocks, sized frees checked. */
#ifndef LITE_MALLOC_HARDENED
#define LITE_MALLOC_HARDENED 0
#endif

/* Most segments mapped together in one mmap, to keep the number of mappings
 * low; batches grow to this size with use (1, 1, 2, 4, ...). */
#ifndef LITE_MALLOC_SEGMENT_BATCH
#define LITE_MALLOC_SEGMENT_BATCH 4
#endif

/* Tests only: 4096, 16384 or 65536 makes the allocator take that for the OS
 * page size when it is at least the kernel's (os.c), so that the paths of
 * 16 KiB and 64 KiB kernels run on a 4 KiB one; 0 (default): the kernel's. */
#ifndef LITE_MALLOC_TEST_PAGE_SIZE
#define LITE_MALLOC_TEST_PAGE_SIZE 0
#endif

/* ----------------------------------------------------------------------------
 * Derived constants
 * ------------------------------------------------------------------------- */
#if LITE_MALLOC_ENGINES_COUNT < 1 || LITE_MALLOC_ENGINES_COUNT > 4096
#error "lite_malloc: LITE_MALLOC_ENGINES_COUNT must be between 1 and 4096"
#endif
#if LITE_MALLOC_MINIBLOCK_CACHE_SIZE < 2 || LITE_MALLOC_MINIBLOCK_CACHE_SIZE > 8192
#error "lite_malloc: LITE_MALLOC_MINIBLOCK_CACHE_SIZE must be between 2 and 8192"
#endif
#if LITE_MALLOC_SUPERBLOCK_CACHE_SIZE < 1 || LITE_MALLOC_SUPERBLOCK_CACHE_SIZE > 512
#error "lite_malloc: LITE_MALLOC_SUPERBLOCK_CACHE_SIZE must be between 1 and 512"
#endif
#if LITE_MALLOC_TEST_PAGE_SIZE != 0 && LITE_MALLOC_TEST_PAGE_SIZE != 4096 && \
    LITE_MALLOC_TEST_PAGE_SIZE != 16384 && LITE_MALLOC_TEST_PAGE_SIZE != 65536
#error "lite_malloc: LITE_MALLOC_TEST_PAGE_SIZE must be 0, 4096, 16384 or 65536"
#endif

#define LITE_SEGMENT_SHIFT 22                         /* 4 MiB segments */
#define LITE_SEGMENT_SIZE ((size_t)1 << LITE_SEGMENT_SHIFT)
#define LITE_SLICE_SHIFT 16                           /* 64 KiB slices */
#define LITE_SLICE_SIZE ((size_t)1 << LITE_SLICE_SHIFT)
#define LITE_SLICES (LITE_SEGMENT_SIZE / LITE_SLICE_SIZE) /* 64; slice 0 = header */
/* The OS page size is read at start-up (lite_os_page_size, os.c): 4, 16 or
 * 64 KiB. What must be a constant is a multiple of the largest: slices,
 * segments, and so every purge and unmap of them. */
#define LITE_OS_PAGE_MAX ((size_t)64 << 10)
#if LITE_SLICE_SHIFT < 16
#error "lite_malloc: slices must be a multiple of the largest OS page"
#endif
/* The step of the medium (superblock) classes: a product choice, not the OS page. */
#define LITE_MEDIUM_SHIFT 12
#define LITE_MEDIUM_STEP ((size_t)1 << LITE_MEDIUM_SHIFT)

/* The largest small size is MINIBLOCK x 8 rounded up to 16. Small classes are
 * one per 16 bytes up to LITE_LINEAR_MAX, then eight per doubling (steps of an
 * eighth of the power of two below: 1152, 1280, ..., 2048, 2304, ...), the
 * last one cut to LITE_SMALL_MAX; class 0 is never used (lite_internal.h).
 * Finer steps up to 1 KiB keep the blocks a thread frees and reuses at once
 * in few pages (cache-hot); coarser ones above keep the number of partly used
 * pages per thread low. */
#define LITE_SMALL_MAX ((((size_t)LITE_MALLOC_MINIBLOCK_CACHE_SIZE * 8) + 15) & ~(size_t)15)
#define LITE_LINEAR_SHIFT 10
#define LITE_LINEAR_MAX ((size_t)1 << LITE_LINEAR_SHIFT)
#define LITE_LOG2_FLOOR(n) (63 - __builtin_clzll((unsigned long long)(n)))
#define LITE_GEOMETRIC_CLASS(n)                                       \
  (LITE_LINEAR_MAX / 16 + (size_t)(LITE_LOG2_FLOOR((n) - 1) - LITE_LINEAR_SHIFT) * 8 + \
   (((n) - 1 - ((size_t)1 << LITE_LOG2_FLOOR((n) - 1))) >> (LITE_LOG2_FLOOR((n) - 1) - 3)) + 1)
#define LITE_SMALL_CLASSES \
  ((LITE_SMALL_MAX <= LITE_LINEAR_MAX ? LITE_SMALL_MAX / 16 : LITE_GEOMETRIC_CLASS(LITE_SMALL_MAX)) + 1)
/* Medium (superblock) classes: every multiple of 4 KiB above LITE_SMALL_MAX. */
#define LITE_MEDIUM_FIRST (LITE_SMALL_MAX / LITE_MEDIUM_STEP + 1)
#define LITE_MEDIUM_CLASSES                                                       \
  (LITE_MALLOC_SUPERBLOCK_CACHE_SIZE >= LITE_MEDIUM_FIRST                          \
       ? (LITE_MALLOC_SUPERBLOCK_CACHE_SIZE - LITE_MEDIUM_FIRST + 1)               \
       : 0)
#define LITE_MEDIUM_MAX \
  (LITE_MEDIUM_CLASSES ? (size_t)LITE_MALLOC_SUPERBLOCK_CACHE_SIZE * LITE_MEDIUM_STEP : LITE_SMALL_MAX)
#define LITE_CLASSES (LITE_SMALL_CLASSES + LITE_MEDIUM_CLASSES)

#endif
