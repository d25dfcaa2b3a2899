// Concurrency stress test of the lite_* API, in the spirit of the classic
// allocator stress tests (mimalloc's test-stress, Larson): many threads, sizes
// over six orders of magnitude with a few very large ones, contents written at
// allocation and verified at free, blocks passed between threads through a
// shared array of transfer slots, and threads that end while some of their
// blocks live on in other threads (new threads keep starting in their place).
//
//   stress [--seconds=S] [--threads=N] [--seed=K] [--max_size=BYTES] [--sample_ms=M]
//
// With --sample_ms (the soak mode, for long runs) the main thread samples the
// resident set and the slices in use every M ms, prints one line per 30 s
// window (the peak of each), and fails if memory has not levelled off: the
// peak of the last quarter of the run more than 1.5x that of the second
// quarter plus 64 MiB.
//
// Each of N "lanes" runs worker threads one after another until S seconds
// have passed; a worker lives for a random number of operations. At the end
// the main thread frees what is left and checks that lite_malloc's statistics
// are back where they started. Any failed check prints one line and aborts.
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "lite_malloc/lite_malloc.h"

namespace {

// ---------------------------------------------------------------------------
// Options and helpers
// ---------------------------------------------------------------------------
struct Options {
  double seconds = 2;
  int threads = 8;
  uint64_t seed = 1;
  size_t max_size = size_t{32} << 20;
  long sample_ms = 0;
};

[[noreturn]] void Die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "stress: FAILED: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

// xorshift64*: one per thread, seeded from the options.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  // Log-uniform in [lo, hi].
  size_t LogRange(size_t lo, size_t hi) {
    const int lo_bit = 63 - __builtin_clzll(lo), hi_bit = 63 - __builtin_clzll(hi);
    const size_t base = size_t{1} << (lo_bit + Below(hi_bit - lo_bit + 1));
    const size_t n = base + Below(base);
    return n < lo ? lo : n > hi ? hi : n;
  }

 private:
  uint64_t s_;
};

// Sizes: 75% up to 256 bytes, 23% up to 64 KiB, 2% up to 1 MiB, and one in
// two thousand between 4 MiB and max_size.
size_t PickSize(Rng& rng, size_t max_size) {
  const size_t r = rng.Below(10000);
  size_t n;
  if (r < 7500) {
    n = rng.LogRange(1, 256);
  } else if (r < 9800) {
    n = rng.LogRange(257, 64 << 10);
  } else if (r < 9995) {
    n = rng.LogRange((64 << 10) + 1, 1 << 20);
  } else {
    n = rng.LogRange(4 << 20, max_size > (4 << 20) ? max_size : 4 << 20);
  }
  return n < max_size ? n : max_size;
}

// ---------------------------------------------------------------------------
// Blocks and their contents
// ---------------------------------------------------------------------------
// A live block as its holder knows it. Items move between threads by pointer
// (allocated with the process's own new, never with lite_malloc).
struct Item {
  void* p;
  size_t size;
  uint64_t serial;  // unique per allocation: the pattern's seed
};

std::atomic<uint64_t> g_serials{1};

uint64_t Word(uint64_t serial, size_t i) {
  uint64_t x = serial * 0xD1B54A32D192ED03ull ^ (i + 1) * 0x9E3779B97F4A7C15ull;
  return x ^ (x >> 29);
}

// Every word up to 256 KiB; past that the first and last 4 KiB and one word
// per 4 KiB page, so very large blocks cost a page touch each, not a copy.
constexpr size_t kFullPattern = 256 << 10;

template <typename F>
void ForEachWord(size_t size, F f) {
  const size_t words = size / 8;
  if (size <= kFullPattern) {
    for (size_t i = 0; i < words; i++) f(i);
    return;
  }
  for (size_t i = 0; i < 512; i++) f(i);
  for (size_t i = 512; i < words - 512; i += 512) f(i);
  for (size_t i = words - 512; i < words; i++) f(i);
}

