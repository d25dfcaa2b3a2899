// The fuzz harness: runs one decoded input against the lite_* API and checks
// every result against the shadow model (shadow.h) and glibc 2.36's rules.
//
// Checked after every operation:
//  - a block is aligned as asked (memalign rounds a non-power of two up) and
//    as promised: 16 bytes for requests above 8 bytes, 8 below, 4 KiB for
//    valloc and pvalloc;
//  - malloc_usable_size >= the size asked for, and stays the same while the
//    block lives; lite_malloc_owns(p) holds and lite_malloc_owns(p + 1) not;
//  - no two live blocks overlap (over their usable sizes);
//  - contents survive until the free and, up to the smaller size, across
//    realloc; calloc's block is zero; every live block's edges each step;
//  - failures are exactly glibc's: NULL and ENOMEM above PTRDIFF_MAX or on a
//    calloc/reallocarray overflow, EINVAL from memalign/aligned_alloc for an
//    alignment above SIZE_MAX/2+1, posix_memalign's EINVAL for a bad alignment
//    with *memptr and errno untouched, realloc(p, 0) frees and gives NULL, a
//    failed realloc keeps the old block intact; requests of up to 256 MiB
//    must succeed; free never changes errno;
//  - at the end of the input every block has been freed and, after
//    lite_malloc_trim(0), the statistics are back where they started: large
//    blocks and bytes, slices in use, bytes in use, thread fronts, as many
//    frees as allocations, and no dirty bytes.
//
// Live blocks are capped at 64 MiB in all; a block over the cap is checked
// and freed at once. Requests the machine could really satisfy but should not
// try are skipped: more than 64 GiB of address space (two leaves of the radix
// map), or 4 GiB under TSan, whose shadow cannot follow such mappings.
#ifndef LITE_MALLOC_FUZZ_HARNESS_H
#define LITE_MALLOC_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

namespace lite_fuzz {

// The single-threaded target: ops on 64 slots of one thread.
void RunSingle(const uint8_t* data, size_t size);

// The threaded target. The first byte picks 2 or 3 worker threads (bit 0),
// whether each round runs on fresh threads so blocks outlive the thread that
// made them (bit 1), and whether workers free their own blocks before they
// end (bit 2; otherwise the main thread frees them after). Ops run on their
// thread's slots in rounds: the threads of a round run concurrently, and
// between rounds the main thread hands blocks from one thread's slot to
// another's (a "barrier" op ends a round, at most 16 rounds).
void RunThreaded(const uint8_t* data, size_t size);

}  // namespace lite_fuzz

#endif  // LITE_MALLOC_FUZZ_HARNESS_H
