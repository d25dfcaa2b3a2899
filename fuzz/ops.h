// The fuzz input format: how bytes decode into a sequence of allocator
// operations.
//
// Every byte string is a valid program: a reader that runs out of bytes yields
// zeros, and every byte value selects something. An operation is an opcode byte
// (weighted table, kOpTable in ops.cc), in the threaded variant a thread byte,
// then its operands. Sizes and alignments are drawn from classes that reach
// the allocator's edges: tiny sizes, miniblock class boundaries (every 16
// bytes up to small_max), superblock boundaries (every 4 KiB up to
// medium_max), directly mapped sizes, huge values near 2^k, PTRDIFF_MAX and
// SIZE_MAX, and raw 64-bit values. The boundaries come from the build's own
// lite_malloc_get_config(), so one corpus serves every option set.
#ifndef LITE_MALLOC_FUZZ_OPS_H
#define LITE_MALLOC_FUZZ_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

namespace lite_fuzz {

// Consumes an input front to back; past the end every read returns 0.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  uint8_t U8() {
    if (n_ == 0) return 0;
    n_--;
    return *p_++;
  }
  uint16_t U16() { return static_cast<uint16_t>(U8() | U8() << 8); }
  uint32_t U32() { return U16() | static_cast<uint32_t>(U16()) << 16; }
  uint64_t U64() { return U32() | static_cast<uint64_t>(U32()) << 32; }

 private:
  const uint8_t* p_;
  size_t n_;
};

enum class OpKind : uint8_t {
  kMalloc,
  kCalloc,
  kRealloc,           // absolute size, or relative to the block (grow, shrink, 0)
  kReallocArray,
  kMemalign,
  kPosixMemalign,
  kAlignedAlloc,
  kValloc,
  kPvalloc,
  kFree,
  kFreeSized,         // free_sized(p, size) where C23 allows it, else free
  kFreeAlignedSized,  // free_aligned_sized(p, align, size) where allowed
  kUsableSize,
  kRewrite,           // verify the block, fill it with a new pattern
  kTrim,              // lite_malloc_trim(0)
  kHandover,          // threads: move a block to another thread's slot; else swap slots
  kBarrier,           // threads: end of a round; else verify every live block in full
};
const char* OpName(OpKind kind);

// How kRealloc picks its new size when it is relative to the block's size.
enum class Resize : uint8_t { kAbsolute, kDouble, kHalve, kPlusOne, kMinusOne, kPlusPage, kZero };

struct Op {
  OpKind kind = OpKind::kMalloc;
  uint8_t thread = 0;   // threaded variant: which thread runs it
  uint8_t slot = 0;     // the block it acts on (index into the thread's slots)
  uint8_t thread2 = 0;  // kHandover: receiving thread
  uint8_t slot2 = 0;    // kHandover: receiving slot
  Resize resize = Resize::kAbsolute;
  size_t size = 0;      // bytes (calloc/reallocarray: size of one element)
  size_t count = 0;     // calloc/reallocarray: number of elements
  size_t align = 0;     // memalign family: the alignment argument as given
};

// One line describing an op, for failure reports and traces.
std::string Describe(const Op& op);

// Size-class boundaries of the build under test (from lite_malloc_get_config).
struct Limits {
  size_t small_max;
  size_t medium_max;
};
const Limits& BuildLimits();

// Slots per thread: a block lives in a slot until freed or replaced.
constexpr int kSlots = 64;

// Decodes the next op. `threads` is 1 for the single-threaded target, 2 or 3
// for the threaded one (then a thread byte follows the opcode).
Op DecodeOp(Reader& in, int threads);

}  // namespace lite_fuzz

#endif  // LITE_MALLOC_FUZZ_OPS_H
