#!/usr/bin/env bash
# The README's main command: installs what is missing, builds lite_malloc and
# runs it in a real program. (The benchmark against the other allocators lands
# with its own issue and replaces the demo here.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tools/deps.sh build
bazel run -c opt //tools:demo -- "$@"
