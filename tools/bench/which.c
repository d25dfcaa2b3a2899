/* Names the shared object that the program's malloc comes from, so the
 * runner can check that a preload really replaced glibc's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "tools/bench/workloads.h"

int wl_which(double scale, const char* arg) {
  (void)scale;
  (void)arg;
  void* fn = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info;
  if (fn == NULL || dladdr(fn, &info) == 0 || info.dli_fname == NULL) {
    bench_fail("which: cannot find malloc");
  }
  void* p = bench_malloc(64);
  bench_fill(p, 64);
  bench_check(p, 64, "which");
  free(p);
  printf("malloc %s\n", info.dli_fname);
  return 0;
}