// Byte j of the pattern of a block of `size` bytes (for the bytes outside
// whole words, and for prefixes that end inside a word).
unsigned char PatternByte(const Item& it, size_t j) {
  if (j < it.size / 8 * 8) return static_cast<unsigned char>(Word(it.serial, j / 8) >> (j % 8 * 8));
  return static_cast<unsigned char>(it.serial + j);
}

void Fill(const Item& it) {
  uint64_t* w = static_cast<uint64_t*>(it.p);
  ForEachWord(it.size, [&](size_t i) { w[i] = Word(it.serial, i); });
  unsigned char* b = static_cast<unsigned char*>(it.p);
  for (size_t j = it.size / 8 * 8; j < it.size; j++) b[j] = PatternByte(it, j);
}

// Checks the first `limit` bytes (all by default) of the item's pattern.
void Verify(const Item& it, const char* when, size_t limit = SIZE_MAX) {
  const size_t n = limit < it.size ? limit : it.size;
  const uint64_t* w = static_cast<const uint64_t*>(it.p);
  ForEachWord(it.size, [&](size_t i) {
    if (i < n / 8 && w[i] != Word(it.serial, i)) {
      Die("%s: block %p (size %zu, #%" PRIu64 ") word %zu is %016" PRIx64 ", want %016" PRIx64,
          when, it.p, it.size, it.serial, i, w[i], Word(it.serial, i));
    }
  });
  // The bytes after the last whole word of the prefix, where they were written.
  if (it.size > kFullPattern && n < it.size) return;
  const unsigned char* b = static_cast<const unsigned char*>(it.p);
  for (size_t j = n / 8 * 8; j < n; j++) {
    if (b[j] != PatternByte(it, j)) Die("%s: block %p (size %zu) byte %zu changed", when, it.p, it.size, j);
  }
}

void CheckFresh(const Item& it, size_t align, const char* fn) {
  if (it.p == nullptr) Die("%s(%zu) returned NULL", fn, it.size);
  if (reinterpret_cast<uintptr_t>(it.p) % align != 0) Die("%s gave %p, not %zu-aligned", fn, it.p, align);
  const size_t usable = lite_malloc_usable_size(it.p);
  if (usable < it.size) Die("%s(%zu) gave usable size %zu", fn, it.size, usable);
}

// ---------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------
constexpr int kLocalSlots = 256;
constexpr int kTransferSlots = 1024;

std::atomic<Item*> g_transfer[kTransferSlots];
std::atomic<bool> g_stop{false};

struct Counters {
  std::atomic<uint64_t> ops{0}, allocs{0}, transfers{0}, workers{0}, bytes{0};
} g_count;

Item* Allocate(Rng& rng, size_t max_size) {
  Item* it = new Item{nullptr, PickSize(rng, max_size), g_serials.fetch_add(1)};
  const size_t kind = rng.Below(16);
  size_t align = it->size > 8 ? 16 : 8;
  if (kind == 0) {
    it->p = lite_calloc(1, it->size);
    CheckFresh(*it, align, "calloc");
    const uint64_t* w = static_cast<const uint64_t*>(it->p);
    ForEachWord(it->size, [&](size_t i) {
      if (w[i] != 0) Die("calloc(1, %zu) block %p word %zu not zero", it->size, it->p, i);
    });
  } else if (kind == 1) {
    align = size_t{16} << rng.Below(9);  // 16 .. 4096
    it->p = lite_aligned_alloc(align, it->size);
    CheckFresh(*it, align, "aligned_alloc");
  } else {
    it->p = lite_malloc(it->size);
    CheckFresh(*it, align, "malloc");
  }
  Fill(*it);
  g_count.allocs.fetch_add(1, std::memory_order_relaxed);
  g_count.bytes.fetch_add(it->size, std::memory_order_relaxed);
  return it;
}

void Release(Item* it) {
  if (it == nullptr) return;
  Verify(*it, "at free");
  lite_free(it->p);
  delete it;
}

