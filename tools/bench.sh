#!/usr/bin/env bash
# The README's main command: the benchmark of lite_malloc against glibc,
# jemalloc, tcmalloc, mimalloc and tbbmalloc. Installs the Debian packages that
# are missing (tools/deps.sh bench), then runs `bazel run //tools:bench`, which
# builds lite_malloc and the workloads, passing the arguments through:
#
#   tools/bench.sh              # the full run (about 10 minutes on 2 cores)
#   tools/bench.sh --quick      # a reduced run, under 2 minutes
#   tools/bench.sh --callgrind  # instructions per malloc+free pair
#   tools/bench.sh --help       # every option
#
# Results go to bench-results/: results.{json,md,svg}, callgrind.{json,md}.
# An allocator whose package cannot be installed is reported as missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tools/deps.sh build
tools/deps.sh bench ||
  echo "bench.sh: some packages could not be installed; the benchmark reports them as missing" >&2
exec bazel run //tools:bench -- "$@"
