/* The README's consumer program: linked with @lite_malloc//lite_malloc:static,
 * its malloc is lite_malloc's. */
#include <stdio.h>
#include <stdlib.h>

#include "lite_malloc/lite_malloc.h"

int main(void) {
  void* p = malloc(100);
  printf("malloc is %s\n", lite_malloc_owns(p) ? "lite_malloc's" : "glibc's");
  free(p);
  return 0;
}
