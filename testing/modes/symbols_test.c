/* symbols_test: every libc name that //lite_malloc:static (and so
 * liblite-malloc-shared.so) defines, called by name, reaches lite_malloc; and
 * glibc's extensions report lite_malloc's figures:
 *   - malloc, ..., cfree, free_sized, free_aligned_sized, the __libc_* family
 *     and __posix_memalign: every block is lite_malloc's;
 *   - mallinfo2 / mallinfo: live bytes, large blocks, arena = in use + free;
 *   - malloc_trim: gives the cached memory back (keepcost drops to 0);
 *   - malloc_stats and malloc_info: lite_malloc's report;
 *   - mallopt: accepts and ignores glibc's parameters. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing/modes/probe.h"

/* Exported by lite_malloc (and glibc) without a declaration in glibc 2.36. */
void cfree(void* p);
void free_sized(void* p, size_t size);
void free_aligned_sized(void* p, size_t alignment, size_t size);
void* __libc_malloc(size_t size);
void __libc_free(void* p);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* p, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void* __libc_valloc(size_t size);
void* __libc_pvalloc(size_t size);
int __posix_memalign(void** out, size_t alignment, size_t size);

static int failures;

static void* owned(void* p, const char* what) {
  failures += probe_check(p != NULL && probe_owns(p), what);
  return p;
}

static void check_names(void) {
  cfree(owned(malloc(10), "malloc, then cfree"));
  free_sized(owned(malloc(100), "malloc, then free_sized"), 100);
  free_aligned_sized(owned(aligned_alloc(64, 128), "aligned_alloc, then free_aligned_sized"), 64,
                     128);
  __libc_free(owned(__libc_malloc(20), "__libc_malloc, then __libc_free"));
  void* p = owned(__libc_calloc(4, 8), "__libc_calloc");
  __libc_free(owned(__libc_realloc(p, 3000), "__libc_realloc"));
  __libc_free(owned(__libc_memalign(128, 10), "__libc_memalign"));
  __libc_free(owned(__libc_valloc(10), "__libc_valloc"));
  __libc_free(owned(__libc_pvalloc(10), "__libc_pvalloc"));
  p = NULL;
  failures += probe_check(__posix_memalign(&p, 32, 10) == 0, "__posix_memalign returns 0");
  free(owned(p, "__posix_memalign"));
  failures += probe_check(malloc_usable_size(owned(p = malloc(20), "malloc(20)")) >= 20,
                          "malloc_usable_size(malloc(20)) >= 20");
  free(p);
}

static void check_mallinfo(void) {
  struct mallinfo2 before = mallinfo2();
  enum { N = 1000 };
  static void* blocks[N];
  for (int i = 0; i < N; i++) blocks[i] = malloc(100);
  void* volatile large = malloc(4 << 20);  /* volatile: gcc may elide malloc+free */
  memset(large, 1, 4 << 20);
  struct mallinfo2 during = mallinfo2();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  struct mallinfo old = mallinfo();  /* deprecated by glibc, still to be answered */
#pragma GCC diagnostic pop
  printf("     mallinfo2: arena %zu, uordblks %zu, fordblks %zu, hblks %zu, hblkhd %zu, keepcost %zu\n",
         during.arena, during.uordblks, during.fordblks, during.hblks, during.hblkhd,
         during.keepcost);
  failures += probe_check(during.uordblks >= before.uordblks + N * 100,
                          "mallinfo2: uordblks grows by the 1000 live blocks");
  failures += probe_check(during.arena == during.uordblks + during.fordblks,
                          "mallinfo2: arena = uordblks + fordblks");
  failures += probe_check(during.hblks >= 1 && during.hblkhd >= (4 << 20),
                          "mallinfo2: the 4 MiB block is counted in hblks and hblkhd");
  failures += probe_check(old.uordblks == (int)during.uordblks && old.hblks == (int)during.hblks,
                          "mallinfo agrees with mallinfo2");
  for (int i = 0; i < N; i++) free(blocks[i]);
  free(large);
  struct mallinfo2 after = mallinfo2();
  failures += probe_check(after.hblkhd + (4 << 20) <= during.hblkhd,
                          "mallinfo2: hblkhd drops when the large block is freed");

  /* 16 MiB of medium blocks, freed: pages go back to their segments, dirty. */
  static void* medium[2048];
  for (int i = 0; i < 2048; i++) memset(medium[i] = malloc(8192), 1, 8192);
  for (int i = 0; i < 2048; i++) free(medium[i]);
  struct mallinfo2 freed = mallinfo2();
  int released = malloc_trim(0);
  struct mallinfo2 trimmed = mallinfo2();
  printf("     malloc_trim(0) = %d: keepcost %zu -> %zu, arena %zu -> %zu\n", released,
         freed.keepcost, trimmed.keepcost, freed.arena, trimmed.arena);
  failures += probe_check(freed.keepcost > 0 && released == 1,
                          "malloc_trim(0): there was free memory to give back, and it says so");
  failures += probe_check(trimmed.keepcost == 0 && trimmed.arena < freed.arena,
                          "malloc_trim(0): keepcost drops to 0, and so does arena");
}

/* Runs malloc_stats with stderr sent to a file; returns the file's text. */
static char* stats_text(void) {
  const char* dir = getenv("TEST_TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/stats.XXXXXX", dir != NULL ? dir : "/tmp");
  int fd = mkstemp(path);
  int saved = dup(2);
  dup2(fd, 2);
  malloc_stats();
  dup2(saved, 2);
  close(saved);
  off_t size = lseek(fd, 0, SEEK_END);
  char* text = calloc(1, (size_t)size + 1);
  pread(fd, text, (size_t)size, 0);
  close(fd);
  unlink(path);
  return text;
}

static void check_reports(void) {
  char* text = stats_text();
  failures += probe_check(strstr(text, "Total (incl. mmap):") != NULL &&
                              strstr(text, "lite_malloc statistics") != NULL,
                          "malloc_stats: glibc's totals, then lite_malloc's report");
  free(text);
  char* xml = NULL;
  size_t xml_size = 0;
  FILE* out = open_memstream(&xml, &xml_size);
  int rc = malloc_info(0, out);
  fclose(out);
  failures += probe_check(rc == 0 &&
                              strstr(xml, "<malloc version=\"lite_malloc-" LITE_MALLOC_VERSION_STRING
                                          "\">") != NULL &&
                              strstr(xml, "</malloc>") != NULL,
                          "malloc_info(0): lite_malloc's XML report");
  free(xml);
  errno = 0;
  failures += probe_check(malloc_info(1, stdout) == -1 && errno == EINVAL,
                          "malloc_info(1): EINVAL, as glibc");
}

static void check_mallopt(void) {
  int all = 1;
  const int params[] = {M_MXFAST,  M_TRIM_THRESHOLD, M_TOP_PAD,   M_MMAP_THRESHOLD,
                        M_MMAP_MAX, M_CHECK_ACTION,  M_PERTURB,   M_ARENA_TEST,
                        M_ARENA_MAX, 12345};
  for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) all &= mallopt(params[i], 1) == 1;
  failures += probe_check(all, "mallopt: every glibc parameter accepted (and ignored)");
}

int main(void) {
  check_names();
  check_mallinfo();
  check_reports();
  check_mallopt();
  printf("%s\n", failures ? "FAILED" : "PASSED");
  return failures ? 1 : 0;
}
