#!/usr/bin/env bash
# Builds and runs the tests: the README's test command.
#
#   tools/test.sh [--no-sanitizers] [--no-consumer] [--no-cross] [BAZEL_FLAGS...] [TARGETS...]
#                 [-- TARGETS...]
#
#   tools/test.sh                          # every test, the consumer workspace,
#                                          # the AArch64 pass, then the core
#                                          # tests under ASan+UBSan and TSan
#   tools/test.sh --no-sanitizers          # every test, the consumer workspace
#                                          # and the AArch64 pass
#   tools/test.sh --config=asan            # every test, under AddressSanitizer
#   tools/test.sh //testing:api_test       # some tests
#   tools/test.sh -- //... -//fuzz/...     # everything but the fuzz targets
#
# Arguments starting with // or @, and all arguments after --, are target
# patterns (default //...); the others are passed to `bazel test` as flags.
#
# Without target patterns and without a --config flag, more passes follow the
# plain `bazel test //...`:
# - the consumer pass (unless --no-consumer): testing/consumer/run.sh builds
#   and tests testing/consumer, a separate workspace that depends on this one
#   with local_repository, in fastbuild, opt and dbg, with BAZEL_FLAGS. A pass
#   of its own, not a test of this workspace: run.sh says why.
# - the AArch64 pass (unless --no-cross): testing/cross/run.sh cross-builds
#   the library, the suites of testing/, the stress test and the fuzz corpus
#   replays with aarch64-linux-gnu-gcc (make, not Bazel) and runs them under
#   qemu-aarch64. It prints summaries in bazel's format, counted the same way.
# - the core tests (SANITIZER_TARGETS below: the suites of testing/, the fuzz
#   corpus replays and smoke runs, the stress test) under --config=asan
#   --config=ubsan, and under --config=tsan (unless --no-sanitizers). Tests
#   tagged "no-sanitizer" (they replace the process's malloc, which no
#   sanitizer allows) are left out of both, tests tagged "no-tsan" out of the
#   TSan pass.
#
# Installs missing packages first (tools/deps.sh test), runs the tests with
# --keep_going so every failure is reported, and ends with the line
#
#   N passed, N failed
#
# counted from bazel's test summaries of all passes, the consumer's included
# (a failed build with no test result counts as 1 failed). Exits with the
# first failing pass's bazel status, except that "no test targets found"
# (bazel's 4) counts as success. Leaves this workspace's Bazel server running
# (.ci/run stops it); the consumer pass stops its own.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

tools/deps.sh test || exit $?

# The core tests, for the sanitizer passes.
SANITIZER_TARGETS=(//testing/... //fuzz/... -//testing/modes/... -//testing/programs/...)

flags=()
targets=()
sanitizers=1
consumer=1
cross=1
after_dashdash=0
for arg in "$@"; do
  if [[ $after_dashdash -eq 1 ]]; then
    targets+=("$arg")
  elif [[ "$arg" == "--" ]]; then
    after_dashdash=1
  elif [[ "$arg" == "--no-sanitizers" ]]; then
    sanitizers=0
  elif [[ "$arg" == "--no-consumer" ]]; then
    consumer=0
  elif [[ "$arg" == "--no-cross" ]]; then
    cross=0
  elif [[ "$arg" == //* || "$arg" == @* ]]; then
    targets+=("$arg")
  else
    # Configs are ours (.bazelrc), which the consumer workspace does not read.
    [[ "$arg" == --config=* ]] && sanitizers=0 consumer=0 cross=0
    flags+=("$arg")
  fi
done
if [[ ${#targets[@]} -gt 0 ]]; then
  sanitizers=0 consumer=0 cross=0
else
  targets=(//...)
fi

log="$(mktemp "${TMPDIR:-/tmp}/lite_malloc_test.XXXXXX")"
trap 'rm -f "$log"' EXIT

total_passed=0
total_failed=0
final_status=0
summaries=()

# run_pass NAME COMMAND...: one `bazel test` (or a script that runs some),
# counted from the test summaries it prints.
run_pass() {
  local name=$1
  shift
  echo "tools/test.sh: === $name: $* ==="
  "$@" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}

  # One summary line per test target, e.g.
  #   //testing:api_test                  (cached) PASSED in 0.4s
  #   //testing:stress_test               FAILED TO BUILD
  # and the totals (all that --test_summary=terse gives for passing tests):
  #   Executed 2 out of 3 tests: 1 test passes, 1 fails to build and 1 fails locally.
  local passed failed
  read -r passed failed < <(
    sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r$//' "$log" | awk '
      /^(\/\/|@)[^ ]+ +(\(cached\) +)?(PASSED|FLAKY)/ { p++; next }
      /^(\/\/|@)[^ ]+ +(\(cached\) +)?(FAILED|TIMEOUT|INCOMPLETE|REMOTE FAILURE|NO STATUS)/ { f++; next }
      /^Executed [0-9]+ out of [0-9]+ tests?:/ {
        line = $0; sub(/^[^:]*: */, "", line); gsub(/ and /, ", ", line); gsub(/\.$/, "", line)
        n = split(line, parts, /, */)
        for (i = 1; i <= n; i++) {
          split(parts[i], w, " ")
          if (parts[i] ~ /pass/) ep += w[1]
          else if (parts[i] ~ /fail/) ef += w[1]
        }
      }
      END {
        # --test_summary=terse lists failed targets only: take the larger counts.
        if (ep > p) p = ep
        if (ef > f) f = ef
        print p + 0, f + 0
      }'
  )

  case $status in
    0) ;;
    4) echo "tools/test.sh: $name: no test targets found."
       status=0 ;;
    *) if [[ $failed -eq 0 ]]; then
         echo "tools/test.sh: bazel test exited with status $status and no test failed: counting the build as 1 failure."
         failed=1
       fi ;;
  esac
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  [[ $final_status -ne 0 ]] || final_status=$status
  summaries+=("$name: $passed passed, $failed failed")
}

run_pass "plain" bazel test --keep_going "${flags[@]}" -- "${targets[@]}"
if [[ $consumer -eq 1 ]]; then
  run_pass "consumer" testing/consumer/run.sh "${flags[@]}"
fi
if [[ $cross -eq 1 ]]; then
  run_pass "aarch64" testing/cross/run.sh
fi
if [[ $sanitizers -eq 1 ]]; then
  run_pass "asan+ubsan" bazel test --keep_going "${flags[@]}" --config=asan --config=ubsan \
    --build_tests_only --test_tag_filters=-no-sanitizer -- "${SANITIZER_TARGETS[@]}"
  run_pass "tsan" bazel test --keep_going "${flags[@]}" --config=tsan --build_tests_only \
    --test_tag_filters=-no-sanitizer,-no-tsan -- "${SANITIZER_TARGETS[@]}"
fi
[[ ${#summaries[@]} -lt 2 ]] || printf 'tools/test.sh: %s\n' "${summaries[@]}"
echo "$total_passed passed, $total_failed failed"
exit "$final_status"
