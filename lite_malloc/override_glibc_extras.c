/* glibc's malloc extensions beyond the allocation API: malloc_trim,
 * malloc_stats, mallinfo, mallinfo2, malloc_info and mallopt, with lite_malloc's
 * own figures (jemalloc and mimalloc leave these to glibc, which reports the
 * zeros of an arena nobody uses).
 *
 * mallinfo2's fields, from lite_malloc_get_stats:
 *
 *   arena     slices holding blocks x 64 KiB + free slices not yet purged: the
 *             memory the segments hold (not their address space)
 *   uordblks  bytes in live blocks in those slices, at their class size
 *   fordblks  bytes_cached: free blocks in those slices + unpurged free slices
 *             (so arena = uordblks + fordblks, as in glibc)
 *   keepcost  dirty_bytes: what malloc_trim can give back now
 *   hblks, hblkhd   directly mapped large blocks, and their bytes
 *   ordblks, smblks, usmblks, fsmblks   0: lite_malloc has no such notion
 *
 * They are a snapshot: other threads' counters are read while they run. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>

#include "lite_config.h"
#include "lite_malloc.h"

#define LITE_OVERRIDE __attribute__((visibility("default")))

/* glibc exports these too, without declaring them. */
LITE_OVERRIDE struct mallinfo __libc_mallinfo(void);
LITE_OVERRIDE int __libc_mallopt(int param, int value);

// -----------------------------------------------------------------------------
// Trimming and options
// -----------------------------------------------------------------------------

LITE_OVERRIDE int malloc_trim(size_t pad) { return lite_malloc_trim(pad); }

/* glibc's parameters (M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD,
 * M_MMAP_MAX, M_ARENA_TEST, M_ARENA_MAX, ...) tune glibc's arenas, which are
 * not in use: accept and ignore them all, returning 1 (success) as glibc does,
 * for unknown parameters too. */
LITE_OVERRIDE int mallopt(int param, int value) {
  (void)param;
  (void)value;
  return 1;
}
LITE_OVERRIDE int __libc_mallopt(int param, int value) { return mallopt(param, value); }

// -----------------------------------------------------------------------------
// Statistics
// -----------------------------------------------------------------------------

LITE_OVERRIDE struct mallinfo2 mallinfo2(void) {
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  size_t in_slices = s.bytes_in_use > s.large_bytes ? s.bytes_in_use - s.large_bytes : 0;
  struct mallinfo2 mi = {
      .arena = in_slices + s.bytes_cached,
      .hblks = s.large_blocks,
      .hblkhd = s.large_bytes,
      .uordblks = in_slices,
      .fordblks = s.bytes_cached,
      .keepcost = s.dirty_bytes,
  };
  return mi;
}

/* The int fields saturate at INT_MAX (glibc's wrap around). */
static int lite_clamp_int(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

/* mallinfo is deprecated in glibc's header: both its names share this. */
static struct mallinfo lite_mallinfo(void) {
  struct mallinfo2 m = mallinfo2();
  struct mallinfo mi = {
      .arena = lite_clamp_int(m.arena),
      .ordblks = lite_clamp_int(m.ordblks),
      .smblks = lite_clamp_int(m.smblks),
      .hblks = lite_clamp_int(m.hblks),
      .hblkhd = lite_clamp_int(m.hblkhd),
      .usmblks = lite_clamp_int(m.usmblks),
      .fsmblks = lite_clamp_int(m.fsmblks),
      .uordblks = lite_clamp_int(m.uordblks),
      .fordblks = lite_clamp_int(m.fordblks),
      .keepcost = lite_clamp_int(m.keepcost),
  };
  return mi;
}
LITE_OVERRIDE struct mallinfo mallinfo(void) { return lite_mallinfo(); }
LITE_OVERRIDE struct mallinfo __libc_mallinfo(void) { return lite_mallinfo(); }

/* glibc's totals block on stderr, then lite_malloc's own report. */
LITE_OVERRIDE void malloc_stats(void) {
  struct mallinfo2 m = mallinfo2();
  fprintf(stderr,
          "Total (incl. mmap):\n"
          "system bytes     = %10zu\n"
          "in use bytes     = %10zu\n"
          "mmap regions     = %10zu\n"
          "mmap bytes       = %10zu\n",
          m.arena + m.hblkhd, m.uordblks + m.hblkhd, m.hblks, m.hblkhd);
  fflush(stderr);
  lite_malloc_stats_print();
}

static void lite_info_write(void* fp, const char* s, size_t n) { fwrite(s, 1, n, fp); }

/* lite_malloc's XML report (root <malloc version="lite_malloc-1.2.0">, the
 * version of lite_malloc.h: totals, engines, classes), in place of glibc's
 * arena-by-arena one. */
LITE_OVERRIDE int malloc_info(int options, FILE* fp) {
  if (options != 0) {
    errno = EINVAL;
    return -1;
  }
  lite_malloc_stats_write(lite_info_write, fp, 1);
  return 0;
}
