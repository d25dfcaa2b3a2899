#!/usr/bin/env bash
# Builds and runs the tests: the README's test command.
#
#   tools/test.sh [BAZEL_FLAGS...] [TARGETS...] [-- TARGETS...]
#
#   tools/test.sh                          # every test: bazel test //...
#   tools/test.sh --config=asan            # every test, under AddressSanitizer
#   tools/test.sh //testing:api_test       # some tests
#   tools/test.sh -- //... -//fuzz/...     # everything but the fuzz targets
#
# Arguments starting with // or @, and all arguments after --, are target
# patterns (default //...); the others are passed to `bazel test` as flags.
# Installs missing packages first (tools/deps.sh test), runs the tests with
# --keep_going so every failure is reported, and ends with the line
#
#   N passed, N failed
#
# counted from bazel's test summary (a failed build with no test result counts
# as 1 failed). Exits with bazel's status, except that "no test targets found"
# (bazel's 4) exits 0. Leaves the Bazel server running (.ci/run stops it).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

tools/deps.sh test || exit $?

flags=()
targets=()
after_dashdash=0
for arg in "$@"; do
  if [[ $after_dashdash -eq 1 ]]; then
    targets+=("$arg")
  elif [[ "$arg" == "--" ]]; then
    after_dashdash=1
  elif [[ "$arg" == //* || "$arg" == @* ]]; then
    targets+=("$arg")
  else
    flags+=("$arg")
  fi
done
[[ ${#targets[@]} -gt 0 ]] || targets=(//...)

log="$(mktemp "${TMPDIR:-/tmp}/lite_malloc_test.XXXXXX")"
trap 'rm -f "$log"' EXIT

bazel test --keep_going "${flags[@]}" -- "${targets[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# One summary line per test target, e.g.
#   //testing:api_test                  (cached) PASSED in 0.4s
#   //testing:stress_test               FAILED TO BUILD
# and the totals (all that --test_summary=terse gives for passing tests):
#   Executed 2 out of 3 tests: 1 test passes, 1 fails to build and 1 fails locally.
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
  4) echo "tools/test.sh: no test targets found in ${targets[*]}."
     status=0 ;;
  *) if [[ $failed -eq 0 ]]; then
       echo "tools/test.sh: bazel test exited with status $status and no test failed: counting the build as 1 failure."
       failed=1
     fi ;;
esac
echo "$passed passed, $failed failed"
exit "$status"
