#!/usr/bin/env bash
# tools/lite-run: runs an unmodified program with lite_malloc preloaded.
source testing/modes/mode_test_lib.sh

SO="$PWD/lite_malloc/liblite-malloc-shared.so"
run tools/lite-run --lib "$SO" -- testing/modes/mode_probe lite
run env LITE_MALLOC_LIB="$SO" tools/lite-run testing/modes/cxx_probe lite

# --stats: the statistics on stderr at exit; the program's output and status pass through.
run tools/lite-run --stats --lib "$SO" -- bash -c 'echo out; exit 3' >"$SCRATCH/out" 2>"$SCRATCH/err" &&
  status=0 || status=$?
[[ $status == 3 ]] || { echo "FAIL exit status $status, not 3"; exit 1; }
[[ "$(cat "$SCRATCH/out")" == out ]] || { echo "FAIL stdout:"; cat "$SCRATCH/out"; exit 1; }
grep -q "lite_malloc statistics" "$SCRATCH/err" || { echo "FAIL no statistics:"; cat "$SCRATCH/err"; exit 1; }
echo "ok   --stats prints the statistics; output and exit status pass through"

# An LD_PRELOAD already there is kept, after lite_malloc.
LD_PRELOAD=libm.so.6 run tools/lite-run --lib "$SO" -- sh -c 'echo "$LD_PRELOAD"' >"$SCRATCH/preload"
[[ "$(cat "$SCRATCH/preload")" == "$SO:libm.so.6" ]] || { echo "FAIL LD_PRELOAD: $(cat "$SCRATCH/preload")"; exit 1; }
echo "ok   an existing LD_PRELOAD is kept"

# Its own errors: exit status 2 and a message.
if tools/lite-run --lib "$SCRATCH/none.so" -- true 2>"$SCRATCH/err"; then
  echo "FAIL a missing library was accepted"; exit 1
fi
grep -q "no such file" "$SCRATCH/err" || { cat "$SCRATCH/err"; exit 1; }
echo "ok   a missing library is an error"
echo PASSED
