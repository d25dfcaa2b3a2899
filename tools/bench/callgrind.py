"""Instruction counts per malloc+free pair, measured with callgrind.

For each allocator and size, runs the `loop` workload (N iterations of
malloc(size); free) under `valgrind --tool=callgrind` at two iteration counts,
100000 and 200000, and divides the difference in instructions executed by the
difference in iterations. Start-up, the first allocation's set-up and exit
cancel out; what is left is the steady-state cost of one pair, plus the loop's
own 4 or so instructions (the same for every allocator). The counts are exact
and repeatable, unlike times: use them to tune the fast path.
"""

import concurrent.futures
import json
import os
import re
import subprocess
import sys

SIZES = [16, 64, 256, 1024, 16384]
ITERATIONS = (100000, 200000)
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
TARGET_SMALL = 48  # lite_malloc's target for 16..1024 bytes (the loop's own ~9 included)


def count(workloads_bin, allocator, size, iterations):
    """Instructions callgrind counts for one run of the loop."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           workloads_bin, "loop", "%g" % (iterations / ITERATIONS[0]), str(size)]
    out = subprocess.run(cmd, env=allocator.env(), capture_output=True, text=True, check=False)
    m = COLLECTED.search(out.stderr)
    if out.returncode != 0 or not m:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError("%s, %d bytes: %s" % (allocator.name, size, tail))
    return int(m.group(1))


def per_pair(workloads_bin, allocator, size):
    low, high = (count(workloads_bin, allocator, size, n) for n in ITERATIONS)
    return (high - low) / (ITERATIONS[1] - ITERATIONS[0])


def render(allocators, table):
    header = ["allocator"] + ["%d KiB" % (s // 1024) if s >= 16384 else "%d B" % s
                              for s in SIZES]
    lines = ["### Instructions per malloc+free pair (callgrind)", "",
             "| " + " | ".join(header) + " |",
             "|---|" + "---:|" * len(SIZES)]
    for a in allocators:
        if a.missing:
            cells = ["missing"] * len(SIZES)
        else:
            cells = ["%.0f" % table[a.name][s] if isinstance(table[a.name][s], float)
                     else "FAIL" for s in SIZES]
        lines.append("| " + " | ".join([a.name] + cells) + " |")
    lite = table.get("lite_malloc")
    tc = table.get("tcmalloc")
    if lite and all(isinstance(lite[s], float) for s in SIZES):
        small = max(lite[s] for s in SIZES[:-1])
        lines.append("")
        lines.append("lite_malloc: at most %.0f for 16-1024 bytes (target <= %d: %s)"
                     % (small, TARGET_SMALL, "met" if small <= TARGET_SMALL else "not met"))
        if tc and isinstance(tc[SIZES[-1]], float):
            lines.append("lite_malloc: %.0f at 16 KiB, tcmalloc %.0f (target: no more: %s)"
                         % (lite[SIZES[-1]], tc[SIZES[-1]],
                            "met" if lite[SIZES[-1]] <= tc[SIZES[-1]] else "not met"))
    return "\n".join(lines) + "\n"


def run(allocators, workloads_bin, out_dir):
    """Measures every allocator at every size; prints and writes the table.
    Returns the exit status."""
    present = [a for a in allocators if not a.missing]
    jobs = [(a, s) for a in present for s in SIZES]
    print("callgrind: %d allocators x %d sizes, %d and %d iterations each"
          % (len(present), len(SIZES), ITERATIONS[0], ITERATIONS[1]))
    for a in allocators:
        if a.missing:
            print("  %-12s missing: %s" % (a.name, a.missing))
    table = {a.name: {} for a in present}
    failed = False
    # Counts do not depend on load, so run as many at once as there are cores.
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {pool.submit(per_pair, workloads_bin, a, s): (a, s) for a, s in jobs}
        for i, f in enumerate(concurrent.futures.as_completed(futures)):
            a, s = futures[f]
            try:
                table[a.name][s] = f.result()
                status = "%.1f instructions" % table[a.name][s]
            except RuntimeError as e:
                table[a.name][s] = "FAIL"
                status = "FAIL " + str(e)
                failed = True
            print("[%2d/%d] %-12s %6d B  %s" % (i + 1, len(jobs), a.name, s, status))
            sys.stdout.flush()
    text = render(allocators, table)
    print()
    print(text)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "callgrind.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(out_dir, "callgrind.json"), "w", encoding="utf-8") as f:
        json.dump({"sizes": SIZES, "iterations": ITERATIONS,
                   "allocators": {a.name: a.missing or a.preload or "glibc" for a in allocators},
                   "instructions_per_pair": table}, f, indent=1)
    print("wrote %s/callgrind.{json,md}" % out_dir)
    return 1 if failed else 0
