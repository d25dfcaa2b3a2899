"""Smoke test of the benchmark (bazel test //tools/bench:bench_test).

At a tiny scale, every workload passes its own checks under lite_malloc and
glibc, the runner writes its JSON, Markdown and SVG, and the callgrind mode
counts instructions for lite_malloc. No figure is compared with a target:
timings are not tests. Arguments (the paths Bazel built) go to bench.py."""

import json
import os
import shutil
import sys
import tempfile
import xml.etree.ElementTree

import bench


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def main():
    out = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    paths = sys.argv[1:]
    if bench.main(paths + ["--scale", "0.02", "--reps", "1",
                           "--allocators", "lite_malloc,glibc", "--out", out]) != 0:
        fail("a workload failed its checks")
    with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
        doc = json.load(f)
    missing = {w["name"] for w in doc["workloads"] if w["missing"]}
    for m in doc["medians"]:
        if m["error"] is not None and m["workload"] not in missing:
            fail("%s under %s: %s" % (m["workload"], m["allocator"], m["error"]))
    if any(a["missing"] for a in doc["allocators"]):
        fail("an allocator is missing: %s" % doc["allocators"])
    xml.etree.ElementTree.parse(os.path.join(out, "results.svg"))
    with open(os.path.join(out, "results.md"), encoding="utf-8") as f:
        if "### Geometric means" not in f.read():
            fail("results.md has no geometric means")

    if shutil.which("valgrind") is None:
        print("valgrind not installed: callgrind mode not tested")
        return
    if bench.main(paths + ["--callgrind", "--allocators", "lite_malloc", "--out", out]) != 0:
        fail("callgrind mode failed")
    with open(os.path.join(out, "callgrind.json"), encoding="utf-8") as f:
        counts = json.load(f)["instructions_per_pair"]["lite_malloc"]
    if not all(isinstance(v, float) and 0 < v < 10000 for v in counts.values()):
        fail("implausible instruction counts: %s" % counts)


if __name__ == "__main__":
    main()
    print("bench_test: ok")
