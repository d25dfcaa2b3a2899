#!/usr/bin/env bash
# Mode 5: a dynamically linked program that takes lite_malloc from the static
# archive, with -Wl,--defsym=malloc=__wrap_malloc ... The program then defines
# malloc itself, and libc.so's own calls bind to it.
source testing/modes/mode_test_lib.sh

mode_cc -DLITE_PROBE_LINKED=1 -o "$SCRATCH/app" testing/modes/mode_probe.c \
  "${DEFSYM_FLAGS[@]}" lite_malloc/liblite-malloc-static.a -pthread
run readelf -d "$SCRATCH/app" | grep "NEEDED.*libc.so" >/dev/null || { echo "not dynamic"; exit 1; }
run "$SCRATCH/app" lite

# The same with gold and lld, when installed: none of them needs the .o.
for linker in gold lld; do
  if "$CC" -fuse-ld="$linker" -Wl,--version >/dev/null 2>&1; then
    mode_cc -fuse-ld="$linker" -DLITE_PROBE_LINKED=1 -o "$SCRATCH/app_$linker" \
      testing/modes/mode_probe.c "${DEFSYM_FLAGS[@]}" lite_malloc/liblite-malloc-static.a -pthread
    run "$SCRATCH/app_$linker" lite
  else
    echo "skipped: no $linker linker"
  fi
done
