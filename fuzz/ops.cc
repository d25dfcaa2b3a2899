// Decoding of fuzz inputs into allocator operations (format: ops.h).
#include "fuzz/ops.h"

#include <stdint.h>
#include <stdio.h>

#include "lite_malloc/lite_malloc.h"

namespace lite_fuzz {

namespace {

constexpr size_t kKiB = size_t{1} << 10;
constexpr size_t kMiB = size_t{1} << 20;

// Opcode byte -> op, 32 entries: the weights of the operations.
constexpr OpKind kOpTable[32] = {
    OpKind::kMalloc,        OpKind::kMalloc,        OpKind::kMalloc,
    OpKind::kMalloc,        OpKind::kCalloc,        OpKind::kCalloc,
    OpKind::kRealloc,       OpKind::kRealloc,       OpKind::kRealloc,
    OpKind::kRealloc,       OpKind::kRealloc,       OpKind::kReallocArray,
    OpKind::kReallocArray,  OpKind::kMemalign,      OpKind::kMemalign,
    OpKind::kPosixMemalign, OpKind::kPosixMemalign, OpKind::kAlignedAlloc,
    OpKind::kAlignedAlloc,  OpKind::kValloc,        OpKind::kPvalloc,
    OpKind::kFree,          OpKind::kFree,          OpKind::kFree,
    OpKind::kFree,          OpKind::kFreeSized,     OpKind::kFreeAlignedSized,
    OpKind::kUsableSize,    OpKind::kRewrite,       OpKind::kTrim,
    OpKind::kHandover,      OpKind::kBarrier,
};

// Sizes at which glibc's rules or the kernel's limits change.
constexpr size_t kEdgeSizes[] = {
    PTRDIFF_MAX - 4096,     PTRDIFF_MAX - 1,       PTRDIFF_MAX,
    size_t{PTRDIFF_MAX} + 1, SIZE_MAX,             SIZE_MAX - 1,
    SIZE_MAX - 4094,        SIZE_MAX - 4095,       SIZE_MAX - 4096,
    SIZE_MAX / 2,           size_t{1} << 32,       (size_t{1} << 32) + 1,
    size_t{1} << 47,        size_t{1} << 48,       (size_t{1} << 47) - 4096,
    4 * kMiB - 4096,        4 * kMiB,              4 * kMiB + 1,
    64 * kKiB - 1,          64 * kKiB,             64 * kKiB + 1,
    128 * kKiB + 4096,      2 * kMiB,              32 * kMiB,
};

// Alignments that are not powers of two, or that are beyond any mapping.
constexpr size_t kOddAlignments[] = {
    0,
    3,
    12,
    24,
    48,
    96,
    4097,
    8191,
    65537,
    SIZE_MAX / 2 + 1,
    SIZE_MAX / 2 + 2,
    SIZE_MAX,
    SIZE_MAX - 1,
    PTRDIFF_MAX,
    (size_t{1} << 32) + 1,
    (size_t{1} << 20) | 1,
};

template <typename T, size_t N>
constexpr size_t Count(const T (&)[N]) {
  return N;
}

// -1, 0 or +1 from one byte, so boundaries are hit from both sides.
size_t Nudge(size_t base, uint8_t b) {
  switch (b % 3) {
    case 0:
      return base == 0 ? 0 : base - 1;
    case 1:
      return base;
    default:
      return base + 1;
  }
}

size_t DecodeSize(Reader& in) {
  const Limits& lim = BuildLimits();
  const uint8_t sel = in.U8();
  switch (sel % 16) {
    case 0:
    case 1:
    case 2:
      return in.U8() % 65;  // tiny
    case 3:
    case 4: {  // a miniblock class boundary
      size_t cls = in.U16() % (lim.small_max / 16 + 1);
      return Nudge(cls * 16, in.U8());
    }
    case 5:
      return in.U16() % (lim.small_max + 1);
    case 6: {  // a superblock class boundary (4 KiB steps past small_max)
      size_t pages = in.U8() % (lim.medium_max / 4096 + 3);
      return Nudge(pages * 4096, in.U8());
    }
    case 7:
      return in.U32() % (lim.medium_max + 1);
    case 8: {  // the edges of the size ranges
      const size_t edges[] = {lim.small_max, lim.medium_max, 8, 16, 32};
      return Nudge(edges[in.U8() % 5], in.U8());
    }
    case 9:
      return lim.medium_max + in.U32() % (4 * kMiB);  // directly mapped
    case 10:
      return in.U32() % (16 * kMiB);
    case 11: {  // 2^k and around it, k in 12..63
      size_t k = 12 + in.U8() % 52;
      return Nudge(size_t{1} << k, in.U8());
    }
    case 12:
      return kEdgeSizes[in.U8() % Count(kEdgeSizes)];
    case 13:
      return in.U64();
    default:
      return in.U8() % 17;
  }
}

// calloc and reallocarray counts: mostly small, sometimes overflowing.
size_t DecodeCount(Reader& in) {
  const uint8_t sel = in.U8() % 8;
  if (sel < 4) return in.U8() % 17;
  switch (sel) {
    case 4:
      return in.U8();
    case 5:
      return in.U16();
    case 6: {
      const size_t counts[] = {SIZE_MAX, SIZE_MAX / 2 + 1, size_t{1} << 32, size_t{1} << 33,
                               PTRDIFF_MAX, (size_t{1} << 40) + 1};
      return counts[in.U8() % Count(counts)];
    }
    default:
      return in.U64();
  }
}

size_t DecodeAlignment(Reader& in) {
  const uint8_t sel = in.U8() % 8;
  if (sel < 5) return size_t{1} << (in.U8() % 17);  // 1 .. 64 KiB
  switch (sel) {
    case 5:
      return size_t{1} << (in.U8() % 64);  // 1 .. 2^63
    case 6:
      return kOddAlignments[in.U8() % Count(kOddAlignments)];
    default:
      return in.U64();
  }
}

Resize DecodeResize(Reader& in) {
  static constexpr Resize kRelative[8] = {Resize::kDouble,   Resize::kDouble,   Resize::kHalve,
                                          Resize::kPlusOne,  Resize::kMinusOne, Resize::kPlusPage,
                                          Resize::kPlusPage, Resize::kZero};
  const uint8_t b = in.U8();
  return b < 128 ? Resize::kAbsolute : kRelative[b % 8];
}

}  // namespace

const Limits& BuildLimits() {
  static const Limits limits = [] {
    lite_malloc_config c;
    lite_malloc_get_config(&c);
    return Limits{c.small_max, c.medium_max};
  }();
  return limits;
}

const char* OpName(OpKind kind) {
  switch (kind) {
    case OpKind::kMalloc:
      return "malloc";
    case OpKind::kCalloc:
      return "calloc";
    case OpKind::kRealloc:
      return "realloc";
    case OpKind::kReallocArray:
      return "reallocarray";
    case OpKind::kMemalign:
      return "memalign";
    case OpKind::kPosixMemalign:
      return "posix_memalign";
    case OpKind::kAlignedAlloc:
      return "aligned_alloc";
    case OpKind::kValloc:
      return "valloc";
    case OpKind::kPvalloc:
      return "pvalloc";
    case OpKind::kFree:
      return "free";
    case OpKind::kFreeSized:
      return "free_sized";
    case OpKind::kFreeAlignedSized:
      return "free_aligned_sized";
    case OpKind::kUsableSize:
      return "malloc_usable_size";
    case OpKind::kRewrite:
      return "rewrite";
    case OpKind::kTrim:
      return "malloc_trim";
    case OpKind::kHandover:
      return "handover";
    case OpKind::kBarrier:
      return "barrier";
  }
  return "?";
}

std::string Describe(const Op& op) {
  static const char* const kResize[] = {"", "x2", "/2", "+1", "-1", "+4096", "0"};
  char buf[192];
  switch (op.kind) {
    case OpKind::kCalloc:
    case OpKind::kReallocArray:
      snprintf(buf, sizeof(buf), "t%d %s slot %d count %zu size %zu", op.thread, OpName(op.kind),
               op.slot, op.count, op.size);
      break;
    case OpKind::kMemalign:
    case OpKind::kPosixMemalign:
    case OpKind::kAlignedAlloc:
      snprintf(buf, sizeof(buf), "t%d %s slot %d align %zu size %zu", op.thread, OpName(op.kind),
               op.slot, op.align, op.size);
      break;
    case OpKind::kRealloc:
      if (op.resize != Resize::kAbsolute) {
        snprintf(buf, sizeof(buf), "t%d realloc slot %d size %s", op.thread, op.slot,
                 kResize[static_cast<int>(op.resize)]);
        break;
      }
      // fall through
    case OpKind::kMalloc:
    case OpKind::kValloc:
    case OpKind::kPvalloc:
      snprintf(buf, sizeof(buf), "t%d %s slot %d size %zu", op.thread, OpName(op.kind), op.slot,
               op.size);
      break;
    case OpKind::kHandover:
      snprintf(buf, sizeof(buf), "t%d handover slot %d -> t%d slot %d", op.thread, op.slot,
               op.thread2, op.slot2);
      break;
    default:
      snprintf(buf, sizeof(buf), "t%d %s slot %d", op.thread, OpName(op.kind), op.slot);
      break;
  }
  return buf;
}

Op DecodeOp(Reader& in, int threads) {
  Op op;
  op.kind = kOpTable[in.U8() % 32];
  if (threads > 1) op.thread = static_cast<uint8_t>(in.U8() % threads);
  if (op.kind == OpKind::kTrim || op.kind == OpKind::kBarrier) return op;
  op.slot = static_cast<uint8_t>(in.U8() % kSlots);
  switch (op.kind) {
    case OpKind::kMalloc:
    case OpKind::kValloc:
    case OpKind::kPvalloc:
      op.size = DecodeSize(in);
      break;
    case OpKind::kCalloc:
    case OpKind::kReallocArray:
      op.count = DecodeCount(in);
      op.size = DecodeSize(in);
      break;
    case OpKind::kRealloc:
      op.resize = DecodeResize(in);
      if (op.resize == Resize::kAbsolute) op.size = DecodeSize(in);
      break;
    case OpKind::kMemalign:
    case OpKind::kPosixMemalign:
    case OpKind::kAlignedAlloc:
      op.align = DecodeAlignment(in);
      op.size = DecodeSize(in);
      break;
    case OpKind::kHandover:
      op.thread2 = static_cast<uint8_t>(threads > 1 ? in.U8() % threads : 0);
      op.slot2 = static_cast<uint8_t>(in.U8() % kSlots);
      break;
    default:
      break;
  }
  return op;
}

}  // namespace lite_fuzz
