/* The OS layer: every mapping, purge and write goes through here, as raw system
 * calls. No libc function runs but getauxval and clock_gettime (both below),
 * which neither allocate nor lock, so nothing here can allocate, take a lock
 * or clobber errno. */
#define _GNU_SOURCE
#include <errno.h> /* the error numbers only */
#include <stddef.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include "lite_internal.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer) || \
    __has_feature(memory_sanitizer)
#define LITE_OS_VIA_LIBC 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define LITE_OS_VIA_LIBC 1
#endif

#if defined(LITE_OS_VIA_LIBC)
/* Sanitizer builds call libc by name so the sanitizer sees mappings come and go
 * (TSan would otherwise take reuse of an unmapped range for a race). */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
static long lite_libc_result(long r) { return r == -1 ? -errno : r; }
static long lite_sys_mmap_flags(void* hint, size_t size, int flags) {
  int saved = errno;
  void* p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags, -1, 0);
  long r = p == MAP_FAILED ? -errno : (long)p;
  errno = saved;
  return r;
}
static long lite_sys_munmap(void* p, size_t size) { int saved = errno; long r = lite_libc_result(munmap(p, size)); errno = saved; return r; }
static long lite_sys_madvise(void* p, size_t size) { int saved = errno; long r = lite_libc_result(madvise(p, size, MADV_DONTNEED)); errno = saved; return r; }
static long lite_sys_mremap(void* p, size_t old_size, size_t new_size, int flags, void* to) {
  int saved = errno;
  void* q = mremap(p, old_size, new_size, flags, to);
  long r = q == MAP_FAILED ? -errno : (long)q;
  errno = saved;
  return r;
}
static long lite_sys_write(const char* s, size_t n) { return write(2, s, n); }
static long lite_sys_mprotect_none(void* p, size_t size) { return lite_libc_result(mprotect(p, size, PROT_NONE)); }
static void lite_sys_abort(void) { abort(); }
static long lite_sys_membarrier(int cmd) { int saved = errno; long r = lite_libc_result(syscall(SYS_membarrier, cmd, 0, 0)); errno = saved; return r; }
static long lite_sys_futex(_Atomic(uint32_t)* word, int op, uint32_t value, const struct timespec* ts) {
  int saved = errno;
  long r = lite_libc_result(syscall(SYS_futex, word, op, value, ts, 0, 0));
  errno = saved;
  return r;
}
static long lite_sys_sigmask(int how, const uint64_t* set, uint64_t* old) {
  return lite_libc_result(syscall(SYS_rt_sigprocmask, how, set, old, sizeof(uint64_t)));
}
struct lite_clone_start { void (*fn)(void*); void* arg; };
static int lite_clone_entry(void* start) {
  struct lite_clone_start* s = start;
  s->fn(s->arg);
  syscall(SYS_exit, 0);
  return 0;
}
static long lite_sys_clone(unsigned long flags, void* stack_top, void* tls, void (*fn)(void*), void* arg) {
  struct lite_clone_start* s = (struct lite_clone_start*)stack_top - 1;
  s->fn = fn;
  s->arg = arg;
  int saved = errno;
  long r = lite_libc_result(clone(lite_clone_entry, (void*)((uintptr_t)s & ~(uintptr_t)15), (int)flags, s, NULL, tls, NULL));
  errno = saved;
  return r;
}
#else
#if defined(__x86_64__)
static inline long lite_syscall6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
static inline long lite_syscall6(long n, long a, long b, long c, long d, long e, long f) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
}
#else
#error "lite_malloc: raw system calls are written for x86-64 and AArch64 only"
#endif
static long lite_sys_mmap_flags(void* hint, size_t size, int flags) {
  return lite_syscall6(SYS_mmap, (long)hint, (long)size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags, -1, 0);
}
static long lite_sys_munmap(void* p, size_t size) {
  return lite_syscall6(SYS_munmap, (long)p, (long)size, 0, 0, 0, 0);
}
static long lite_sys_madvise(void* p, size_t size) {
  return lite_syscall6(SYS_madvise, (long)p, (long)size, MADV_DONTNEED, 0, 0, 0);
}
static long lite_sys_mremap(void* p, size_t old_size, size_t new_size, int flags, void* to) {
  return lite_syscall6(SYS_mremap, (long)p, (long)old_size, (long)new_size, flags, (long)to, 0);
}
static long lite_sys_write(const char* s, size_t n) {
  return lite_syscall6(SYS_write, 2, (long)s, (long)n, 0, 0, 0);
}
static long lite_sys_mprotect_none(void* p, size_t size) {
  return lite_syscall6(SYS_mprotect, (long)p, (long)size, PROT_NONE, 0, 0, 0);
}
static long lite_sys_membarrier(int cmd) { return lite_syscall6(SYS_membarrier, cmd, 0, 0, 0, 0, 0); }
static long lite_sys_futex(_Atomic(uint32_t)* word, int op, uint32_t value, const struct timespec* ts) {
  return lite_syscall6(SYS_futex, (long)word, op, value, (long)ts, 0, 0);
}
static long lite_sys_sigmask(int how, const uint64_t* set, uint64_t* old) {
  return lite_syscall6(SYS_rt_sigprocmask, how, (long)set, (long)old, sizeof(uint64_t), 0, 0);
}
/* clone(2) for a thread that runs fn(arg) on stack_top and then exits: the
 * child never returns into C code, so it finds fn and arg on its new stack. */
