/* lifecycle_probe: lite_malloc through a process's whole life, wherever libc
 * and the program allocate:
 *   - before main (a constructor) and after it (an atexit handler);
 *   - inside dlopen, dlsym and dlerror, and pthread_create's thread set-up;
 *   - in a thread-specific-data destructor, while the thread exits;
 *   - fork() while other threads allocate, many times: the child allocates,
 *     frees and starts a thread at once;
 *   - thread exit gives back the thread's front, also for threads that only
 *     free (the count of attached threads comes back to where it was).
 * Expects lite_malloc in the process (linked, or LD_PRELOADed). Exit status 0
 * when every check holds. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testing/modes/probe.h"

static int failures;
static int before_main_owned;

__attribute__((constructor(101))) static void before_main(void) {
  void* p = malloc(24);
  before_main_owned = probe_owns(p);
  free(p);
}

static void after_main(void) {
  char* p = malloc(4000);
  if (!probe_owns(p)) {
    fprintf(stderr, "FAIL malloc in an atexit handler is not lite_malloc's\n");
    _exit(1);
  }
  memset(p, 1, 4000);
  free(p);
  printf("ok   malloc in an atexit handler\n");
}

// -----------------------------------------------------------------------------
// Threads
// -----------------------------------------------------------------------------

static pthread_key_t exit_key;

/* Runs while the thread exits, possibly after lite_malloc heard of the exit. */
static void on_thread_exit(void* value) {
  free(value);
  void* p = malloc(100);
  free(p);
}

static void* allocating_thread(void* arg) {
  (void)arg;
  pthread_setspecific(exit_key, malloc(50));
  void* blocks[256];
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 256; i++) blocks[i] = malloc((size_t)(16 + i * 40));
    for (int i = 0; i < 256; i++) free(blocks[i]);
  }
  return malloc(32);  /* freed by the main thread */
}

/* Frees what the main thread allocated, and allocates nothing. */
static void* freeing_thread(void* arg) {
  void** blocks = arg;
  for (int i = 0; i < 1000; i++) free(blocks[i]);
  return NULL;
}

static void check_threads(void) {
  lite_malloc_stats before, after;
  probe_stats(&before);
  pthread_t threads[16];
  for (int round = 0; round < 4; round++) {
    for (int t = 0; t < 16; t++) pthread_create(&threads[t], NULL, allocating_thread, NULL);
    for (int t = 0; t < 16; t++) {
      void* p;
      pthread_join(threads[t], &p);
      free(p);
    }
  }
  void* blocks[1000];
  for (int i = 0; i < 1000; i++) blocks[i] = malloc((size_t)(8 + i % 500));
  pthread_create(&threads[0], NULL, freeing_thread, blocks);
  pthread_join(threads[0], NULL);
  probe_stats(&after);
  failures += probe_check(after.threads == before.threads,
                          "64 allocating threads and 1 freeing thread exited: attached threads back");
  printf("     attached threads: %zu before, %zu after\n", before.threads, after.threads);
}

// -----------------------------------------------------------------------------
// fork
// -----------------------------------------------------------------------------

static atomic_int stop;

static void* churn(void* arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  void* held[64] = {0};
  while (!atomic_load(&stop)) {
    seed = seed * 1103515245u + 12345u;
    int i = (int)(seed >> 16) % 64;
    free(held[i]);
    held[i] = malloc((seed >> 8) % 3000 + ((seed & 0xff) == 0 ? 300000 : 1));
  }
  for (int i = 0; i < 64; i++) free(held[i]);
  return NULL;
}

static void* child_thread(void* arg) { return malloc((size_t)(uintptr_t)arg); }

/* In the child: allocate, free, start a thread. Exit status 0 when all worked. */
static int child_work(void) {
  alarm(20);  /* a deadlock kills the child, and the parent sees it */
  void* blocks[200];
  for (int i = 0; i < 200; i++) {
    blocks[i] = malloc((size_t)(1 + i * 97 % 20000));
    if (blocks[i] == NULL || !probe_owns(blocks[i])) return 1;
    memset(blocks[i], i, 1);
  }
  for (int i = 0; i < 200; i++) free(blocks[i]);
  pthread_t thread;
  void* p = NULL;
  if (pthread_create(&thread, NULL, child_thread, (void*)(uintptr_t)100) != 0) return 2;
  pthread_join(thread, &p);
  if (p == NULL || !probe_owns(p)) return 3;
  free(p);
  return 0;
}

static void check_fork(void) {
  pthread_t threads[2];
  for (int t = 0; t < 2; t++) pthread_create(&threads[t], NULL, churn, (void*)(uintptr_t)(t + 1));
  int forks = 200, good = 0;
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    if (pid == 0) _exit(child_work());
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      good++;
    else
      fprintf(stderr, "fork %d: child status 0x%x\n", i, status);
  }
  atomic_store(&stop, 1);
  for (int t = 0; t < 2; t++) pthread_join(threads[t], NULL);
  char line[128];
  snprintf(line, sizeof line, "%d of %d forks (2 threads allocating): child allocated at once",
           good, forks);
  failures += probe_check(good == forks, line);
}

// -----------------------------------------------------------------------------
// main
// -----------------------------------------------------------------------------

int main(void) {
  lite_malloc_stats stats;
  if (!probe_stats(&stats)) {
    printf("FAIL lite_malloc is not in the process\n");
    return 1;
  }
  failures += probe_check(before_main_owned, "malloc in a constructor, before main");
  atexit(after_main);
  pthread_key_create(&exit_key, on_thread_exit);

  void* libm = dlopen("libm.so.6", RTLD_NOW);
  failures += probe_check(libm != NULL && dlsym(libm, "cos") != NULL, "dlopen and dlsym");
  failures += probe_check(dlopen("liblite-no-such-library.so", RTLD_NOW) == NULL &&
                              dlerror() != NULL,
                          "dlopen failure and dlerror");
  check_threads();
  check_fork();
  printf("%s\n", failures ? "FAILED" : "PASSED");
  return failures ? 1 : 0;
}
