// @lite_malloc//lite_malloc:static in a consumer's C++ test, compiled with the
// consumer's flags (Bazel's default -std=c++0x, no -O2): malloc, new, new[]
// and libc's own allocations are all lite_malloc's.
#include <stdlib.h>
#include <string.h>

#include <string>

#include "check.h"
#include "lite_malloc/lite_malloc.h"

int main() {
  // Written before it is read: gcc warns of a fresh block passed as const void*.
  void* p = memset(malloc(100), 1, 100);
  check(lite_malloc_owns(p), "malloc");
  free(p);
  int* array = new int[1000];
  check(lite_malloc_owns(array), "new[]");
  delete[] array;
  std::string* s = new std::string(1000, 'x');
  check(lite_malloc_owns(s) && lite_malloc_owns(s->data()), "new, and std::string's buffer");
  delete s;
  char* d = strdup("libc's own allocation");
  check(lite_malloc_owns(d), "strdup (libc's own malloc)");
  free(d);
  check(lite_malloc_version() == LITE_MALLOC_VERSION, "lite_malloc_version() is the header's");
  return failures != 0;
}
