#!/usr/bin/env bash
# Mode 4: LD_PRELOAD=.../liblite-malloc-shared.so on unmodified programs, built
# without any knowledge of lite_malloc (they find lite_malloc_owns with dlsym).
source testing/modes/mode_test_lib.sh

SO="$PWD/lite_malloc/liblite-malloc-shared.so"
run testing/modes/mode_probe glibc                     # the control run
run env LD_PRELOAD="$SO" testing/modes/mode_probe lite
run env LD_PRELOAD="$SO" testing/modes/cxx_probe lite
run env LD_PRELOAD="$SO" testing/modes/lifecycle_probe

# A C program that preloads the library loads no C++ runtime: the operators
# new and delete reference libstdc++ weakly (override_new.cc).
maps="$(env LD_PRELOAD="$SO" cat /proc/self/maps)"
if grep -q 'libstdc++' <<<"$maps"; then
  echo "FAIL a C program that preloads lite_malloc loads libstdc++"
  exit 1
fi
echo "ok   no libstdc++ in a preloaded C program"

# Nor does it cost much memory: a preloaded grep reading its own VmRSS is
# within 1 MiB of glibc's (it was 2.3 MiB more with libstdc++ and 450 KiB of
# relocations read at load).
rss() { env ${1:+LD_PRELOAD="$1"} grep VmRSS /proc/self/status | awk '{print $2}'; }
glibc_kib="$(rss "")" lite_kib="$(rss "$SO")"
if (( lite_kib > glibc_kib + 1024 )); then
  echo "FAIL a preloaded C program has VmRSS $lite_kib KiB, glibc's $glibc_kib KiB"
  exit 1
fi
echo "ok   VmRSS of a small C program: $lite_kib KiB, glibc $glibc_kib KiB"
