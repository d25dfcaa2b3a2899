// Fuzz target: the lite_* API from two or three threads at once, with blocks
// handed between them (see lite_fuzz::RunThreaded in fuzz/harness.h).
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lite_fuzz::RunThreaded(data, size);
  return 0;
}
