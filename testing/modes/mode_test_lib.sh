# Sourced by the usage-mode tests: runs them from the root of their runfiles,
# where the workspace's files sit at their repository paths (lite_malloc/...,
# testing/modes/...), and gives them a scratch directory and a compiler.
#
#   source testing/modes/mode_test_lib.sh
#   mode_cc -o "$SCRATCH/app" testing/modes/mode_probe.c ...
#
# Each test compiles mode_probe.c with the README's own command line for its
# mode, against the library Bazel built, and runs it.
set -euo pipefail

cd "${TEST_SRCDIR:?run me with bazel test}/${TEST_WORKSPACE:?}"
SCRATCH="${TEST_TMPDIR:?}"
CC="${CC:-cc}"

# Prints and runs a command, so a failing test log shows exactly what ran.
run() {
  echo "+ $*" >&2
  "$@"
}

# The probe's sources include "testing/modes/probe.h" and
# "lite_malloc/lite_malloc.h" from the workspace root.
mode_cc() {
  run "$CC" -O2 -I. "$@"
}

# Copies what the root Makefile builds from into directory $1, for make to
# write into (the runfiles tree is read-only). tools/lite-run too, when the
# test has it (make install installs it).
copy_sources() {
  mkdir -p "$1/lite_malloc" "$1/tools"
  cp Makefile "$1/"
  cp lite_malloc/*.c lite_malloc/*.cc lite_malloc/*.h lite_malloc/*.inc "$1/lite_malloc/"
  if [[ -f tools/lite-run ]]; then cp tools/lite-run "$1/tools/"; fi
}

# The flags of mode 1 (-Wl,--wrap,NAME) and mode 5 (-Wl,--defsym=NAME=__wrap_NAME),
# for the seven names the original lockfree-malloc README lists.
WRAPPED=(malloc free calloc realloc memalign valloc posix_memalign)
WRAP_FLAGS=()
DEFSYM_FLAGS=()
for name in "${WRAPPED[@]}"; do
  WRAP_FLAGS+=("-Wl,--wrap,$name")
  DEFSYM_FLAGS+=("-Wl,--defsym=$name=__wrap_$name")
done