static long lite_sys_clone(unsigned long flags, void* stack_top, void* tls, void (*fn)(void*), void* arg) {
  uintptr_t* sp = (uintptr_t*)stack_top - 2;
  sp[0] = (uintptr_t)fn;
  sp[1] = (uintptr_t)arg;
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = 0;
  register long r8 __asm__("r8") = (long)tls;
  __asm__ volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"
      "pop %%rax\n\t"
      "pop %%rdi\n\t"
      "call *%%rax\n\t"
      "mov $60, %%eax\n\t" /* SYS_exit: this thread only */
      "xor %%edi, %%edi\n\t"
      "syscall\n\t"
      "hlt\n"
      "1:"
      : "=a"(ret)
      : "a"(SYS_clone), "D"(flags), "S"(sp), "d"(0), "r"(r10), "r"(r8)
      : "rcx", "r11", "memory");
  return ret;
#else
  register long x8 __asm__("x8") = SYS_clone;
  register long x0 __asm__("x0") = (long)flags;
  register long x1 __asm__("x1") = (long)sp;
  register long x2 __asm__("x2") = 0;
  register long x3 __asm__("x3") = (long)tls;
  register long x4 __asm__("x4") = 0;
  __asm__ volatile(
      "svc 0\n\t"
      "cbnz x0, 1f\n\t"
      "mov x29, xzr\n\t"
      "ldp x1, x0, [sp], #16\n\t"
      "blr x1\n\t"
      "mov x8, #93\n\t" /* SYS_exit: this thread only */
      "mov x0, xzr\n\t"
      "svc 0\n"
      "1:"
      : "+r"(x0)
      : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4)
      : "x30", "memory");
  return x0;
#endif
}
static void lite_sys_abort(void) {
  long tid = lite_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
  long pid = lite_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
  lite_syscall6(SYS_tgkill, pid, tid, 6 /* SIGABRT */, 0, 0, 0);
  lite_syscall6(SYS_exit_group, 134, 0, 0, 0, 0, 0); /* SIGABRT was blocked */
}
#endif

static bool lite_sys_failed(long r) { return (unsigned long)r > (unsigned long)-4096L; }
static long lite_sys_mmap(void* hint, size_t size) { return lite_sys_mmap_flags(hint, size, 0); }
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

// -----------------------------------------------------------------------------
// Fault injection
// -----------------------------------------------------------------------------
#if LITE_MALLOC_FAULT_INJECTION
static _Atomic(unsigned long) lite_fault_skip[3], lite_fault_count[3];

int lite_malloc_fault_inject(lite_malloc_fault op, unsigned long skip, unsigned long count) {
  if ((unsigned)op > LITE_FAULT_MUNMAP) return -1;
  lite_store_relaxed(&lite_fault_count[op], count);
  lite_store_relaxed(&lite_fault_skip[op], skip);
  return 0;
}

