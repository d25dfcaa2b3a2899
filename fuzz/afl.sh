#!/usr/bin/env bash
# Builds a fuzz target with AFL++ (Debian package afl++) outside Bazel, and
# runs afl-fuzz on it in persistent mode.
#
#   fuzz/afl.sh build TARGET               # -> $AFL_WORK/TARGET
#   fuzz/afl.sh run TARGET [AFL_ARGS...]   # build, then fuzz until stopped
#
# TARGET is api or threads; AFL_WORK defaults to /tmp/lite_malloc_afl. `run`
# starts
#
#   afl-fuzz -i fuzz/corpus/TARGET -o $AFL_WORK/out-TARGET -m none AFL_ARGS -- $AFL_WORK/TARGET
#
# The binary reads inputs from afl-fuzz's shared memory (__AFL_LOOP); given
# files it replays them, so a crash reproduces with
#
#   $AFL_WORK/api $AFL_WORK/out-api/default/crashes/id:000000*
#
# Examples: `fuzz/afl.sh run api -V 600` (ten minutes), `AFL_USE_ASAN=1
# fuzz/afl.sh run api` (with AddressSanitizer: slower). Set CC/CXX to use
# afl-clang-lto instead of afl-clang-fast.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
  exit 2
}
[[ $# -ge 2 ]] || usage
command=$1
target=$2
shift 2
[[ $command == build || $command == run ]] || usage
[[ -f fuzz/${target}_fuzzer.cc ]] || { echo "afl.sh: no target '$target' (api, threads)" >&2; exit 2; }

tools/deps.sh fuzz >/dev/null || exit $?
work=${AFL_WORK:-/tmp/lite_malloc_afl}
CC=${CC:-afl-clang-fast}
CXX=${CXX:-afl-clang-fast++}
obj=$work/obj-$target
mkdir -p "$obj"

# The core, with the flags it always needs (lite_malloc/options.bzl,
# LITE_CORE_COPTS); the harness; the standalone main with its AFL loop.
common=(-O2 -g -pthread -I.)
core_flags=(-std=gnu11 -fvisibility=hidden -ftls-model=initial-exec -fno-builtin-malloc
  -fno-builtin-free -Ilite_malloc)
objects=()
for src in lite_malloc/*.c; do
  [[ $(basename "$src") == override_* ]] && continue
  out=$obj/$(basename "$src" .c).o
  "$CC" "${common[@]}" "${core_flags[@]}" -c "$src" -o "$out"
  objects+=("$out")
done
for src in fuzz/harness.cc fuzz/ops.cc fuzz/shadow.cc fuzz/standalone_main.cc \
           "fuzz/${target}_fuzzer.cc"; do
  out=$obj/$(basename "$src" .cc).o
  "$CXX" "${common[@]}" -std=c++17 -c "$src" -o "$out"
  objects+=("$out")
done
"$CXX" "${common[@]}" -o "$work/$target" "${objects[@]}"
echo "afl.sh: built $work/$target"

if [[ $command == run ]]; then
  # A shared machine: no CPU frequency checks, no pinning to a core.
  export AFL_SKIP_CPUFREQ=${AFL_SKIP_CPUFREQ:-1}
  export AFL_NO_AFFINITY=${AFL_NO_AFFINITY:-1}
  export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=${AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES:-1}
  exec afl-fuzz -i "fuzz/corpus/$target" -o "$work/out-$target" -m none "$@" -- "$work/$target"
fi
