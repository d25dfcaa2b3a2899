// A small program the fault suites run as a child process with a controlled
// environment (runtime options are read from it once, at load time). Built
// twice: `fault_helper` against the default core, `fault_helper_hardened`
// against the hardened one. argv[1] names a scenario; each prints its figures
// as NAME=VALUE lines on stdout and exits 0, or 2 on bad usage.
//
//   noop          one malloc and free
//   stats_exit    keeps 5 blocks of 100 bytes live, writes "helper: exiting"
//                 to stderr and returns from main (statistics come after it)
//   bulk_free     3 MiB of 1 KiB blocks allocated and freed (below the 4 MiB
//                 purge bound): dirty= purged=
//   purge_delay MS   like bulk_free (dirty_after_free= purged_after_free=),
//                 then sleeps MS ms and frees 20 more pages' blocks
//                 (dirty_after_sleep= purged_after_sleep=)
//   trim_rss      64 MiB of 1000-byte blocks: rss_peak= rss_after_free=
//                 dirty_after_free= trimmed= rss_after_trim= dirty_after_trim=
//   quiet MS      64 MiB of 1 KiB blocks and eight 4 MiB blocks allocated,
//                 touched and freed, then MS ms with no allocator call at all:
//                 rss_after_free= cached_after_free= rss_after_quiet=
//                 cached_after_quiet= dirty_after_quiet= background_ticks=
//   zero_freed    small blocks freed by their owner and by another thread:
//                 nonzero_<how>_<size>= (first nonzero byte at offset >= 16
//                 of the freed block, past its link and key; -1 if all zero)
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lite_malloc/lite_malloc.h"
#include "testing/test_util.h"

// The blocks stats_exit leaves live (external, so they are not optimised away).
void* g_live_at_exit[5];