void Reallocate(Rng& rng, Item* it, size_t max_size) {
  Verify(*it, "before realloc");
  const size_t new_size = rng.Below(2) ? PickSize(rng, max_size) : it->size + rng.Below(64);
  void* q = lite_realloc(it->p, new_size ? new_size : 1);
  if (q == nullptr) Die("realloc(%p, %zu) returned NULL", it->p, new_size);
  it->p = q;
  Verify(*it, "after realloc", new_size);
  it->size = new_size ? new_size : 1;
  it->serial = g_serials.fetch_add(1);
  CheckFresh(*it, it->size > 8 ? 16 : 8, "realloc");
  Fill(*it);
}

// One worker thread's life: `ops` operations on its own slots and the shared
// transfer slots; at the end some blocks are freed, the rest handed on.
void Worker(uint64_t seed, long ops, size_t max_size) {
  Rng rng(seed);
  Item* local[kLocalSlots] = {};
  long i = 0;
  for (; i < ops; i++) {
    if ((i & 255) == 0 && g_stop.load(std::memory_order_relaxed)) break;
    Item*& slot = local[rng.Below(kLocalSlots)];
    const size_t r = rng.Below(100);
    if (r < 50) {
      Release(slot);
      slot = Allocate(rng, max_size);
    } else if (r < 75) {
      Release(slot);
      slot = nullptr;
    } else if (r < 90) {
      // Swap with a transfer slot: blocks (and their memory) change threads.
      slot = g_transfer[rng.Below(kTransferSlots)].exchange(slot, std::memory_order_acq_rel);
      g_count.transfers.fetch_add(1, std::memory_order_relaxed);
    } else if (slot != nullptr) {
      Reallocate(rng, slot, max_size);
    }
  }
  g_count.ops.fetch_add(static_cast<uint64_t>(i), std::memory_order_relaxed);
  // Threads end with blocks alive: half go on to other threads.
  for (Item*& slot : local) {
    if (slot != nullptr && rng.Below(2) == 0) {
      slot = g_transfer[rng.Below(kTransferSlots)].exchange(slot, std::memory_order_acq_rel);
    }
    Release(slot);
  }
  g_count.workers.fetch_add(1, std::memory_order_relaxed);
}

