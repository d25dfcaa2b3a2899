/* @lite_malloc//lite_malloc:hooks in a consumer's test: with lite-hooks.h
 * first, this file's malloc, realloc and free are lite_malloc's, while libc's
 * own allocations (strdup) stay glibc's and free still takes them back. */
#include "lite_malloc/lite-hooks.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lite_malloc/lite_malloc.h"

int main(void) {
  char* p = malloc(100);
  check(lite_malloc_owns(p), "malloc in this file");
  p = realloc(p, 100000);
  check(lite_malloc_owns(p), "realloc in this file");
  free(p);
  char* d = strdup("libc's own allocation");
  check(d != NULL && !lite_malloc_owns(d), "strdup stays glibc's");
  free(d);
  return failures != 0;
}
