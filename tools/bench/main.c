/* The benchmark's workload program: runs one workload by name.
 *
 *   workloads NAME [SCALE [ARG]]
 *
 * Calls plain malloc/free: run it bare for glibc, or under LD_PRELOAD of
 * another allocator. Exits 0 when the workload's checks passed, 1 when they
 * did not, 2 on bad arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bench/workloads.h"

static const struct {
  const char* name;
  bench_workload_fn run;
} workloads[] = {
    {"churn", wl_churn},       {"server", wl_server},       {"prodcons", wl_prodcons},
    {"larson", wl_larson},     {"xmalloc", wl_xmalloc},     {"mstress", wl_mstress},
    {"realloc", wl_realloc},   {"large", wl_large},         {"fragment", wl_fragment},
    {"overhead", wl_overhead}, {"return_os", wl_return_os}, {"loop", wl_loop},
    {"which", wl_which},
};

int main(int argc, char** argv) {
  if (argc >= 2) {
    double scale = argc >= 3 ? strtod(argv[2], NULL) : 1.0;
    const char* arg = argc >= 4 ? argv[3] : NULL;
    for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
      if (strcmp(argv[1], workloads[i].name) == 0 && scale > 0) {
        return workloads[i].run(scale, arg);
      }
    }
  }
  fprintf(stderr, "usage: %s NAME [SCALE [ARG]]\nworkloads:", argv[0]);
  for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
    fprintf(stderr, " %s", workloads[i].name);
  }
  fputc('\n', stderr);
  return 2;
}
