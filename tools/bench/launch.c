/* The runner's launcher: runs one command and reports what it cost.
 *
 *   launch OUT PRELOAD TIMEOUT COMMAND [ARG...]
 *
 * Runs COMMAND with LD_PRELOAD=PRELOAD (or without LD_PRELOAD when PRELOAD is
 * empty), waits for it and writes one line to the file OUT:
 *
 *   wall_s cpu_s maxrss_kib exit_code
 *
 * then exits with the command's exit code (128+N when killed by signal N).
 * A command still running after TIMEOUT seconds is killed (exit code 137), so
 * an allocator that hangs cannot stop the benchmark.
 * It exists because the kernel's peak RSS of a process includes the memory it
 * had before exec: a child forked by the Python runner would report the
 * runner's own 20-odd MiB. Forked from this small program, it reports its
 * own. Wall time is taken here too, around fork and wait only. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;

static void on_alarm(int sig) {
  (void)sig;
  kill(child, SIGKILL);
}

static double seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s OUT PRELOAD TIMEOUT COMMAND [ARG...]\n", argv[0]);
    return 2;
  }
  if (argv[2][0] != '\0') {
    setenv("LD_PRELOAD", argv[2], 1);
  } else {
    unsetenv("LD_PRELOAD");
  }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  child = fork();
  if (child < 0) {
    perror("launch: fork");
    return 2;
  }
  if (child == 0) {
    execvp(argv[4], argv + 4);
    perror("launch: exec");
    _exit(127);
  }
  signal(SIGALRM, on_alarm);
  alarm((unsigned)atoi(argv[3]));
  int status;
  struct rusage usage;
  while (wait4(child, &status, 0, &usage) != child) {
    if (errno != EINTR) {
      perror("launch: wait4");
      return 2;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE* out = fopen(argv[1], "w");
  if (out == NULL) {
    perror("launch: open OUT");
    return 2;
  }
  fprintf(out, "%.6f %.6f %ld %d\n",
          (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9,
          seconds(usage.ru_utime) + seconds(usage.ru_stime), usage.ru_maxrss, code);
  fclose(out);
  return code;
}