/* True when this call of op is one that must fail. */
static bool lite_fault(lite_malloc_fault op) {
  if (lite_load_relaxed(&lite_fault_count[op]) == 0) return false;
  unsigned long skip = lite_load_relaxed(&lite_fault_skip[op]);
  while (skip > 0) {
    if (atomic_compare_exchange_weak_explicit(&lite_fault_skip[op], &skip, skip - 1,
                                              memory_order_relaxed, memory_order_relaxed))
      return false;
  }
  unsigned long count = lite_load_relaxed(&lite_fault_count[op]);
  while (count > 0) {
    if (atomic_compare_exchange_weak_explicit(&lite_fault_count[op], &count, count - 1,
                                              memory_order_relaxed, memory_order_relaxed))
      return true;
  }
  return false;
}
#else
int lite_malloc_fault_inject(lite_malloc_fault op, unsigned long skip, unsigned long count) {
  (void)op;
  (void)skip;
  (void)count;
  return -1;
}
static inline bool lite_fault(lite_malloc_fault op) {
  (void)op;
  return false;
}
#endif

uintptr_t lite_os_random(void) {
  const uint8_t* random = (const uint8_t*)getauxval(AT_RANDOM);
  uintptr_t word = 0;
  if (random != NULL)
    for (unsigned i = 0; i < 8; i++) word = word << 8 | random[i];
  return word;
}

// -----------------------------------------------------------------------------
// The page size
// -----------------------------------------------------------------------------
_Atomic(size_t) lite_os_page;

/* Reads the page size from the auxiliary vector the kernel gave the process
 * (AT_PAGESZ). getauxval only scans the copy glibc keeps of it: no system
 * call, no allocation, no lock. Every caller computes the same value, so a
 * race to store it is harmless. Without the entry, 64 KiB: a multiple of every
 * page size there is, so still correct. Above 64 KiB the slices would not be
 * whole pages: lite_malloc refuses to run. */
size_t lite_os_page_init(void) {
  size_t page = (size_t)getauxval(AT_PAGESZ);
  if (page == 0) page = LITE_OS_PAGE_MAX;
  if ((page & (page - 1)) != 0 || page > LITE_OS_PAGE_MAX) {
    static const char msg[] = "lite_malloc: the OS page size is not 4, 16 or 64 KiB\n";
    lite_os_write_stderr(msg, sizeof msg - 1);
    lite_os_abort();
  }
  if (page < 4096) page = 4096;
  /* Tests: pages larger than the kernel's are whole numbers of its pages. */
#if LITE_MALLOC_TEST_PAGE_SIZE
  if (page < LITE_MALLOC_TEST_PAGE_SIZE) page = LITE_MALLOC_TEST_PAGE_SIZE;
#endif
  lite_store_relaxed(&lite_os_page, page);
  return page;
}

/* The system calls behind the two below, without the fault injection. */
static void* lite_os_map_raw(size_t size, void* hint) {
  long r = lite_sys_mmap(hint, size);
  lite_add_relaxed(&lite_stat.os_maps, 1);
  if (lite_sys_failed(r)) return NULL;
  lite_add_relaxed(&lite_stat.mapped_bytes, size);
  return (void*)r;
}

static bool lite_os_map_at_raw(void* p, size_t size) {
  long r = lite_sys_mmap_flags(p, size, MAP_FIXED_NOREPLACE);
  lite_add_relaxed(&lite_stat.os_maps, 1);
  if (lite_sys_failed(r)) return false;
  if ((void*)r != p) {
    lite_sys_munmap((void*)r, size);
    return false;
  }
  lite_add_relaxed(&lite_stat.mapped_bytes, size);
  return true;
}

void* lite_os_map(size_t size, void* hint) { return lite_fault(LITE_FAULT_MMAP) ? NULL : lite_os_map_raw(size, hint); }

/* Maps size bytes exactly at p, only if nothing is mapped there now (kernels
 * before 4.17 take the flag for a hint: a mapping elsewhere is undone). */
bool lite_os_map_at(void* p, size_t size) { return !lite_fault(LITE_FAULT_MMAP) && lite_os_map_at_raw(p, size); }

