/* mode_probe: checks that the allocation functions of this process reach the
 * allocator a usage mode promises, and prints one line per check.
 *
 *   mode_probe lite    every function, libc's own allocations included, is
 *                      lite_malloc's, and so are the glibc extras
 *   mode_probe hooks   built with -DLITE_PROBE_HOOKS=1 (lite-hooks.h first):
 *                      this file's calls are lite_malloc's, libc's stay
 *                      glibc's, and freeing those here still works
 *   mode_probe glibc   nothing is lite_malloc's (the control run)
 *
 * Exit status 0 when every check holds. Every README mode's test runs it. */
#if LITE_PROBE_HOOKS
#include "lite_malloc/lite-hooks.h"
#endif

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing/modes/probe.h"

static int expect_lite;   /* blocks from this file's calls */
static int expect_libc;   /* blocks libc allocates (strdup) */
static int failures;

static void check_block(void* p, size_t size, const char* what) {
  char line[128];
  snprintf(line, sizeof line, "%s -> %s", what, expect_lite ? "lite_malloc" : "glibc");
  int ok = p != NULL && probe_owns(p) == expect_lite && malloc_usable_size(p) >= size;
  if (p != NULL) memset(p, 0xa5, size);
  failures += probe_check(ok, line);
}

static void* thread_main(void* arg) {
  (void)arg;
  return malloc(100);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "lite") == 0) {
    expect_lite = expect_libc = 1;
  } else if (strcmp(mode, "hooks") == 0) {
    expect_lite = 1;
  } else if (strcmp(mode, "glibc") != 0) {
    fprintf(stderr, "usage: mode_probe lite|hooks|glibc\n");
    return 2;
  }

  void* p;
  check_block(p = malloc(16), 16, "malloc(16)");
  free(p);
  check_block(p = malloc(0), 0, "malloc(0)");
  free(p);
  check_block(p = malloc(1 << 20), 1 << 20, "malloc(1 MiB)");
  free(p);
  check_block(p = calloc(3, 5), 15, "calloc(3, 5)");
  free(p);
  p = realloc(NULL, 100);
  check_block(p, 100, "realloc(NULL, 100)");
  check_block(p = realloc(p, 5000), 5000, "realloc(p, 5000)");
  free(p);
  check_block(p = reallocarray(NULL, 10, 10), 100, "reallocarray(NULL, 10, 10)");
  free(p);
  check_block(p = memalign(64, 100), 100, "memalign(64, 100)");
  failures += probe_check(((uintptr_t)p & 63) == 0, "memalign(64, 100) is aligned");
  free(p);
  p = NULL;
  failures += probe_check(posix_memalign(&p, 128, 100) == 0, "posix_memalign(128, 100) == 0");
  check_block(p, 100, "posix_memalign(128, 100)");
  free(p);
  check_block(p = aligned_alloc(256, 512), 512, "aligned_alloc(256, 512)");
  free(p);
  check_block(p = valloc(100), 100, "valloc(100)");
  free(p);
  check_block(p = pvalloc(100), 100, "pvalloc(100)");
  free(p);

  pthread_t thread;
  pthread_create(&thread, NULL, thread_main, NULL);
  pthread_join(thread, &p);
  check_block(p, 100, "malloc(100) in another thread");
  free(p);

  /* libc allocates with whatever malloc the process has; free here must take it. */
  char* s = strdup("libc");
  int ok = s != NULL && probe_owns(s) == expect_libc;
  failures += probe_check(ok, expect_libc ? "strdup (libc) -> lite_malloc" : "strdup (libc) -> glibc");
  s = realloc(s, 1000);
  failures += probe_check(s != NULL && strcmp(s, "libc") == 0, "realloc of strdup's block");
  free(s);

  /* glibc's extensions: lite_malloc's report names itself. */
  char* report = NULL;
  size_t report_size = 0;
  FILE* out = open_memstream(&report, &report_size);
  malloc_info(0, out);
  fclose(out);
  ok = (strstr(report, "lite_malloc") != NULL) == expect_libc;
  failures += probe_check(ok, expect_libc ? "malloc_info -> lite_malloc" : "malloc_info -> glibc");
  free(report);

  lite_malloc_stats stats;
  failures += probe_check(probe_stats(&stats) == expect_lite,
                          expect_lite ? "lite_malloc is in the process" : "no lite_malloc");
  printf("%s\n", failures ? "FAILED" : "PASSED");
  return failures ? 1 : 0;
}
