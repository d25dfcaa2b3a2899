#!/usr/bin/env bash
# Mode 1: a fully static executable linked with -Wl,--wrap,malloc ... against
# liblite-malloc-static.a. ld renames every call of malloc, libc.a's own
# included, to __wrap_malloc.
source testing/modes/mode_test_lib.sh

mode_cc -DLITE_PROBE_LINKED=1 -static -o "$SCRATCH/app" testing/modes/mode_probe.c \
  "${WRAP_FLAGS[@]}" lite_malloc/liblite-malloc-static.a -pthread
run readelf -d "$SCRATCH/app" | grep "no dynamic section" >/dev/null || { echo "not static"; exit 1; }
run "$SCRATCH/app" lite

# A C++ program, which calls operator new and never malloc by name.
run "${CXX:-c++}" -O2 -I. -DLITE_PROBE_LINKED=1 -static -o "$SCRATCH/app_cxx" \
  testing/modes/cxx_probe.cc "${WRAP_FLAGS[@]}" lite_malloc/liblite-malloc-static.a -pthread
run "$SCRATCH/app_cxx" lite
