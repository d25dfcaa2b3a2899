/* lite-hooks.h: send this file's own allocation calls to lite_malloc.
 *
 * Include it as the FIRST line of a source file, and link lite_malloc's core
 * with lite_hooks_* (Bazel: //lite_malloc:hooks; make: liblite-malloc-hooks.a):
 *
 *   #include "lite_malloc/lite-hooks.h"
 *
 * The original lite-hooks.h set glibc's __malloc_hook and friends; glibc 2.34
 * removed those hooks, so that cannot work any more. This header keeps the
 * promise ("include it first and malloc is lite_malloc") by declaring malloc,
 * free, ... before <stdlib.h> does, with asm labels that rename them, as glibc's
 * own __REDIRECT does: every call of malloc written in this translation unit
 * (std::malloc included) calls lite_malloc, with no macro and no cost.
 *
 * Covered: the calls this file makes by name: malloc, calloc, realloc,
 * reallocarray, free, memalign, posix_memalign, aligned_alloc, valloc,
 * pvalloc, malloc_usable_size, free_sized, free_aligned_sized.
 * Not covered: allocations made anywhere else: other files that do not
 * include this header, libc (strdup, getline, fopen, ...), other libraries,
 * and C++ new/delete (operators cannot be replaced from a header). Those stay
 * with glibc. So free, realloc and malloc_usable_size here look the pointer
 * up first: a block lite_malloc never handed out (a strdup result, say) goes
 * to glibc's. The other way round cannot be caught: do not pass a block
 * allocated here to code that will free or realloc it (getline with a buffer
 * you allocated: start it at NULL instead). For the whole process, link
 * liblite-malloc-shared.so or //lite_malloc:static instead.
 *
 * Compilation fails, with a message, where the renaming cannot work: a
 * compiler without GNU asm labels, a file that declared malloc before this
 * header (through <stdlib.h>, <malloc.h>, <cstdlib>), or malloc defined as a
 * macro. */
#ifndef LITE_HOOKS_H
#define LITE_HOOKS_H

#if !defined(__GNUC__)
#error "lite-hooks.h renames malloc with GNU asm labels (gcc, clang); with another compiler, link liblite-malloc-shared.so or //lite_malloc:static instead"
#endif

#if defined(_STDLIB_H) || defined(_MALLOC_H) || defined(_GLIBCXX_CSTDLIB) || \
    defined(_GLIBCXX_STDLIB_H)
#error "lite-hooks.h must be the first #include of the file: <stdlib.h>, <malloc.h> or <cstdlib> came first, and malloc can be renamed only on its first declaration"
#endif

#if defined(malloc) || defined(free) || defined(calloc) || defined(realloc)
#error "lite-hooks.h: malloc, free, calloc or realloc is a macro here; lite-hooks.h must come before that definition"
#endif

#include <stddef.h>
#include <sys/cdefs.h> /* __THROW: the exception specification of libc's own declarations */

#ifndef __THROW
#define __THROW
#endif

/* Renames the function declared before it. The exception specification goes
 * before the label in C++, the attributes after it in C (as in glibc's
 * __REDIRECT_NTH). */
#ifdef __cplusplus
#define LITE_HOOKS_TO(symbol) __THROW __asm__(symbol)
#else
#define LITE_HOOKS_TO(symbol) __asm__(symbol) __THROW
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Defined by lite_malloc's core. */
void* malloc(size_t size) LITE_HOOKS_TO("lite_malloc");
void* calloc(size_t count, size_t size) LITE_HOOKS_TO("lite_calloc");
void* reallocarray(void* p, size_t count, size_t size) LITE_HOOKS_TO("lite_reallocarray");
void* memalign(size_t alignment, size_t size) LITE_HOOKS_TO("lite_memalign");
int posix_memalign(void** out, size_t alignment, size_t size) LITE_HOOKS_TO("lite_posix_memalign");
void* aligned_alloc(size_t alignment, size_t size) LITE_HOOKS_TO("lite_aligned_alloc");
void* valloc(size_t size) LITE_HOOKS_TO("lite_valloc");
void* pvalloc(size_t size) LITE_HOOKS_TO("lite_pvalloc");

/* Defined in override_hooks.c: glibc's blocks go back to glibc. */
void free(void* p) LITE_HOOKS_TO("lite_hooks_free");
void* realloc(void* p, size_t size) LITE_HOOKS_TO("lite_hooks_realloc");
size_t malloc_usable_size(void* p) LITE_HOOKS_TO("lite_hooks_malloc_usable_size");
void free_sized(void* p, size_t size) LITE_HOOKS_TO("lite_hooks_free_sized");
void free_aligned_sized(void* p, size_t alignment, size_t size) LITE_HOOKS_TO("lite_hooks_free_aligned_sized");

#ifdef __cplusplus
}
#endif
#endif
