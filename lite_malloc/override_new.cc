/* The C++ operators new and delete in all their forms (plain, array, nothrow,
 * sized, std::align_val_t), forwarded to the prefixed core.
 *
 * new: one call to lite_malloc (lite_memalign for the aligned forms); only on
 * NULL does it leave for the standard's failure loop, which calls the installed
 * std::new_handler until allocation succeeds, and throws std::bad_alloc when no
 * handler is installed (the nothrow forms return NULL instead).
 * delete: the sized forms pass the size on to lite_free_sized /
 * lite_free_aligned_sized, so C++ programs get sized frees. */
#include <cstddef>
#include <new>

#include "lite_malloc.h"

#define LITE_OVERRIDE __attribute__((visibility("default")))

/* Every use of the C++ runtime here is a weak reference, so the shared
 * library needs no libstdc++: a C program that preloads it does not load
 * libstdc++ and libm (about 1.5 MiB of resident memory) for operators it never
 * calls. In a C++ program they resolve to the program's libstdc++. The
 * standard's failure path is the only user; without a runtime (C++ code that
 * a C program dlopen()s with its own libstdc++) it stops the process. */
namespace std {
new_handler get_new_handler() noexcept __attribute__((weak));
}
__asm__(
    ".weak __cxa_allocate_exception, __cxa_throw, __cxa_begin_catch, __cxa_end_catch\n"
    ".weak __gxx_personality_v0, _Unwind_Resume\n"
    ".weak _ZTISt9bad_alloc, _ZTVSt9bad_alloc, _ZNSt9bad_allocD1Ev\n");
extern "C" __attribute__((noreturn, visibility("hidden"))) void lite_fatal(const char* what,
                                                                         const void* p,
                                                                         const char* reason);

namespace {

// -----------------------------------------------------------------------------
// Failure: the new_handler loop
// -----------------------------------------------------------------------------

void* lite_alloc(std::size_t size, std::size_t alignment) {
  return alignment == 0 ? lite_malloc(size) : lite_memalign(alignment, size);
}

/* alignment 0: plain malloc. */
__attribute__((noinline, cold)) void* lite_new_fail(std::size_t size, std::size_t alignment,
                                                    bool nothrow) {
  if (&std::get_new_handler == nullptr) {
    if (nothrow) return nullptr;
    lite_fatal("operator new", reinterpret_cast<void*>(size), "out of memory, no C++ runtime to throw");
  }
  for (;;) {
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) {
      if (nothrow) return nullptr;
      throw std::bad_alloc();
    }
    if (nothrow) {
      try {
        handler();
      } catch (const std::bad_alloc&) {
        return nullptr;
      }
    } else {
      handler();
    }
    void* p = lite_alloc(size, alignment);
    if (p != nullptr) return p;
  }
}

inline void* lite_new(std::size_t size) {
  void* p = lite_malloc(size);
  if (__builtin_expect(p != nullptr, 1)) return p;
  return lite_new_fail(size, 0, false);
}

inline void* lite_new_nothrow(std::size_t size) noexcept {
  void* p = lite_malloc(size);
  if (__builtin_expect(p != nullptr, 1)) return p;
  try {
    return lite_new_fail(size, 0, true);
  } catch (...) {  // a handler that throws something else: still no exception
    return nullptr;
  }
}

inline void* lite_new_aligned(std::size_t size, std::align_val_t alignment) {
  void* p = lite_memalign(static_cast<std::size_t>(alignment), size);
  if (__builtin_expect(p != nullptr, 1)) return p;
  return lite_new_fail(size, static_cast<std::size_t>(alignment), false);
}

inline void* lite_new_aligned_nothrow(std::size_t size, std::align_val_t alignment) noexcept {
  void* p = lite_memalign(static_cast<std::size_t>(alignment), size);
  if (__builtin_expect(p != nullptr, 1)) return p;
  try {
    return lite_new_fail(size, static_cast<std::size_t>(alignment), true);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

// -----------------------------------------------------------------------------
// new
// -----------------------------------------------------------------------------

LITE_OVERRIDE void* operator new(std::size_t size) { return lite_new(size); }
LITE_OVERRIDE void* operator new[](std::size_t size) { return lite_new(size); }
LITE_OVERRIDE void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return lite_new_nothrow(size);
}
LITE_OVERRIDE void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return lite_new_nothrow(size);
}
LITE_OVERRIDE void* operator new(std::size_t size, std::align_val_t alignment) {
  return lite_new_aligned(size, alignment);
}
LITE_OVERRIDE void* operator new[](std::size_t size, std::align_val_t alignment) {
  return lite_new_aligned(size, alignment);
}
LITE_OVERRIDE void* operator new(std::size_t size, std::align_val_t alignment,
                                 const std::nothrow_t&) noexcept {
  return lite_new_aligned_nothrow(size, alignment);
}
LITE_OVERRIDE void* operator new[](std::size_t size, std::align_val_t alignment,
                                   const std::nothrow_t&) noexcept {
  return lite_new_aligned_nothrow(size, alignment);
}

// -----------------------------------------------------------------------------
// delete
// -----------------------------------------------------------------------------

LITE_OVERRIDE void operator delete(void* p) noexcept { lite_free(p); }
LITE_OVERRIDE void operator delete[](void* p) noexcept { lite_free(p); }
LITE_OVERRIDE void operator delete(void* p, const std::nothrow_t&) noexcept { lite_free(p); }
LITE_OVERRIDE void operator delete[](void* p, const std::nothrow_t&) noexcept { lite_free(p); }
LITE_OVERRIDE void operator delete(void* p, std::size_t size) noexcept {
  lite_free_sized(p, size);
}
LITE_OVERRIDE void operator delete[](void* p, std::size_t size) noexcept {
  lite_free_sized(p, size);
}
LITE_OVERRIDE void operator delete(void* p, std::align_val_t) noexcept { lite_free(p); }
LITE_OVERRIDE void operator delete[](void* p, std::align_val_t) noexcept { lite_free(p); }
LITE_OVERRIDE void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  lite_free(p);
}
LITE_OVERRIDE void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  lite_free(p);
}
LITE_OVERRIDE void operator delete(void* p, std::size_t size, std::align_val_t alignment) noexcept {
  lite_free_aligned_sized(p, static_cast<std::size_t>(alignment), size);
}
LITE_OVERRIDE void operator delete[](void* p, std::size_t size,
                                     std::align_val_t alignment) noexcept {
  lite_free_aligned_sized(p, static_cast<std::size_t>(alignment), size);
}
