#!/usr/bin/env bash
# Mode 2: a program linked with -llite-malloc-shared. The library's malloc
# comes before libc's in the process's symbol lookup, so it replaces malloc
# for the whole process, libc's own calls included.
source testing/modes/mode_test_lib.sh

mode_cc -DLITE_PROBE_LINKED=1 -o "$SCRATCH/app" testing/modes/mode_probe.c \
  -Llite_malloc -llite-malloc-shared -Wl,-rpath,"$PWD/lite_malloc" -pthread
run readelf -d "$SCRATCH/app" | grep "NEEDED.*\[liblite-malloc-shared.so\]" >/dev/null ||
  { echo "liblite-malloc-shared.so is not a NEEDED library of the program"; exit 1; }
run "$SCRATCH/app" lite
