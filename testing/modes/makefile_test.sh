#!/usr/bin/env bash
# The root Makefile, for projects without Bazel: plain `make` builds the two
# artifacts (and the hooks archive); the .so works under LD_PRELOAD, the .a in
# modes 1 and 5, the hooks archive in mode 3, and CFLAGS+= sets an option.
source testing/modes/mode_test_lib.sh

src="$SCRATCH/src"
copy_sources "$src"

run make -C "$src" -j2 >"$SCRATCH/make.log" 2>&1 || { cat "$SCRATCH/make.log"; exit 1; }
for artifact in liblite-malloc-static.a liblite-malloc-shared.so liblite-malloc-hooks.a; do
  [[ -f "$src/build/$artifact" ]] || { echo "FAIL make built no build/$artifact"; exit 1; }
done
again="$(run make -C "$src" 2>&1)"
[[ "$again" == *"Nothing to be done"* ]] || { echo "FAIL make rebuilt:"; echo "$again"; exit 1; }

# Mode 4 with the Makefile's .so.
run env LD_PRELOAD="$src/build/liblite-malloc-shared.so" testing/modes/mode_probe lite

# Modes 1 and 5 with the Makefile's .a; mode 3 with its hooks archive.
mode_cc -DLITE_PROBE_LINKED=1 -static -o "$SCRATCH/app_wrap" testing/modes/mode_probe.c \
  "${WRAP_FLAGS[@]}" "$src/build/liblite-malloc-static.a" -pthread
run "$SCRATCH/app_wrap" lite
mode_cc -DLITE_PROBE_LINKED=1 -o "$SCRATCH/app_defsym" testing/modes/mode_probe.c \
  "${DEFSYM_FLAGS[@]}" "$src/build/liblite-malloc-static.a" -pthread
run "$SCRATCH/app_defsym" lite
mode_cc -DLITE_PROBE_LINKED=1 -DLITE_PROBE_HOOKS=1 -o "$SCRATCH/app_hooks" \
  testing/modes/mode_probe.c "$src/build/liblite-malloc-hooks.a" -pthread
run "$SCRATCH/app_hooks" hooks

# An option through CFLAGS+=: a change of flags rebuilds, and the library
# reports the value it was built with.
run make -C "$src" -j2 CFLAGS+=-DLITE_MALLOC_ENGINES_COUNT=8 >"$SCRATCH/make8.log" 2>&1 ||
  { cat "$SCRATCH/make8.log"; exit 1; }
cat >"$SCRATCH/engines.c" <<'C'
#include <stdio.h>
#include "lite_malloc/lite_malloc.h"
int main(void) {
  lite_malloc_config config;
  lite_malloc_get_config(&config);
  printf("%zu\n", config.engines_count);
  return 0;
}
C
mode_cc -o "$SCRATCH/engines" "$SCRATCH/engines.c" "$src/build/liblite-malloc-static.a" -pthread
engines="$(run "$SCRATCH/engines")"
[[ "$engines" == 8 ]] || { echo "FAIL engines_count is $engines after CFLAGS+=-DLITE_MALLOC_ENGINES_COUNT=8"; exit 1; }
echo "ok   make CFLAGS+=-DLITE_MALLOC_ENGINES_COUNT=8 builds with 8 engines"

# TLS: initial-exec by default (the loader marks the .so STATIC_TLS); with
# LITE_MALLOC_TLS_DYNAMIC=1, global-dynamic, and the .so can be dlopen'ed.
run readelf -d "$src/build/liblite-malloc-shared.so" | grep "FLAGS.*STATIC_TLS" >/dev/null ||
  { echo "FAIL the default .so is not STATIC_TLS"; exit 1; }
run make -C "$src" -j2 O=build-dynamic CFLAGS+=-DLITE_MALLOC_TLS_DYNAMIC=1 \
  build-dynamic/liblite-malloc-shared.so >"$SCRATCH/make-dynamic.log" 2>&1 ||
  { cat "$SCRATCH/make-dynamic.log"; exit 1; }
if readelf -d "$src/build-dynamic/liblite-malloc-shared.so" | grep STATIC_TLS; then
  echo "FAIL LITE_MALLOC_TLS_DYNAMIC=1 still uses static TLS"; exit 1
fi
cat >"$SCRATCH/dlopen.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
#include <pthread.h>
static void* (*lite_malloc)(size_t);
static void (*lite_free)(void*);
static int (*lite_malloc_owns)(const void*);
static void* work(void* arg) {
  void* p = lite_malloc(100);
  int ok = p != NULL && lite_malloc_owns(p);
  lite_free(p);
  return ok ? arg : NULL;
}
int main(int argc, char** argv) {
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) { printf("dlopen: %s\n", dlerror()); return 1; }
  lite_malloc = (void* (*)(size_t))dlsym(lib, "lite_malloc");
  lite_free = (void (*)(void*))dlsym(lib, "lite_free");
  lite_malloc_owns = (int (*)(const void*))dlsym(lib, "lite_malloc_owns");
  pthread_t thread;
  void* result;
  pthread_create(&thread, NULL, work, lib);
  pthread_join(thread, &result);
  printf("%s\n", work(lib) && result ? "dlopen'ed lite_malloc works" : "FAIL");
  return !(work(lib) && result);
}
C
mode_cc -o "$SCRATCH/dlopen" "$SCRATCH/dlopen.c" -ldl -pthread
run "$SCRATCH/dlopen" "$src/build-dynamic/liblite-malloc-shared.so"
echo "ok   LITE_MALLOC_TLS_DYNAMIC=1: global-dynamic TLS, and dlopen works"
echo PASSED
