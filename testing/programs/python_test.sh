#!/usr/bin/env bash
# python3 under lite_malloc, with PYTHONMALLOC=malloc (every object a malloc'd
# block): a threaded workload, then part of Python's own regression tests.
source testing/programs/programs_lib.sh
need /usr/bin/python3 python3
PYTHON=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

# Start-up footprint: `python3 -c pass` under `ulimit -v`. Finds the smallest
# limit (KiB) under which it starts with glibc's malloc, then runs it with
# lite_malloc preloaded under that limit plus 16 MiB.
starts_under() {  # KIB [ENV...]
  local kib="$1"
  shift
  (ulimit -v "$kib" && exec env "$@" "$PYTHON" -c pass) >/dev/null 2>&1
}
low=1024 high=1048576
starts_under "$high" || { echo "FAIL python3 -c pass does not start under 1 GiB"; exit 1; }
while ((high - low > 64)); do
  mid=$(((low + high) / 2))
  if starts_under "$mid"; then high=$mid; else low=$mid; fi
done
limit=$((high + 16384))
if ! starts_under "$limit" LD_PRELOAD="$SO"; then
  echo "FAIL python3 -c pass needs ulimit -v $high KiB with glibc, more than $limit with lite_malloc"
  exit 1
fi
echo "ok   python3 -c pass starts under ulimit -v $limit KiB with lite_malloc (glibc needs $high)"

export PYTHONMALLOC=malloc

same_output workload -- "$PYTHON" testing/programs/python_workload.py

# Python's objects are lite_malloc's blocks (and glibc's without it).
"$PYTHON" testing/programs/python_workload.py --owner glibc >/dev/null
LD_PRELOAD="$SO" "$PYTHON" testing/programs/python_workload.py --owner lite >/dev/null
echo "ok   a Python bytes object is lite_malloc's block"

# Part of the regression suite (Debian package libpython3.11-testsuite).
if ! "$PYTHON" -c 'import test.test_dict' 2>/dev/null; then
  echo "SKIPPED: python3 -m test: no test_dict (Debian package libpython3.X-testsuite;" \
    "tools/deps.sh test installs it)"
  exit 0
fi
tests=(test_dict test_list test_threading)
# -w: a test that fails is run again, verbosely (timing tests can flake when
# the machine is busy); the result is SUCCESS if it passes then.
echo "+ $PYTHON -m test -w ${tests[*]}"
# The two runs mostly wait (test_threading sleeps): run them side by side. A
# background job starts with SIGINT ignored, which test_interrupt_main needs.
env --default-signal=INT "$PYTHON" -m test -w "${tests[@]}" >"$SCRATCH/regrtest.glibc" 2>&1 &
glibc_run=$!
status=0
LD_PRELOAD="$SO" "$PYTHON" -m test -w "${tests[@]}" >"$SCRATCH/regrtest.lite" 2>&1 || status=$?
glibc_status=0
wait "$glibc_run" || glibc_status=$?
grep -h "Tests result:" "$SCRATCH/regrtest.glibc" "$SCRATCH/regrtest.lite"
if [[ $status != 0 || $glibc_status != 0 ]]; then
  echo "FAIL python3 -m test: status $glibc_status without lite_malloc, $status with it"
  [[ $glibc_status == 0 ]] || tail -40 "$SCRATCH/regrtest.glibc"
  [[ $status == 0 ]] || tail -40 "$SCRATCH/regrtest.lite"
  exit 1
fi
echo "ok   python3 -m test ${tests[*]}: SUCCESS with and without lite_malloc"
echo PASSED
