# Sourced by the real-program tests: runs a program twice, without and with
# liblite-malloc-shared.so preloaded, and checks that the two runs agree.
#
#   source testing/programs/programs_lib.sh
#   need sqlite3 sqlite3                 # skip (pass, with a message) if missing
#   same_output NAME -- COMMAND [ARGS...] # stdout and exit status must match
#
# The preloaded run also preloads libwitness.so, which records for every
# process whether malloc was lite_malloc's and how many allocations it made:
# every process must say owned=1, and together they must have allocated.
set -euo pipefail

cd "${TEST_SRCDIR:?run me with bazel test}/${TEST_WORKSPACE:?}"
SCRATCH="${TEST_TMPDIR:?}"
SO="$PWD/lite_malloc/liblite-malloc-shared.so"
WITNESS="$PWD/testing/programs/libwitness.so"
export HOME="$SCRATCH" LC_ALL=C

# need PROGRAM PACKAGE: skips the test, passing, when PROGRAM is not installed.
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "SKIPPED: $1 is not installed (Debian package $2; tools/deps.sh test installs it)"
    exit 0
  fi
}

# same_output NAME -- COMMAND...: runs COMMAND without lite_malloc, then with it.
same_output() {
  local name="$1"
  shift 2
  local base="$SCRATCH/$name"
  local status_glibc=0 status_lite=0
  echo "+ $*"
  "$@" >"$base.glibc.out" 2>"$base.glibc.err" || status_glibc=$?
  rm -f "$base.witness"
  LD_PRELOAD="$SO:$WITNESS" LITE_WITNESS_FILE="$base.witness" "$@" >"$base.lite.out" \
    2>"$base.lite.err" || status_lite=$?
  if [[ $status_glibc != "$status_lite" ]]; then
    echo "FAIL $name: exit status $status_glibc without lite_malloc, $status_lite with it"
    tail -20 "$base.lite.err"
    exit 1
  fi
  if ! cmp -s "$base.glibc.out" "$base.lite.out"; then
    echo "FAIL $name: the output differs with lite_malloc"
    diff "$base.glibc.out" "$base.lite.out" | head -20
    exit 1
  fi
  local processes foreign allocations
  processes="$(wc -l <"$base.witness" 2>/dev/null || echo 0)"
  foreign="$(grep -c "owned=0" "$base.witness" || true)"
  allocations="$(awk -F'allocations=' '{ n += $2 } END { print n + 0 }' "$base.witness" 2>/dev/null)"
  if [[ $processes -eq 0 || $foreign -ne 0 || $allocations -eq 0 ]]; then
    echo "FAIL $name: $processes processes, $foreign without lite_malloc, $allocations allocations"
    exit 1
  fi
  echo "ok   $name: same output ($(wc -l <"$base.lite.out") lines) and status ($status_lite);" \
    "$processes processes, all on lite_malloc, $allocations allocations"
}
