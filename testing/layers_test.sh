#!/usr/bin/env bash
# The core's files call only downward. Each object of the core archive is
# placed in a layer below; a symbol one object uses must be defined in its own
# layer or a lower one. Upper layers hand their caches down by registration
# only (REGISTERED below: tables defined above, read below). A new file must be
# given a layer here.
#
#   0 primitives   os diag options hardened stack version
#   1 segments     segment decay background  (reclamation's one owner)
#   2 large blocks large
#   3 pages        page remote handle twice
#   4 fronts       front reclaim
#   5 entry points alloc fork process stats
set -euo pipefail
archive="$1"
declare -A LAYER=(
  [os]=0 [diag]=0 [options]=0 [hardened]=0 [stack]=0 [version]=0
  [segment]=1 [decay]=1 [background]=1
  [large]=2
  [page]=3 [remote]=3 [handle]=3 [twice]=3
  [front]=4 [reclaim]=4
  [alloc]=5 [fork]=5 [process]=5 [stats]=5 [test_hooks]=5
)
REGISTERED=" lite_release_sources "
NM="${NM:-nm}"

defs="$TEST_TMPDIR/defs" uses="$TEST_TMPDIR/uses"
# "member symbol" lines: what each object defines and what it needs.
"$NM" --defined-only -A "$archive" | awk '$(NF-1) ~ /^[TDBRCVW]$/ { split($1, m, ":"); print m[2], $NF }' >"$defs"
"$NM" -u -A "$archive" | awk '{ split($1, m, ":"); print m[2], $NF }' >"$uses"
[[ -s $defs ]] || { echo "FAIL no symbols read from $archive"; exit 1; }

status=0 edges=0
for member in $(cut -d' ' -f1 "$defs" "$uses" | sort -u); do
  name="${member%%.*}"
  if [[ -z ${LAYER[$name]+x} ]]; then
    echo "FAIL $member is in no layer: give it one in testing/layers_test.sh"
    status=1
  fi
done
((status == 0)) || exit 1

while read -r user symbol; do
  definer="$(awk -v s="$symbol" '$2 == s { print $1; exit }' "$defs")"
  [[ -n $definer && $definer != "$user" ]] || continue
  u="${user%%.*}" d="${definer%%.*}"
  edges=$((edges + 1))
  if ((LAYER[$d] > LAYER[$u])) && [[ $REGISTERED != *" $symbol "* ]]; then
    echo "FAIL $u (layer ${LAYER[$u]}) calls up into $d (layer ${LAYER[$d]}): $symbol"
    status=1
  fi
done <"$uses"
((status == 0)) || exit 1
echo "PASSED: $edges uses between the core's objects, none upward"
