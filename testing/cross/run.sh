#!/usr/bin/env bash
# The AArch64 pass: cross-builds lite_malloc and its tests with Debian's
# aarch64-linux-gnu toolchain and runs them under qemu-aarch64 (user-mode
# emulation) on this x86-64 machine.
#
#   testing/cross/run.sh [-jN]            (tools/test.sh runs it; default -j2)
#
# What it builds (testing/cross/Makefile): the root Makefile's libraries with
# CC=aarch64-linux-gnu-gcc, once per variant (default, engines4, page16k,
# page64k, hardened), GoogleTest from /usr/src/googletest, and against them
# the GoogleTest suites of testing/ (the four that depend on the page size
# also at 16 and 64 KiB pages), the stress test, the fuzz corpus replays of
# both targets with four cores (default, hardened, 16 and 64 KiB pages), and
# fault_helper, which checks that the background thread (a raw clone, with
# AArch64's thread pointer) returns the memory of a quiet program.
#
# What qemu-user cannot show, so not run here: it ignores RLIMIT_AS
# (memory_return's AddressSpace.* tests); it keeps bookkeeping for every page
# of a guest mapping, so 1 and 16 TiB blocks cost gigabytes and minutes of its
# own (owns_test's two Tebibyte tests); it is too slow for rounds of realloc
# to stay within the purge delay (Realloc.GrowingBuffersReuseFreedMappings,
# skipped under ThreadSanitizer for the same reason); it never frees what it
# keeps for each thread (about 300 KiB), so the threads corpus is replayed in
# part (below). Nor can it show a missing
# memory order: it runs the guest's loads and stores as the host's, in x86
# order, so this pass checks the system calls, the raw clone, the atomics'
# code and the protocols' logic on AArch64, not their ordering on real
# hardware.
#
# Prints one summary line per program, as bazel does
#
#   //testing/cross:malloc_basic_test                    PASSED in 0.5s
#
# and the totals line "Executed N out of N tests: ...", which tools/test.sh
# counts. Logs go to build-aarch64/logs/. Exits 1 if anything failed to build
# or run, 0 otherwise.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

jobs=2
for arg in "$@"; do
  case "$arg" in
    -j*) jobs="${arg#-j}" ;;
    *) echo "run.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

CROSS=aarch64-linux-gnu
B=build-aarch64
QEMU=(qemu-aarch64 -L "/usr/$CROSS")
for tool in "$CROSS-gcc" "$CROSS-g++" qemu-aarch64; do
  if ! command -v "$tool" >/dev/null; then
    echo "run.sh: $tool is missing: tools/deps.sh cross installs it" >&2
    exit 1
  fi
done

start=$SECONDS
echo "testing/cross/run.sh: building for AArch64 in $B/"
if ! make -f testing/cross/Makefile -j"$jobs" B="$B" >"$B.build.log" 2>&1; then
  tail -n 40 "$B.build.log"
  echo "//testing/cross:build                                             FAILED TO BUILD"
  echo "Executed 0 out of 1 test: 1 fails to build."
  exit 1
fi
mv "$B.build.log" "$B/build.log"
echo "testing/cross/run.sh: built in $((SECONDS - start)) s"

# name, then the program and its arguments (relative to the repository).
tests=()
add() { tests+=("$*"); }
for t in "$B"/bin/*_test; do
  name="$(basename "$t")"
  case "$name" in
    memory_return*) add "$name" "$t" "--gtest_filter=-AddressSpace.*" ;;
    owns_test) add "$name" "$t" \
      --gtest_filter=-Owns.TebibyteBlockLeavesNothingResident:Owns.HugeBlocksLeaveNoMapTablesBehind ;;
    realloc*) add "$name" "$t" --gtest_filter=-Realloc.GrowingBuffersReuseFreedMappings ;;
    *) add "$name" "$t" ;;
  esac
done
add stress_test "$B/bin/stress" --seconds=3 --threads=8
# The threads corpus: its named inputs and the first 16 of coverage/ (qemu
# keeps some 300 KiB for every thread that ever ran, and each input starts
# dozens: the whole corpus would take it past 10 GiB).
threads_inputs="$(ls -d fuzz/corpus/threads/* | grep -v /coverage$)
$(ls fuzz/corpus/threads/coverage/* | head -n 16)"
for core in default hardened page16k page64k; do
  suffix="_$core"
  [[ $core == default ]] && suffix=""
  add "api_corpus${suffix}_test" "$B/bin/api_fuzzer_$core" fuzz/corpus/api
  add "threads_corpus${suffix}_test" "$B/bin/threads_fuzzer_$core" $threads_inputs
done
add background_test testing/cross/background_check.sh "$B/bin/fault_helper"

mkdir -p "$B/logs"
# run_one NAME PROGRAM ARGS...: runs it under qemu, prints its summary line.
run_one() {
  local name=$1
  shift
  local log="$B/logs/$name.log" t0=$SECONDS status
  if [[ $1 == *.sh ]]; then
    timeout 300 "$@" >"$log" 2>&1
  else
    timeout 300 "${QEMU[@]}" "$@" >"$log" 2>&1
  fi
  status=$?
  local verdict=PASSED
  [[ $status -eq 0 ]] || verdict=FAILED
  [[ $status -eq 124 ]] && verdict=TIMEOUT
  printf '%-60s %s in %ss\n' "//testing/cross:$name" "$verdict" "$((SECONDS - t0))"
  if [[ $status -ne 0 ]]; then
    tail -n 30 "$log" | sed 's/^/    /'
    return 1
  fi
}

passed=0 failed=0
declare -A running=()
reap() {
  local pid
  wait -n -p pid
  local status=$?
  [[ $status -eq 0 ]] && passed=$((passed + 1)) || failed=$((failed + 1))
  unset "running[$pid]"
}
for entry in "${tests[@]}"; do
  read -r -a words <<<"$entry"
  while [[ ${#running[@]} -ge $jobs ]]; do reap; done
  run_one "${words[@]}" &
  running[$!]=1
done
while [[ ${#running[@]} -gt 0 ]]; do reap; done

total=$((passed + failed))
echo "testing/cross/run.sh: AArch64 under qemu, $((SECONDS - start)) s in all"
echo "Executed $total out of $total tests: $passed tests pass and $failed fail locally."
[[ $failed -eq 0 ]]
