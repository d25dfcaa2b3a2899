/* @lite_malloc//lite_malloc:core in a consumer's test: the lite_* API by name,
 * while malloc stays glibc's. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "lite_malloc/lite_malloc.h"

int main(void) {
  void* p = lite_malloc(100);
  check(p != NULL && lite_malloc_owns(p), "lite_malloc");
  lite_free(p);
  void* a = lite_aligned_alloc(4096, 100);
  check(lite_malloc_owns(a) && (uintptr_t)a % 4096 == 0, "lite_aligned_alloc(4096, ...)");
  lite_free(a);
  void* g = malloc(100);
  check(g != NULL && !lite_malloc_owns(g), "malloc stays glibc's");
  free(g);
  check(lite_malloc_version() == LITE_MALLOC_VERSION, "lite_malloc_version() is the header's");
  return failures != 0;
}
