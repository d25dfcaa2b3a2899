#!/usr/bin/env bash
# The fast paths' cost, in instructions: callgrind counts, which are exact and
# repeatable, for one malloc+free pair of the benchmark's `loop` workload (the
# same measurement as tools/bench.sh --callgrind: the difference between
# 200000 and 100000 iterations, divided by 100000) with the preload library.
# Fails when a size costs more than testing/instructions.golden says; a size
# that costs less passes and asks for the golden file to be lowered.
#
#   instructions_test.sh LIBRARY WORKLOADS GOLDEN
set -euo pipefail
so="$1" workloads="$2" golden="$3"
command -v valgrind >/dev/null || { echo "FAIL valgrind is missing (tools/deps.sh test)"; exit 1; }

count() { # size iterations-scale -> instructions of the whole run
  LD_PRELOAD="$PWD/$so" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$workloads" loop "$2" "$1" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

status=0
while read -r size want; do
  [[ -z "$size" || "$size" == \#* ]] && continue
  low="$(count "$size" 1)" high="$(count "$size" 2)"
  [[ -n "$low" && -n "$high" ]] || { echo "FAIL $size bytes: callgrind gave no count"; status=1; continue; }
  got=$(( (high - low + 50000) / 100000 ))
  if (( got > want )); then
    echo "FAIL $size bytes: $got instructions per pair, golden $want"
    status=1
  elif (( got < want )); then
    echo "ok   $size bytes: $got instructions per pair, golden $want: lower it in $golden"
  else
    echo "ok   $size bytes: $got instructions per pair"
  fi
done <"$golden"
exit "$status"
