// The fuzz harness (harness.h): executes decoded ops against the lite_* API
// and checks each result against the shadow model and glibc's rules.
#include "fuzz/harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "fuzz/ops.h"
#include "fuzz/shadow.h"
#include "lite_malloc/lite_malloc.h"

#if defined(__SANITIZE_THREAD__)
#define LITE_FUZZ_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LITE_FUZZ_TSAN 1
#endif
#endif

namespace lite_fuzz {

namespace {

constexpr size_t kMiB = size_t{1} << 20;
// Live blocks in all, per input; a block beyond it is checked and freed at once.
constexpr size_t kLiveBudget = 64 * kMiB;
// Requests (size + alignment) up to this must succeed.
constexpr size_t kMustSucceed = 256 * kMiB;
// Requests beyond this but below kUnmappable are not made: they could succeed
// and would only cost time and address space. TSan aborts on mappings outside
// its application ranges, which a few GiB can reach.
#if defined(LITE_FUZZ_TSAN)
constexpr size_t kMaxAttempt = size_t{4} << 30;
#else
constexpr size_t kMaxAttempt = size_t{64} << 30;
#endif
// No mapping this large exists on x86-64 or AArch64 (47/48-bit user space):
// such requests are made, and must fail cleanly with ENOMEM.
constexpr size_t kUnmappable = size_t{1} << 48;
// errno before calls that must not change it.
constexpr int kErrnoCanary = 0x4c49;
constexpr int kMaxRounds = 16;

// What the rules say a request must do.
enum class Expect {
  kSucceed,  // a block
  kMayFail,  // a block, or NULL with ENOMEM (a huge request)
  kNomem,    // NULL with ENOMEM
  kInval,    // NULL with EINVAL
  kSkip,     // too big to try (see kMaxAttempt)
};

const char* ExpectName(Expect e) {
  switch (e) {
    case Expect::kSucceed:
      return "a block";
    case Expect::kMayFail:
      return "a block or ENOMEM";
    case Expect::kNomem:
      return "NULL with ENOMEM";
    case Expect::kInval:
      return "NULL with EINVAL";
    case Expect::kSkip:
      break;
  }
  return "nothing";
}

bool g_trace = getenv("LITE_FUZZ_TRACE") != nullptr;

size_t MinAlign(size_t n) { return n > 8 ? 16 : 8; }

// Smallest power of two >= a, for 1 <= a <= SIZE_MAX/2+1.
size_t Pow2Ceil(size_t a) { return a <= 1 ? 1 : size_t{1} << (64 - __builtin_clzll(a - 1)); }

// A request for n bytes whose alignment costs `align` more bytes of address
// space at most (0 for ordinary alignment).
Expect Classify(size_t n, size_t align) {
  if (n > PTRDIFF_MAX) return Expect::kNomem;
  size_t cost;
  if (__builtin_add_overflow(n, align, &cost)) cost = SIZE_MAX;
  if (cost <= kMustSucceed) return Expect::kSucceed;
  if (cost > kMaxAttempt && cost < kUnmappable) return Expect::kSkip;
  return Expect::kMayFail;
}

// What a successful call must give, beyond Expect.
struct Request {
  const char* fn;
  size_t size;             // model size of the block
  size_t align;            // alignment the result must have
  Expect expect;
  Origin origin;
  size_t align_arg = 0;    // aligned_alloc's argument
  bool zeroed = false;     // calloc
};

// One thread's view: its slots, and the map shared by all threads.
struct Thread {
  int id = 0;
  Block slots[kSlots];
  uint64_t seeds = 0;
  LiveMap* live = nullptr;
};

void Trace(const Thread& t, const Op& op, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void Trace(const Thread& t, const Op& op, const char* fmt, ...) {
  if (!g_trace) return;
  char msg[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "[t%d] %-56s %s\n", t.id, Describe(op).c_str(), msg);
}

// ---------------------------------------------------------------------------
// Blocks coming and going
// ---------------------------------------------------------------------------
// Frees b (the way `how` says, where C23 allows it for b's origin), after
// checking its contents and usable size. b must be in the live map.
void Release(LiveMap& live, const Block& b, OpKind how) {
  CheckPattern(b, b.p, b.usable, "contents changed while live");
  const size_t usable = lite_malloc_usable_size(b.p);
  if (usable != b.usable) Fail("usable size of %p changed from %zu to %zu", b.p, b.usable, usable);
  live.Erase(b);
  errno = kErrnoCanary;
  if (how == OpKind::kFreeAlignedSized && b.origin == Origin::kAlignedAlloc) {
    lite_free_aligned_sized(b.p, b.align_arg, b.size);
  } else if (how != OpKind::kFree && b.origin == Origin::kMalloc) {
    lite_free_sized(b.p, b.size);
  } else {
    lite_free(b.p);
  }
  if (errno != kErrnoCanary) Fail("freeing %p changed errno to %d", b.p, errno);
}

void FreeSlot(Thread& t, int slot, OpKind how) {
  Block& b = t.slots[slot];
  if (b.p == nullptr) return;
  Release(*t.live, b, how);
  b = Block();
}

// Checks a block that a successful call returned, records it in the slot (or
// frees it at once when it does not fit the budget of live bytes).
void Adopt(Thread& t, int slot, void* p, const Request& rq) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (a % rq.align != 0) Fail("%s gave %p, not aligned to %zu", rq.fn, p, rq.align);
  const size_t usable = lite_malloc_usable_size(p);
  if (usable < rq.size) Fail("%s gave %p with usable size %zu < %zu", rq.fn, p, usable, rq.size);
  if (!lite_malloc_owns(p)) Fail("lite_malloc_owns(%p) is false for a block of %s", p, rq.fn);
  if (lite_malloc_owns(static_cast<char*>(p) + 1)) Fail("lite_malloc_owns(%p + 1) is true", p);
  Block b;
  b.p = p;
  b.size = rq.size;
  b.usable = usable;
  b.align_arg = rq.align_arg;
  b.origin = rq.origin;
  b.seed = (t.seeds++ << 8) ^ static_cast<uint64_t>(t.id) ^ 0x5EED0000;
  t.live->Insert(b);
  b.edges_only = !b.counted && b.usable > kFullPattern;
  if (rq.zeroed) CheckZero(p, rq.size, b.edges_only, "calloc block not zeroed");
  FillPattern(b);
  if (b.counted) {
    t.slots[slot] = b;
  } else {
    Release(*t.live, b, OpKind::kFree);
  }
}

// Checks the result of an allocating call against rq; err is errno after it.
void Settle(Thread& t, const Op& op, void* p, int err, const Request& rq) {
  Trace(t, op, "-> %p (errno %d)", p, p ? 0 : err);
  if (p == nullptr) {
    const int want = rq.expect == Expect::kInval ? EINVAL : ENOMEM;
    if (rq.expect == Expect::kSucceed) {
      Fail("%s(size %zu) returned NULL (errno %d), want a block", rq.fn, rq.size, err);
    }
    if (err != want) Fail("%s returned NULL with errno %d, want %d", rq.fn, err, want);
    return;
  }
  if (rq.expect == Expect::kNomem || rq.expect == Expect::kInval) {
    Fail("%s returned %p, want %s", rq.fn, p, ExpectName(rq.expect));
  }
  Adopt(t, op.slot, p, rq);
}

// ---------------------------------------------------------------------------
// The operations
// ---------------------------------------------------------------------------
void DoMalloc(Thread& t, const Op& op) {
  FreeSlot(t, op.slot, OpKind::kFree);
  const Request rq{"malloc", op.size, MinAlign(op.size), Classify(op.size, 0), Origin::kMalloc};
  if (rq.expect == Expect::kSkip) return;
  errno = 0;
  void* p = lite_malloc(op.size);
  Settle(t, op, p, errno, rq);
}

void DoCalloc(Thread& t, const Op& op) {
  FreeSlot(t, op.slot, OpKind::kFree);
  size_t n;
  const bool overflow = __builtin_mul_overflow(op.count, op.size, &n);
  Request rq{"calloc", overflow ? 0 : n, MinAlign(n),
             overflow ? Expect::kNomem : Classify(n, 0), Origin::kMalloc};
  rq.zeroed = true;
  if (rq.expect == Expect::kSkip) return;
  errno = 0;
  void* p = lite_calloc(op.count, op.size);
  Settle(t, op, p, errno, rq);
}

// memalign and aligned_alloc (the same rules in glibc 2.36).
void DoMemalign(Thread& t, const Op& op) {
  FreeSlot(t, op.slot, OpKind::kFree);
  const bool aligned_alloc = op.kind == OpKind::kAlignedAlloc;
  Request rq{aligned_alloc ? "aligned_alloc" : "memalign", op.size, 1, Expect::kInval,
             aligned_alloc ? Origin::kAlignedAlloc : Origin::kOther};
  rq.align_arg = op.align;
  if (op.align <= SIZE_MAX / 2 + 1) {
    const size_t align = Pow2Ceil(op.align);
    rq.align = std::max(align, MinAlign(op.size));
    rq.expect = Classify(op.size, align > 16 ? align : 0);
  }
  if (rq.expect == Expect::kSkip) return;
  errno = 0;
  void* p = aligned_alloc ? lite_aligned_alloc(op.align, op.size) : lite_memalign(op.align, op.size);
  Settle(t, op, p, errno, rq);
}

void DoPosixMemalign(Thread& t, const Op& op) {
  FreeSlot(t, op.slot, OpKind::kFree);
  const size_t a = op.align;
  const bool bad = a == 0 || a % sizeof(void*) != 0 || (a & (a - 1)) != 0;
  const Expect expect = bad ? Expect::kInval : Classify(op.size, a > 16 ? a : 0);
  if (expect == Expect::kSkip) return;
  void* const canary = reinterpret_cast<void*>(uintptr_t{0x7e57ab1e5a5a5a50});
  void* out = canary;
  errno = kErrnoCanary;
  const int ret = lite_posix_memalign(&out, a, op.size);
  const int err = errno;
  Trace(t, op, "-> %d, %p", ret, out);
  if (ret != 0) {
    const int want = bad ? EINVAL : ENOMEM;
    if (expect == Expect::kSucceed) Fail("posix_memalign returned %d, want a block", ret);
    if (ret != want) Fail("posix_memalign returned %d, want %d", ret, want);
    if (out != canary) Fail("posix_memalign failed with %d but set *memptr to %p", ret, out);
    if (bad && err != kErrnoCanary) Fail("posix_memalign EINVAL changed errno to %d", err);
    return;
  }
  if (bad || expect == Expect::kNomem) Fail("posix_memalign returned 0 (%p), want an error", out);
  if (out == canary || out == nullptr) Fail("posix_memalign returned 0 but *memptr is %p", out);
  const Request rq{"posix_memalign", op.size, std::max(a, MinAlign(op.size)), expect, Origin::kOther};
  Adopt(t, op.slot, out, rq);
}

void DoValloc(Thread& t, const Op& op) {
  FreeSlot(t, op.slot, OpKind::kFree);
  // The OS page: 4, 16 or 64 KiB (the cores built to pretend to larger pages).
  static const size_t page = lite_malloc_page_size();
  Request rq{"valloc", op.size, page, Classify(op.size, page), Origin::kOther};
  if (op.kind == OpKind::kPvalloc) {
    rq.fn = "pvalloc";
    // glibc rounds up to pages first: an overflow there is ENOMEM too.
    if (op.size > SIZE_MAX - (page - 1)) {
      rq.expect = Expect::kNomem;
    } else {
      rq.size = (op.size + page - 1) & ~(page - 1);
      rq.expect = Classify(rq.size, page);
    }
  }
  if (rq.expect == Expect::kSkip) return;
  errno = 0;
  void* p = op.kind == OpKind::kPvalloc ? lite_pvalloc(op.size) : lite_valloc(op.size);
  Settle(t, op, p, errno, rq);
}

// The new size of a realloc that is relative to the block's.
size_t ResizeTo(const Op& op, size_t old) {
  switch (op.resize) {
    case Resize::kAbsolute:
      return op.size;
    case Resize::kDouble:
      return old * 2 + 1;
    case Resize::kHalve:
      return old / 2;
    case Resize::kPlusOne:
      return old + 1;
    case Resize::kMinusOne:
      return old ? old - 1 : 0;
    case Resize::kPlusPage:
      return old + 4096;
    case Resize::kZero:
      return 0;
  }
  return op.size;
}

// realloc and reallocarray: grow, shrink, to 0, from NULL, and failures.
void DoRealloc(Thread& t, const Op& op) {
  const bool array = op.kind == OpKind::kReallocArray;
  const char* fn = array ? "reallocarray" : "realloc";
  Block old = t.slots[op.slot];
  size_t n = 0;
  bool overflow = false;
  if (array) {
    overflow = __builtin_mul_overflow(op.count, op.size, &n);
  } else {
    n = ResizeTo(op, old.size);
  }
  auto call = [&](void* p) {
    errno = 0;
    return array ? lite_reallocarray(p, op.count, op.size) : lite_realloc(p, n);
  };
  const Expect expect = overflow ? Expect::kNomem : Classify(n, 0);
  if (expect == Expect::kSkip) return;
  if (old.p == nullptr) {  // realloc(NULL, n) is malloc(n)
    void* p = call(nullptr);
    Settle(t, op, p, errno, Request{fn, n, MinAlign(n), expect, Origin::kMalloc});
    return;
  }
  CheckPattern(old, old.p, old.usable, "contents changed while live");
  t.live->Erase(old);
  t.slots[op.slot] = Block();
  void* q = call(old.p);
  const int err = errno;
  Trace(t, op, "%p -> %p (errno %d)", old.p, q, q ? 0 : err);
  if (!overflow && n == 0) {  // glibc: frees the block and returns NULL
    if (q != nullptr) Fail("%s(%p, 0) returned %p, want NULL (block freed)", fn, old.p, q);
    return;
  }
  if (q == nullptr) {
    if (expect == Expect::kSucceed) Fail("%s(%p, %zu) returned NULL (errno %d)", fn, old.p, n, err);
    if (err != ENOMEM) Fail("%s returned NULL with errno %d, want ENOMEM", fn, err);
    // The old block must be untouched and still live.
    const size_t usable = lite_malloc_usable_size(old.p);
    if (usable != old.usable) Fail("failed %s changed usable size to %zu", fn, usable);
    CheckPattern(old, old.p, old.usable, "failed realloc changed the old block");
    t.live->Insert(old);
    if (old.counted) {
      t.slots[op.slot] = old;
    } else {
      Release(*t.live, old, OpKind::kFree);
    }
    return;
  }
  if (expect == Expect::kNomem) Fail("%s(%p, %zu) returned %p, want NULL with ENOMEM", fn, old.p, n, q);
  CheckPattern(old, q, std::min(old.size, n), "realloc lost the old contents");
  Adopt(t, op.slot, q, Request{fn, n, MinAlign(n), expect, Origin::kMalloc});
}

void DoFree(Thread& t, const Op& op) {
  Trace(t, op, "%p", t.slots[op.slot].p);
  if (t.slots[op.slot].p != nullptr) {
    FreeSlot(t, op.slot, op.kind);
    return;
  }
  errno = kErrnoCanary;
  lite_free(nullptr);
  if (errno != kErrnoCanary) Fail("free(NULL) changed errno to %d", errno);
}

void DoUsableSize(Thread& t, const Op& op) {
  const Block& b = t.slots[op.slot];
  const size_t usable = lite_malloc_usable_size(b.p);
  if (usable != b.usable) {
    Fail("malloc_usable_size(%p) is %zu, was %zu when allocated", b.p, usable, b.usable);
  }
}

void DoRewrite(Thread& t, const Op& op) {
  Block& b = t.slots[op.slot];
  if (b.p == nullptr) return;
  CheckPattern(b, b.p, b.usable, "contents changed while live");
  b.seed = ~b.seed;
  FillPattern(b);
}

void DoTrim(Thread& t, const Op& op) {
  const int r = lite_malloc_trim(0);
  Trace(t, op, "-> %d", r);
  if (r != 0 && r != 1) Fail("malloc_trim returned %d, want 0 or 1", r);
}

void CheckAllSlots(const Thread& t, bool full) {
  for (const Block& b : t.slots) {
    if (b.p == nullptr) continue;
    if (full) {
      CheckPattern(b, b.p, b.usable, "contents changed while live");
    } else {
      CheckEdges(b);
    }
  }
}

// Runs one op on thread t's slots (not kHandover/kBarrier in threaded mode).
void Exec(Thread& t, const Op& op) {
  switch (op.kind) {
    case OpKind::kMalloc:
      DoMalloc(t, op);
      break;
    case OpKind::kCalloc:
      DoCalloc(t, op);
      break;
    case OpKind::kRealloc:
    case OpKind::kReallocArray:
      DoRealloc(t, op);
      break;
    case OpKind::kMemalign:
    case OpKind::kAlignedAlloc:
      DoMemalign(t, op);
      break;
    case OpKind::kPosixMemalign:
      DoPosixMemalign(t, op);
      break;
    case OpKind::kValloc:
    case OpKind::kPvalloc:
      DoValloc(t, op);
      break;
    case OpKind::kFree:
    case OpKind::kFreeSized:
    case OpKind::kFreeAlignedSized:
      DoFree(t, op);
      break;
    case OpKind::kUsableSize:
      DoUsableSize(t, op);
      break;
    case OpKind::kRewrite:
      DoRewrite(t, op);
      break;
    case OpKind::kTrim:
      DoTrim(t, op);
      break;
    case OpKind::kHandover:  // single thread: swap two slots
      std::swap(t.slots[op.slot], t.slots[op.slot2]);
      break;
    case OpKind::kBarrier:  // single thread: verify everything
      CheckAllSlots(t, true);
      break;
  }
  CheckAllSlots(t, false);
}

void RunOps(Thread& t, const std::vector<Op>& ops, int round) {
  for (size_t i = 0; i < ops.size(); i++) {
    SetContext(&ops[i], static_cast<int>(i), round);
    Exec(t, ops[i]);
  }
  SetContext(nullptr, 0, 0);
}

void FreeAll(Thread& t) {
  for (int i = 0; i < kSlots; i++) FreeSlot(t, i, OpKind::kFree);
}

// ---------------------------------------------------------------------------
// Statistics before and after an input
// ---------------------------------------------------------------------------
// The statistics the first input starts from. Every later input starts where
// the one before ended (trimmed, nothing live), so one trim per input does.
lite_malloc_stats Baseline() {
  lite_free(lite_malloc(1));  // the calling thread has its front from here on
  lite_malloc_trim(0);
  lite_malloc_stats s;
  lite_malloc_get_stats(&s);
  return s;
}

// Returns the statistics at the end, for the next input to start from.
lite_malloc_stats CheckStatsReturned(const lite_malloc_stats& before, const LiveMap& live) {
  if (live.blocks() != 0 || live.bytes() != 0) {
    Fail("model: %zu blocks (%zu bytes) still live at the end", live.blocks(), live.bytes());
  }
  const int trimmed = lite_malloc_trim(0);
  if (trimmed != 0 && trimmed != 1) Fail("malloc_trim returned %d", trimmed);
  lite_malloc_stats after;
  lite_malloc_get_stats(&after);
  if (after.large_blocks != before.large_blocks || after.large_bytes != before.large_bytes) {
    Fail("stats: large blocks %zu (%zu bytes) at the end, %zu (%zu bytes) at the start",
         after.large_blocks, after.large_bytes, before.large_blocks, before.large_bytes);
  }
  if (after.pages_in_use != before.pages_in_use) {
    Fail("stats: %zu slices in use after freeing everything and trimming, %zu at the start",
         after.pages_in_use, before.pages_in_use);
  }
  if (after.bytes_in_use != before.bytes_in_use) {
    Fail("stats: %zu bytes in use at the end, %zu at the start", after.bytes_in_use,
         before.bytes_in_use);
  }
  if (after.allocations - after.frees != before.allocations - before.frees) {
    Fail("stats: %llu allocations and %llu frees during the input",
         static_cast<unsigned long long>(after.allocations - before.allocations),
         static_cast<unsigned long long>(after.frees - before.frees));
  }
  if (after.dirty_bytes != 0) Fail("stats: %zu dirty bytes after malloc_trim(0)", after.dirty_bytes);
  if (after.threads != before.threads) {
    Fail("stats: %zu thread fronts attached at the end, %zu at the start", after.threads,
         before.threads);
  }
  return after;
}

// ---------------------------------------------------------------------------
// The threaded variant
// ---------------------------------------------------------------------------
struct Round {
  std::vector<Op> ops[3];       // per thread
  std::vector<Op> handovers;    // applied by the main thread after the round
};

// Makes sure that 3 workers and the main thread can hold fronts at once
// without making new ones, so that slices in use can be compared exactly.
void WarmFronts() {
  lite_free(lite_malloc(1));  // the main thread's front first
  pthread_barrier_t all_up;
  pthread_barrier_init(&all_up, nullptr, 3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; i++) {
    threads.emplace_back([&all_up] {
      lite_free(lite_malloc(1));
      pthread_barrier_wait(&all_up);
    });
  }
  for (std::thread& th : threads) th.join();
  pthread_barrier_destroy(&all_up);
}

// The main thread's move of a block to another thread between rounds: a
// block already in the receiving slot is freed (from the main thread).
void Handover(Thread* threads, const Op& op, LiveMap& live) {
  Block& from = threads[op.thread].slots[op.slot];
  Block& to = threads[op.thread2].slots[op.slot2];
  if (&from == &to || from.p == nullptr) return;
  if (to.p != nullptr) Release(live, to, OpKind::kFree);
  to = from;
  from = Block();
}

}  // namespace

void RunSingle(const uint8_t* data, size_t size) {
  static LiveMap* const live = new LiveMap(kLiveBudget);
  static lite_malloc_stats stats = Baseline();
  Thread t;
  t.live = live;
  Reader in(data, size);
  std::vector<Op> ops;
  while (!in.empty()) ops.push_back(DecodeOp(in, 1));
  RunOps(t, ops, 0);
  FreeAll(t);
  stats = CheckStatsReturned(stats, *live);
}

void RunThreaded(const uint8_t* data, size_t size) {
  static LiveMap* const live = new LiveMap(kLiveBudget);
  Reader in(data, size);
  const uint8_t header = in.U8();
  const int nthreads = 2 + (header & 1);
  const bool respawn = (header & 2) != 0;
  const bool owners_free = (header & 4) != 0;
  std::vector<Round> rounds(1);
  while (!in.empty()) {
    const Op op = DecodeOp(in, nthreads);
    Round& r = rounds.back();
    if (op.kind == OpKind::kBarrier) {
      if (static_cast<int>(rounds.size()) < kMaxRounds) rounds.emplace_back();
    } else if (op.kind == OpKind::kHandover) {
      r.handovers.push_back(op);
    } else {
      r.ops[op.thread].push_back(op);
    }
  }

  static lite_malloc_stats stats = (WarmFronts(), Baseline());
  Thread threads[3];
  for (int i = 0; i < 3; i++) {
    threads[i].id = i;
    threads[i].live = live;
  }
  auto handovers = [&](const Round& r) {
    for (const Op& op : r.handovers) Handover(threads, op, *live);
  };

  if (respawn) {
    // Every round on new threads: blocks outlive the threads that made them.
    for (size_t r = 0; r < rounds.size(); r++) {
      std::vector<std::thread> workers;
      for (int i = 0; i < nthreads; i++) {
        workers.emplace_back([&, i, r] { RunOps(threads[i], rounds[r].ops[i], static_cast<int>(r)); });
      }
      for (std::thread& w : workers) w.join();
      handovers(rounds[r]);
    }
  } else {
    // The same threads throughout, in step: run a round, wait, let the main
    // thread hand blocks over, wait, run the next.
    pthread_barrier_t step;
    pthread_barrier_init(&step, nullptr, static_cast<unsigned>(nthreads + 1));
    std::vector<std::thread> workers;
    for (int i = 0; i < nthreads; i++) {
      workers.emplace_back([&, i] {
        for (size_t r = 0; r < rounds.size(); r++) {
          RunOps(threads[i], rounds[r].ops[i], static_cast<int>(r));
          pthread_barrier_wait(&step);
          pthread_barrier_wait(&step);
        }
        if (owners_free) FreeAll(threads[i]);
      });
    }
    for (const Round& r : rounds) {
      pthread_barrier_wait(&step);
      handovers(r);
      pthread_barrier_wait(&step);
    }
    for (std::thread& w : workers) w.join();
    pthread_barrier_destroy(&step);
  }
  for (Thread& t : threads) FreeAll(t);
  stats = CheckStatsReturned(stats, *live);
}

}  // namespace lite_fuzz

// libFuzzer calls this before it reads its arguments (and the standalone
// driver does too): under `bazel run`, paths given on the command line are
// relative to where the user typed it, not to the runfiles tree.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* dir = getenv("BUILD_WORKING_DIRECTORY");
  if (dir != nullptr && chdir(dir) != 0) perror("lite_fuzz: chdir to BUILD_WORKING_DIRECTORY");
  return 0;
}