namespace {

lite_malloc_stats Stats() {
  lite_malloc_stats s;
  memset(&s, 0, sizeof s);
  lite_malloc_get_stats(&s);
  return s;
}

using lite_test::Rss;

void SleepMs(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

int Noop() {
  void* p = lite_malloc(100);
  if (p == nullptr) return 1;
  memset(p, 1, 100);
  lite_free(p);
  printf("ok=1\n");
  return 0;
}

int StatsExit() {
  for (int i = 0; i < 10; i++) {
    void* p = lite_malloc(100);
    if (p == nullptr) return 1;
    if (i < 5) {
      g_live_at_exit[i] = p;
    } else {
      lite_free(p);
    }
  }
  printf("ok=1\n");
  fflush(stdout);
  const char line[] = "helper: exiting\n";
  if (write(2, line, sizeof line - 1) < 0) return 1;
  return 0;  // the blocks in g_live_at_exit stay live until exit
}

constexpr size_t kBulkBlock = 1024;
constexpr size_t kBulkCount = 3 * 1024;  // 3 MiB: 48 pages of 64 KiB

void** BulkAlloc(size_t count, size_t size) {
  void** v = static_cast<void**>(calloc(count, sizeof(void*)));
  for (size_t i = 0; i < count; i++) {
    v[i] = lite_malloc(size);
    if (v[i] == nullptr) {
      fprintf(stderr, "helper: allocation failed\n");
      exit(1);
    }
    memset(v[i], 0x5a, size);
  }
  return v;
}

void BulkFree(void** v, size_t count) {
  for (size_t i = 0; i < count; i++) lite_free(v[i]);
  free(v);
}

int BulkFreeScenario() {
  void** v = BulkAlloc(kBulkCount, kBulkBlock);
  BulkFree(v, kBulkCount);
  lite_malloc_stats s = Stats();
  printf("dirty=%zu\npurged=%zu\n", s.dirty_bytes, s.purged_bytes);
  return 0;
}

int PurgeDelay(long ms) {
  // 2 KiB blocks: 32 to a one-slice page, so 640 of them fill 20 pages; all
  // but the current page of the class go back to their segment when their
  // last block is freed: 19 releases, enough for the purge policy to look at
  // the clock (it does every 16th time).
  constexpr size_t kLater = 640;
  void** later = BulkAlloc(kLater, 2048);
  void** v = BulkAlloc(kBulkCount, kBulkBlock);
  BulkFree(v, kBulkCount);
  lite_malloc_stats s = Stats();
  printf("dirty_after_free=%zu\npurged_after_free=%zu\n", s.dirty_bytes, s.purged_bytes);
  SleepMs(ms);
  BulkFree(later, kLater);
  s = Stats();
  printf("dirty_after_sleep=%zu\npurged_after_sleep=%zu\n", s.dirty_bytes, s.purged_bytes);
  return 0;
}

int TrimRss() {
  constexpr size_t kSize = 1000, kCount = 64 * 1024;  // 62.5 MiB
  void** v = BulkAlloc(kCount, kSize);
  printf("rss_peak=%zu\n", Rss());
  BulkFree(v, kCount);
  printf("rss_after_free=%zu\ndirty_after_free=%zu\n", Rss(), Stats().dirty_bytes);
  int trimmed = lite_malloc_trim(0);
  printf("trimmed=%d\nrss_after_trim=%zu\ndirty_after_trim=%zu\n", trimmed, Rss(),
         Stats().dirty_bytes);
  return 0;
}

int Quiet(long ms) {
  constexpr size_t kSmall = 64 * 1024, kLarge = 8;
  void** small = BulkAlloc(kSmall, 1024);
  void* large[kLarge];
  for (size_t i = 0; i < kLarge; i++) {
    large[i] = lite_malloc(size_t{4} << 20);
    if (large[i] == nullptr) return 1;
    memset(large[i], 1, size_t{4} << 20);
  }
  BulkFree(small, kSmall);
  for (size_t i = 0; i < kLarge; i++) lite_free(large[i]);
  lite_malloc_os_stats os;
  lite_malloc_get_os_stats(&os);
  printf("rss_after_free=%zu\ncached_after_free=%zu\n", Rss(), os.large_cached_bytes);
  SleepMs(ms);  // the program goes quiet: only a background thread can return memory now
  const size_t rss = Rss();
  lite_malloc_get_os_stats(&os);
  const lite_malloc_stats s = Stats();
  printf("rss_after_quiet=%zu\ncached_after_quiet=%zu\ndirty_after_quiet=%zu\nbackground_ticks=%llu\n",
         rss, os.large_cached_bytes, s.dirty_bytes,
         static_cast<unsigned long long>(os.background_ticks));
  return 0;
}

// Offset of the first nonzero byte in p[16 .. n), or -1: a free block's first
// two words are its link and its key.
long FirstNonZeroPastLink(const void* p, size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (size_t i = 16; i < n; i++)
    if (b[i] != 0) return static_cast<long>(i);
  return -1;
}

void* FreeInThread(void* p) {
  lite_free(p);
  return nullptr;
}

int ZeroFreed() {
  static const size_t kSizes[] = {16, 100, 1000, 8000};
  for (size_t size : kSizes) {
    void* keep = lite_malloc(size);  // keeps the page in use
    void* p = lite_malloc(size);
    if (keep == nullptr || p == nullptr) return 1;
    const size_t usable = lite_malloc_usable_size(p);
    memset(p, 0xab, usable);
    lite_free(p);
    // Reading a freed block is fine here: lite_malloc's pages stay mapped.
    printf("nonzero_owner_%zu=%ld\n", size, FirstNonZeroPastLink(p, usable));

    void* q = lite_malloc(size);
    if (q == nullptr) return 1;
    memset(q, 0xcd, usable);
    pthread_t t;
    if (pthread_create(&t, nullptr, FreeInThread, q) != 0) return 1;
    pthread_join(t, nullptr);
    printf("nonzero_remote_%zu=%ld\n", size, FirstNonZeroPastLink(q, usable));
    lite_free(keep);
  }
  return 0;
}

}  // namespace

// What the first allocation of a process maps: one segment and the tables it
// needs, not a batch.
int Startup() {
  void* p = lite_malloc(100);
  if (p == nullptr) return 1;
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  printf("mapped=%zu\nmappings=%zu\nsegments=%zu\n", s.mapped_bytes, s.mappings, s.segments);
  lite_free(p);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* what = argv[1];
  if (strcmp(what, "noop") == 0) return Noop();
  if (strcmp(what, "startup") == 0) return Startup();
  if (strcmp(what, "stats_exit") == 0) return StatsExit();
  if (strcmp(what, "bulk_free") == 0) return BulkFreeScenario();
  if (strcmp(what, "purge_delay") == 0 && argc >= 3) return PurgeDelay(atol(argv[2]));
  if (strcmp(what, "trim_rss") == 0) return TrimRss();
  if (strcmp(what, "zero_freed") == 0) return ZeroFreed();
  if (strcmp(what, "quiet") == 0 && argc >= 3) return Quiet(atol(argv[2]));
  fprintf(stderr, "helper: unknown scenario %s\n", what);
  return 2;
}