/* False when the kernel refused (it can: splitting a mapping needs a new one);
 * the range then stays mapped and counted. */
bool lite_os_unmap(void* p, size_t size) {
  if (size == 0) return true;
  if (lite_fault(LITE_FAULT_MUNMAP)) return false;
  lite_add_relaxed(&lite_stat.os_unmaps, 1);
  if (lite_sys_failed(lite_sys_munmap(p, size))) return false;
  lite_sub_relaxed(&lite_stat.mapped_bytes, size);
  return true;
}

/* Where the next aligned mapping is tried first. The hole one just unmapped
 * left, [hole_start, hole_end), when it fits there; else it ends at or just
 * below low, the start of the last one (the kernel hands out addresses
 * top-down). A mapping that does not fit goes below, never over what is
 * mapped, so most tries succeed. Racing updates only make a try miss, which
 * costs the over-map below, never a wrong mapping. */
static _Atomic(uintptr_t) lite_os_hint_low, lite_os_hole_start, lite_os_hole_end;

void lite_os_hint_free(void* p, size_t size) {
  lite_store_relaxed(&lite_os_hole_start, (uintptr_t)p);
  lite_store_relaxed(&lite_os_hole_end, (uintptr_t)p + size);
}

/* The aligned start of `size` bytes that end at or below `end`; 0 if none. */
static uintptr_t lite_os_below(uintptr_t end, size_t size, size_t align) {
  return end >= size ? (end - size) & ~(uintptr_t)(align - 1) : 0;
}

/* Maps size bytes at an address that is a multiple of align (a power of two of
 * at least the OS page): at the hint if that range is free, else over-map,
 * then unmap the unaligned head and the tail. */
void* lite_os_map_aligned(size_t size, size_t align) {
  if (lite_fault(LITE_FAULT_MMAP)) return NULL; /* one fault point, whichever way it maps */
  uintptr_t hole = lite_load_relaxed(&lite_os_hole_start);
  uintptr_t hint = lite_os_below(lite_load_relaxed(&lite_os_hole_end), size, align);
  bool in_hole = hint != 0 && hint >= hole;
  if (in_hole) {
    lite_store_relaxed(&lite_os_hole_start, 0);
    lite_store_relaxed(&lite_os_hole_end, 0);
  } else {
    hint = lite_os_below(lite_load_relaxed(&lite_os_hint_low), size, align);
  }
  if (hint != 0 && lite_os_map_at_raw((void*)hint, size)) {
    if (!in_hole) lite_store_relaxed(&lite_os_hint_low, hint);
    return (void*)hint;
  }
  if (size + align < size) return NULL;
  uint8_t* raw = lite_os_map_raw(size + align, NULL);
  if (raw == NULL) return NULL;
  uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
  lite_os_unmap(raw, start - (uintptr_t)raw);
  lite_os_unmap((void*)(start + size), (uintptr_t)raw + size + align - (start + size));
  lite_store_relaxed(&lite_os_hint_low, start);
  return (void*)start;
}

bool lite_os_purge(void* p, size_t size) {
  lite_add_relaxed(&lite_stat.os_purges, 1);
  return !lite_fault(LITE_FAULT_MADVISE) && !lite_sys_failed(lite_sys_madvise(p, size));
}

bool lite_os_protect_none(void* p, size_t size) { return !lite_sys_failed(lite_sys_mprotect_none(p, size)); }

bool lite_os_grow_inplace(void* p, size_t old_size, size_t new_size) {
  long r = lite_sys_mremap(p, old_size, new_size, 0, NULL);
  lite_add_relaxed(&lite_stat.os_remaps, 1);
  if (lite_sys_failed(r)) return false;
  lite_add_relaxed(&lite_stat.mapped_bytes, new_size - old_size);
  return true;
}

/* Moves the pages of [p, p+old_size) to `to`, replacing the mapping there
 * (new_size bytes, already mapped by the caller), without copying. A range
 * of several kernel mappings moves in one call on Linux 6.17 and later (size
 * unchanged); older kernels refuse it with EFAULT before anything moved.
 * 0, or the error. */
