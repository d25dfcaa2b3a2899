// The shadow model of the fuzz harness: what every live block should be, and
// the checks that compare the allocator with it.
//
// The model lives in memory of the process's own allocator (glibc's, or the
// sanitizer's), never in lite_malloc's. Each live block is recorded with the
// size that was asked for, the alignment it must have, its usable size and the
// seed of a byte pattern written over all of its usable bytes. Blocks are kept
// in an ordered map by address, so a new block that overlaps a live one is
// caught at once. The map is shared by the threads of the threaded variant
// (under a mutex); each block belongs to one thread at a time.
//
// A block is removed from the map *before* the call that frees it and added
// *after* the call that returns it, so with threads the map is always a subset
// of what is really live: a report of overlap is never a race of the model.
#ifndef LITE_MALLOC_FUZZ_SHADOW_H
#define LITE_MALLOC_FUZZ_SHADOW_H

#include <stddef.h>
#include <stdint.h>

#include <map>
#include <mutex>

#include "fuzz/ops.h"

namespace lite_fuzz {

// Which free variants C23 allows for a block, by the call that made it.
enum class Origin : uint8_t {
  kMalloc,        // malloc, calloc, realloc, reallocarray: free_sized(p, size)
  kAlignedAlloc,  // aligned_alloc: free_aligned_sized(p, align, size)
  kOther,         // memalign, posix_memalign, valloc, pvalloc: free only
};

struct Block {
  void* p = nullptr;
  size_t size = 0;       // bytes asked for (pvalloc: rounded to pages)
  size_t usable = 0;     // lite_malloc_usable_size when it was made
  size_t align_arg = 0;  // aligned_alloc's alignment argument (free_aligned_sized)
  uint64_t seed = 0;     // pattern over the usable bytes
  Origin origin = Origin::kMalloc;
  bool counted = false;  // within the live-bytes budget (else freed at once)
  bool edges_only = false;  // over budget: only its first and last 4 KiB are written
};

// ---------------------------------------------------------------------------
// Failure reports
// ---------------------------------------------------------------------------
// The op the calling thread is executing (op number `index` of its list in
// round `round`), printed with every failure. op may be null (setup, teardown).
void SetContext(const Op* op, int index, int round);
// Prints "lite_fuzz: CHECK FAILED: <message>" with the context and aborts.
[[noreturn]] void Fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// ---------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------
// Blocks up to kFullPattern bytes carry the pattern on every byte; larger ones
// on their first and last 4 KiB and on one word in every 64 KiB in between, at
// most 64 such words spread evenly (edges_only: first and last 4 KiB only), so
// a check costs little more than
// the page faults of the pages it touches, and still sees memory that went
// missing, moved or got shared.
constexpr size_t kFullPattern = 64 * 1024;

void FillPattern(const Block& b);
// Checks the pattern of `b`, limited to its first `limit` bytes (after a
// realloc, the prefix that had to survive in `at`). Fails with `what`.
void CheckPattern(const Block& b, const void* at, size_t limit, const char* what);
// Checks the first and last 16 usable bytes only: cheap enough for every step.
void CheckEdges(const Block& b);
// Checks that the sampled bytes of the first n bytes at p are zero.
void CheckZero(const void* p, size_t n, bool edges_only, const char* what);

// ---------------------------------------------------------------------------
// The map of live blocks
// ---------------------------------------------------------------------------
class LiveMap {
 public:
  explicit LiveMap(size_t budget) : budget_(budget) {}
  // Fails if [b.p, b.p + b.usable) overlaps a live block. Sets b.counted when
  // the block fits in the budget of live bytes (then it may stay live).
  void Insert(Block& b);
  void Erase(const Block& b);
  size_t blocks() const;
  size_t bytes() const;

 private:
  mutable std::mutex mu_;
  std::map<uintptr_t, uintptr_t> ranges_;  // start -> end
  size_t bytes_ = 0;
  const size_t budget_;
};

}  // namespace lite_fuzz

#endif  // LITE_MALLOC_FUZZ_SHADOW_H
