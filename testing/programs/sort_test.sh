#!/usr/bin/env bash
# sort (coreutils) under lite_malloc: 1,000,000 generated lines (about 30 MB),
# sorted with two threads (--parallel=2) in several ways, and merged.
source testing/programs/programs_lib.sh
need sort coreutils

awk 'BEGIN {
  x = 12345
  for (i = 0; i < 1000000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648
    printf "%d %s-%d %x\n", x % 100000, substr("kiwi apple mango pear plum fig lime", 1 + x % 30, 5), i, x
  }
}' >"$SCRATCH/lines"

sort_all() {
  sort --parallel=2 -S 64M "$SCRATCH/lines" | md5sum
  sort --parallel=2 -S 16M -n -k1,1 -k3,3 "$SCRATCH/lines" | md5sum
  sort --parallel=2 -u -t' ' -k2,2 "$SCRATCH/lines" | md5sum
  sort --parallel=2 -S 8M -T "$SCRATCH" -k4,4 -o "$SCRATCH/by_hex" "$SCRATCH/lines"
  sort -m -k4,4 "$SCRATCH/by_hex" "$SCRATCH/by_hex" | tail -3
}
same_output sort -- sort_all
echo PASSED
