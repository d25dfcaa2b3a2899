#!/usr/bin/env bash
# Runs one of the benchmark's Python scripts with python3, from the runfiles
# tree that `bazel run` / `bazel test` start in:
#
#   run.sh SCRIPT [ARGS...]
#
# An sh_binary rather than a py_binary: Bazel 4's py_binary stub starts with
# `#!/usr/bin/env python`, and Debian 12 has only python3.
set -euo pipefail
script="$1"
shift
exec python3 "$script" "$@"
