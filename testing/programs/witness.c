/* libwitness.so: preloaded after liblite-malloc-shared.so by the real-program
 * tests, it records for each process of the program whether malloc is
 * lite_malloc's and how many allocations lite_malloc made.
 *
 * At exit each process appends one line to the file named by
 * LITE_WITNESS_FILE:
 *
 *   <pid> owned=<0|1> allocations=<n>
 *
 * owned: malloc(16), called from here, returned a block lite_malloc_owns; the
 * program's own malloc calls resolve to the same definition. The line is
 * written with open/write at destructor time, because programs may close
 * stderr before exiting (coreutils' close_stdout does). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testing/modes/probe.h"

__attribute__((destructor)) static void witness_at_exit(void) {
  const char* path = getenv("LITE_WITNESS_FILE");
  if (path == NULL) return;
  void* p = malloc(16);
  int owned = probe_owns(p);
  free(p);
  lite_malloc_stats s = {0};
  probe_stats(&s);
  char line[128];
  int n = snprintf(line, sizeof line, "%d owned=%d allocations=%llu\n", (int)getpid(), owned,
                   (unsigned long long)s.allocations);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!write(fd, line, (size_t)n);
    close(fd);
  }
}
