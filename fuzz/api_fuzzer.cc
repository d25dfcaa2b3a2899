// Fuzz target: the whole lite_* API from one thread, against the shadow model
// (see fuzz/harness.h for the checks and fuzz/ops.h for the input format).
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lite_fuzz::RunSingle(data, size);
  return 0;
}
