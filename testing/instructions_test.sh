#!/usr/bin/env bash
# The fast paths' cost, in instructions: callgrind counts, which are exact and
# repeatable, for one malloc+free pair of the benchmark's `loop` workload (the
# same measurement as tools/bench.sh --callgrind: the difference between
# 200000 and 100000 iterations, divided by 100000) with the preload library.
# A `churn` line counts one step of the benchmark's churn workload the same
# way (2 M against 1 M steps, divided by 1 M: a free and a malloc of random
# sizes with the workload's own fill and check), which catches frees that
# leave the fast path in a program with many nearly full pages.
# Fails when a line costs more than testing/instructions.golden says; one that
# costs less passes and asks for the golden file to be lowered.
#
#   instructions_test.sh LIBRARY WORKLOADS GOLDEN
set -euo pipefail
so="$1" workloads="$2" golden="$3"
command -v valgrind >/dev/null || { echo "FAIL valgrind is missing (tools/deps.sh test)"; exit 1; }

count() { # workload scale [arg] -> instructions of the whole run
  LD_PRELOAD="$PWD/$so" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$workloads" "$@" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

status=0
while read -r size want; do
  [[ -z "$size" || "$size" == \#* ]] && continue
  if [[ "$size" == churn ]]; then
    what="churn" unit="per step" steps=1000000
    low="$(count churn 0.1)" high="$(count churn 0.2)"
  else
    what="$size bytes" unit="per pair" steps=100000
    low="$(count loop 1 "$size")" high="$(count loop 2 "$size")"
  fi
  [[ -n "$low" && -n "$high" ]] || { echo "FAIL $what: callgrind gave no count"; status=1; continue; }
  got=$(( (high - low + steps / 2) / steps ))
  if (( got > want )); then
    echo "FAIL $what: $got instructions $unit, golden $want"
    status=1
  elif (( got < want )); then
    echo "ok   $what: $got instructions $unit, golden $want: lower it in $golden"
  else
    echo "ok   $what: $got instructions $unit"
  fi
done <"$golden"
exit "$status"
