#!/usr/bin/env bash
# The consumer's binary runs, and holds the code this repository tests and
# benchmarks: every function of lite_malloc in it (the core's lite_* functions,
# the C++ operators) has the same size as in this repository's own build of
# liblite-malloc-shared.so, whatever the consumer's compilation mode. Built
# without lite_malloc's copts they differ: at the consumer's -O0, say, or as
# position-dependent code (-c opt compiles an executable's objects as PIE, and
# gcc then inlines calls that PIC code makes through the PLT).
#
#   same_code_test.sh SERVER    with REFERENCE_SO=<that .so> and, optionally,
#                               REFERENCE_SO_SHA256=<its hash>, which
#                               testing/consumer/run.sh passes with --test_env
set -euo pipefail
server="$1"
# Not LITE_MALLOC_*: lite_malloc warns about variables of that name it does not know.
reference="${REFERENCE_SO:?run me through testing/consumer/run.sh, or with
  --test_env=REFERENCE_SO=<lite_malloc checkout>/bazel-bin/lite_malloc/liblite-malloc-shared.so}"
if [[ -n "${REFERENCE_SO_SHA256:-}" ]]; then
  [[ "$(sha256sum "$reference" | cut -d' ' -f1)" == "$REFERENCE_SO_SHA256" ]] ||
    { echo "FAIL $reference changed since run.sh hashed it"; exit 1; }
fi

out="$("$server")"
[[ "$out" == "malloc is lite_malloc's" ]] || { echo "FAIL server printed: $out"; exit 1; }
echo "ok   server: $out"

# "name size" of each function of lite_malloc's in a binary, sorted.
functions() {
  nm -S --defined-only "$1" |
    awk 'NF == 4 && $3 ~ /^[tTwW]$/ && ($4 ~ /lite_/ || $4 ~ /^_Z(nw|na|dl|da)/) { print $4, $2 }' |
    sort
}
functions "$reference" >"$TEST_TMPDIR/reference"
functions "$server" >"$TEST_TMPDIR/server"

# Every function the server holds, with its size, is the reference's (the
# linker may leave out some that nothing calls, as -c opt's --gc-sections does).
count=$(wc -l <"$TEST_TMPDIR/server")
differ="$(comm -23 "$TEST_TMPDIR/server" "$TEST_TMPDIR/reference")"
if [[ -n "$differ" ]]; then
  echo "FAIL functions whose size is not the reference's (name, size in hex):"
  echo "$differ"
  echo "reference:"
  grep -F -f <(cut -d' ' -f1 <<<"$differ") "$TEST_TMPDIR/reference" || true
  exit 1
fi
for name in lite_malloc lite_free lite_realloc lite_memalign; do
  grep -q "^$name " "$TEST_TMPDIR/server" || { echo "FAIL $name is not in the server"; exit 1; }
done
(( count >= 100 )) || { echo "FAIL only $count functions of lite_malloc in the server"; exit 1; }
bytes=0
while read -r name size; do bytes=$((bytes + 16#$size)); done <"$TEST_TMPDIR/server"
echo "ok   $count functions ($bytes bytes) of lite_malloc, each the size it has in $reference"
grep -E "^(lite_malloc|lite_free) " "$TEST_TMPDIR/server" | while read -r name size; do
  echo "       $name: $((16#$size)) bytes"
done
echo PASSED
