#!/usr/bin/env bash
# Builds and tests testing/consumer, a workspace that depends on this one as
# any other project would, in each compilation mode: fastbuild, opt, dbg.
#
#   testing/consumer/run.sh [BAZEL_FLAGS...]      (tools/test.sh runs it)
#
# A separate `bazel` invocation, not a test of this workspace: a nested bazel
# inside a sandboxed test would need its own HOME, output base and cache, and
# would build lite_malloc from nothing every time. Here the consumer has its
# own Bazel server and output base (Bazel's default for its directory, kept
# between runs, so a second run is cached) and reads none of our .bazelrc;
# the flags below are what any Debian user may type, not settings of ours.
#
# Its same_code_test compares the consumer's binary with this workspace's
# liblite-malloc-shared.so, which this script builds first (with
# BAZEL_FLAGS and our .bazelrc: the build that the tests and the benchmark
# use). The consumer's server is shut down at the end. Prints bazel's test
# summaries, which tools/test.sh counts; exits with the first failing status.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

bazel build "$@" //lite_malloc:liblite-malloc-shared.so || exit
reference="$(bazel info "$@" bazel-bin)/lite_malloc/liblite-malloc-shared.so"
# Its hash goes into the test's environment, and so into the key of its cached
# result: a new reference runs the comparison again.
reference_sha256="$(sha256sum "$reference" | cut -d' ' -f1)"

cd testing/consumer || exit 1
trap 'bazel shutdown' EXIT
status=0
for mode in fastbuild opt dbg; do
  echo "testing/consumer/run.sh: --- compilation mode $mode ---"
  # --experimental_repository_disable_download: fail at once, should anything
  # ever be fetched. --nosandbox_debug: Debian's /etc/bazel/bazelrc turns it on.
  bazel test --compilation_mode="$mode" --keep_going --nosandbox_debug \
    --experimental_repository_disable_download --test_env=REFERENCE_SO="$reference" \
    --test_env=REFERENCE_SO_SHA256="$reference_sha256" "$@" //... ||
    { s=$?; [[ $status -ne 0 ]] || status=$s; }
done
exit "$status"