long lite_os_move(void* p, size_t old_size, void* to, size_t new_size) {
  if (lite_fault(LITE_FAULT_MMAP)) return -ENOMEM;
  long r = lite_sys_mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
  lite_add_relaxed(&lite_stat.os_remaps, 1);
  if (lite_sys_failed(r)) return r;
  lite_sub_relaxed(&lite_stat.mapped_bytes, old_size);
  return 0;
}

/* Maps fresh pages over [p, p+size), a range the caller owns: after a move
 * that failed, the kernel may have unmapped the target already. */
bool lite_os_map_over(void* p, size_t size) {
  long r = lite_sys_mmap_flags(p, size, MAP_FIXED);
  lite_add_relaxed(&lite_stat.os_maps, 1);
  return !lite_sys_failed(r);
}

void lite_os_write_stderr(const char* s, size_t n) {
  while (n > 0) {
    long r = lite_sys_write(s, n);
    if (r <= 0) return;
    s += r;
    n -= (size_t)r;
  }
}

/* A full memory fence executed by every running thread of the process before
 * this returns (reclaim.c). Registers for the cheap per-process kind on first
 * use; falls back to the global kind; false when the kernel has neither. */
enum { LITE_MB_QUERY = 0, LITE_MB_GLOBAL = 1, LITE_MB_PRIVATE = 8, LITE_MB_REGISTER_PRIVATE = 16 };
static _Atomic(int) lite_membarrier_mode; /* 0: not asked yet, else the command, or -1 */

bool lite_os_membarrier(void) {
  int mode = lite_load_relaxed(&lite_membarrier_mode);
  if (mode == 0) {
    long q = lite_sys_membarrier(LITE_MB_QUERY);
    mode = -1;
    if (!lite_sys_failed(q) && (q & LITE_MB_PRIVATE) &&
        !lite_sys_failed(lite_sys_membarrier(LITE_MB_REGISTER_PRIVATE)))
      mode = LITE_MB_PRIVATE;
    else if (!lite_sys_failed(q) && (q & LITE_MB_GLOBAL))
      mode = LITE_MB_GLOBAL;
    lite_store_relaxed(&lite_membarrier_mode, mode);
  }
  return mode > 0 && !lite_sys_failed(lite_sys_membarrier(mode));
}

// -----------------------------------------------------------------------------
// A thread of lite_malloc's own, and sleeping on a word
// -----------------------------------------------------------------------------
#define LITE_FUTEX_WAIT_PRIVATE 128
#define LITE_FUTEX_WAKE_PRIVATE 129

/* Starts a thread that runs fn(arg) on the stack below stack_top (16-byte
 * aligned), with thread pointer tls and every signal blocked, and exits when
 * fn returns. libc knows nothing of it: fn must not call libc or read
 * thread-local variables other than through tls. */
bool lite_os_thread_start(void* stack_top, void* tls, void (*fn)(void*), void* arg) {
  const unsigned long flags = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000;
  /* CLONE_VM FS FILES SIGHAND THREAD SYSVSEM SETTLS */
  uint64_t all = ~(uint64_t)0, old = 0;
  lite_sys_sigmask(0 /* SIG_BLOCK */, &all, &old); /* the child inherits the mask */
  long r = lite_sys_clone(flags, stack_top, tls, fn, arg);
  lite_sys_sigmask(2 /* SIG_SETMASK */, &old, NULL);
  return !lite_sys_failed(r);
}

/* Sleeps until *word is woken, no longer holds value, or ms have passed. */
void lite_os_sleep_on(_Atomic(uint32_t)* word, uint32_t value, uint64_t ms) {
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
  lite_sys_futex(word, LITE_FUTEX_WAIT_PRIVATE, value, &ts);
}

void lite_os_wake(_Atomic(uint32_t)* word) { lite_sys_futex(word, LITE_FUTEX_WAKE_PRIVATE, 1, NULL); }

/* A forked child is a new process to the kernel: it registers again. */
void lite_os_fork_child(void) { lite_store_relaxed(&lite_membarrier_mode, 0); }

/* clock_gettime goes through the vDSO (no system call, no allocation, no
 * lock), which a raw system call cannot reach. */
uint64_t lite_os_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void lite_os_abort(void) {
  lite_sys_abort();
  for (;;) lite_sys_abort();
}