// A lane starts worker after worker, each with a lifetime of its own.
void Lane(int lane, const Options& opt) {
  Rng rng(opt.seed * 1000 + static_cast<uint64_t>(lane));
  while (!g_stop.load(std::memory_order_relaxed)) {
    const long ops = static_cast<long>(500 + rng.Below(20000));
    std::thread worker(Worker, rng.Next(), ops, opt.max_size);
    worker.join();
  }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------
bool Flag(const char* arg, const char* name, const char** value) {
  const size_t n = strlen(name);
  if (strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

Options Parse(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; i++) {
    const char* v;
    if (Flag(argv[i], "--seconds", &v)) {
      opt.seconds = atof(v);
    } else if (Flag(argv[i], "--threads", &v)) {
      opt.threads = atoi(v);
    } else if (Flag(argv[i], "--seed", &v)) {
      opt.seed = strtoull(v, nullptr, 10);
    } else if (Flag(argv[i], "--max_size", &v)) {
      opt.max_size = strtoull(v, nullptr, 10);
    } else if (Flag(argv[i], "--sample_ms", &v)) {
      opt.sample_ms = atol(v);
    } else {
      fprintf(stderr,
              "usage: %s [--seconds=S] [--threads=N] [--seed=K] [--max_size=BYTES] "
              "[--sample_ms=M]\n",
              argv[0]);
      exit(2);
    }
  }
  if (opt.threads < 1 || opt.max_size < 8) {
    fprintf(stderr, "stress: --threads must be >= 1 and --max_size >= 8\n");
    exit(2);
  }
  return opt;
}

lite_malloc_stats Stats() {
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  return s;
}

void CheckReturned(const lite_malloc_stats& before) {
  lite_malloc_trim(0);
  const lite_malloc_stats after = Stats();
  if (after.large_blocks != before.large_blocks || after.large_bytes != before.large_bytes) {
    Die("%zu large blocks (%zu bytes) left, %zu (%zu) at the start", after.large_blocks,
        after.large_bytes, before.large_blocks, before.large_bytes);
  }
  if (after.bytes_in_use != before.bytes_in_use) {
    Die("%zu bytes in use at the end, %zu at the start", after.bytes_in_use, before.bytes_in_use);
  }
  if (after.allocations - after.frees != before.allocations - before.frees) {
    Die("%" PRIu64 " allocations but %" PRIu64 " frees", after.allocations - before.allocations,
        after.frees - before.frees);
  }
  if (after.threads != before.threads) Die("%zu thread fronts attached at the end", after.threads);
  if (after.dirty_bytes != 0) Die("%zu dirty bytes after malloc_trim(0)", after.dirty_bytes);
}

size_t RssMiB() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
  fclose(f);
  return resident * 4096 >> 20;
}

// The soak mode's sampling loop: runs until `seconds` have passed.
void Soak(const Options& opt) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<size_t> rss;  // one sample per tick
  size_t window_rss = 0, window_slices = 0;
  int window = 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(opt.sample_ms));
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const size_t r = RssMiB(), slices = Stats().pages_in_use;
    rss.push_back(r);
    window_rss = r > window_rss ? r : window_rss;
    window_slices = slices > window_slices ? slices : window_slices;
    if (t >= 30.0 * (window + 1) || t >= opt.seconds) {
      printf("soak: %3d-%3d s: peak RSS %zu MiB, peak slices in use %zu (%zu MiB)\n", 30 * window,
             static_cast<int>(t), window_rss, window_slices, window_slices >> 4);
      fflush(stdout);
      window++;
      window_rss = window_slices = 0;
    }
    if (t >= opt.seconds) break;
  }
  const size_t n = rss.size();
  if (n < 8) return;
  size_t second = 0, last = 0;
  for (size_t i = n / 4; i < n / 2; i++) second = rss[i] > second ? rss[i] : second;
  for (size_t i = 3 * n / 4; i < n; i++) last = rss[i] > last ? rss[i] : last;
  printf("soak: peak RSS %zu MiB in the second quarter, %zu MiB in the last\n", second, last);
  if (last > second + second / 2 + 64) Die("RSS keeps growing: %zu MiB -> %zu MiB", second, last);
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = Parse(argc, argv);
  lite_free(lite_malloc(1));  // the main thread's front, before the baseline
  lite_malloc_trim(0);
  const lite_malloc_stats before = Stats();
  const auto start = std::chrono::steady_clock::now();

  std::vector<std::thread> lanes;
  for (int i = 0; i < opt.threads; i++) lanes.emplace_back(Lane, i, std::cref(opt));
  if (opt.sample_ms > 0) {
    Soak(opt);
  } else {
    std::this_thread::sleep_for(std::chrono::duration<double>(opt.seconds));
  }
  g_stop.store(true);
  for (std::thread& t : lanes) t.join();
  for (std::atomic<Item*>& slot : g_transfer) Release(slot.exchange(nullptr));
  CheckReturned(before);

  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  lite_malloc_config config;
  lite_malloc_get_config(&config);
  printf("stress: %.1f s, %d lanes, %" PRIu64 " worker threads, %" PRIu64 " operations, %" PRIu64
         " allocations (%.1f GiB), %" PRIu64 " transfers; %zu engines%s: passed\n",
         secs, opt.threads, g_count.workers.load(), g_count.ops.load(), g_count.allocs.load(),
         static_cast<double>(g_count.bytes.load()) / (1 << 30), g_count.transfers.load(),
         config.engines_count, config.use_perthread_engines ? "" : " (round-robin)");
  return 0;
}
