#!/usr/bin/env bash
# The background purger on AArch64 (run.sh): with LITE_MALLOC_BACKGROUND=1, a
# program that frees everything and then makes no call at all gets its free
# memory back from lite_malloc's own thread, started with a raw clone. As
# //testing/faults:runtime_options_test checks it on the host.
#
#   background_check.sh FAULT_HELPER     (an AArch64 build, run under qemu-aarch64)
set -uo pipefail
qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
out="$(LITE_MALLOC_BACKGROUND=1 "${qemu[@]}" "$1" quiet 1500)" || { echo "fault_helper failed"; exit 1; }
echo "$out"
value() { sed -n "s/^$1=//p" <<<"$out"; }
status=0
[[ $(value background_ticks) -gt 0 ]] || { echo "FAIL: the background thread ran no tick"; status=1; }
[[ $(value cached_after_quiet) -eq 0 ]] || { echo "FAIL: large mappings still cached"; status=1; }
[[ $(value dirty_after_quiet) -eq 0 ]] || { echo "FAIL: free slices not purged"; status=1; }
exit "$status"
