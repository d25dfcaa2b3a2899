#!/usr/bin/env bash
# Stand-in for CoverageOutputGenerator's LcovMerger: concatenates every lcov
# tracefile (*.dat) under --coverage_dir into --output_file. Other flags
# (--filter_sources, --source_file_manifest, ...) are accepted and ignored.
set -euo pipefail
coverage_dir=""
output_file=""
for arg in "$@"; do
  case "$arg" in
    --coverage_dir=*) coverage_dir="${arg#*=}" ;;
    --output_file=*) output_file="${arg#*=}" ;;
  esac
done
if [[ -z "$output_file" ]]; then
  echo "lcov_merger: --output_file is required" >&2
  exit 1
fi
tmp="$(mktemp)"
if [[ -n "$coverage_dir" && -d "$coverage_dir" ]]; then
  find "$coverage_dir" -type f -name '*.dat' ! -samefile "$output_file" \
    -exec cat {} + >"$tmp" 2>/dev/null || true
fi
mv "$tmp" "$output_file"
