"""The allocator benchmark: lite_malloc against glibc and Debian's jemalloc,
tcmalloc, mimalloc and tbbmalloc, side by side.

    bazel run //tools:bench -- [--quick] [--callgrind] [--out DIR] [...]

Runs every workload under every allocator, interleaved (A B C ... A B C ...)
for a number of repetitions, and reports the median wall time and peak RSS of
each, their ratios to mimalloc and to glibc, and geometric means. The
workloads are one C program calling plain malloc/free (tools/bench/*.c), run
bare for glibc and under LD_PRELOAD for the others, plus two real programs
from Debian: sqlite3 and python3 (PYTHONMALLOC=malloc). Every workload checks
its own results; a run that fails its checks is reported as FAIL, never timed.

Results go to DIR (default: bench-results/ in the workspace): results.json,
results.md (the tables printed at the end) and results.svg (the chart).
--callgrind instead counts instructions per malloc+free pair (callgrind.py).
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import callgrind  # noqa: E402
import chart  # noqa: E402
import report  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NPROC = os.cpu_count() or 1

# ---------------------------------------------------------------------------
# Allocators
# ---------------------------------------------------------------------------

# name, Debian package, the library to preload. glibc's is the one already in
# every process; lite_malloc's comes from the Bazel build (--lite).
PEERS = [
    ("jemalloc", "libjemalloc2", "libjemalloc.so.2"),
    ("tcmalloc", "libtcmalloc-minimal4", "libtcmalloc_minimal.so.4"),
    ("mimalloc", "libmimalloc2.0", "libmimalloc.so.2"),
    ("tbbmalloc", "libtbbmalloc2", "libtbbmalloc_proxy.so.2"),
]


class Allocator:
    """One allocator: the library to preload (None for glibc), or why it is
    missing."""

    def __init__(self, name, preload=None, missing=None, version=""):
        self.name = name
        self.preload = preload
        self.missing = missing
        self.version = version

    def env(self, extra=None, preload=True):
        """The environment to run a program under this allocator; with
        preload=False, without LD_PRELOAD (the launcher sets it)."""
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if self.preload and preload:
            env["LD_PRELOAD"] = self.preload
        env.update(extra or {})
        return env


def dpkg(*args):
    """dpkg's output, or "" when it fails or is not there."""
    try:
        return subprocess.run(["dpkg"] + list(args), capture_output=True, text=True,
                              check=False).stdout
    except OSError:
        return ""


def package_file(package, filename):
    """The path of FILENAME among the files of an installed Debian package."""
    for line in dpkg("-L", package).splitlines():
        if os.path.basename(line) == filename and os.path.exists(line):
            return line
    return None


def find_allocators(lite, workloads_bin):
    """Every allocator, in table order, each checked to really replace malloc:
    the `which` workload names the library malloc resolves to."""
    allocators = []
    if lite and os.path.exists(lite):
        allocators.append(Allocator("lite_malloc", os.path.abspath(lite)))
    else:
        allocators.append(Allocator("lite_malloc", missing="preload library not built"))
    allocators.append(Allocator("glibc", version=dpkg("-s", "libc6")))
    for name, package, filename in PEERS:
        path = package_file(package, filename)
        if path is None:
            allocators.append(Allocator(name, missing="package %s not installed" % package))
        else:
            allocators.append(Allocator(name, path, version=dpkg("-s", package)))
    for a in allocators:
        # dpkg -s prints the package's fields; keep the version.
        m = re.search(r"^Version: (\S+)$", a.version, re.M)
        a.version = m.group(1) if m else ""
    for a in allocators:
        if a.missing:
            continue
        out = subprocess.run([workloads_bin, "which"], env=a.env(), capture_output=True,
                             text=True, check=False)
        got = out.stdout.split(" ", 1)[1].strip() if out.stdout.startswith("malloc ") else ""
        want = a.preload or "libc.so"
        if out.returncode != 0 or (os.path.realpath(got) != os.path.realpath(want)
                                   and os.path.basename(want) not in got):
            a.missing = "malloc does not come from it (%s)" % (got or out.stderr.strip())
    return allocators


# ---------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------


class Workload:
    """A command run under each allocator. SCALE multiplies its work; CHECK,
    when given, reads the program's stdout and returns an error or None."""

    def __init__(self, name, about, argv, env=None, stdin=None, check=None, missing=None):
        self.name = name
        self.about = about
        self.argv = argv  # function of scale -> argv
        self.env = env or {}
        self.stdin = stdin  # function of scale -> bytes, or None
        self.check = check
        self.missing = missing  # why it cannot run (a program not installed)


def check_ok_lines(stdout):
    """Real programs print "ok NAME" per check; any FAIL line, or none, fails."""
    lines = stdout.splitlines()
    bad = [line for line in lines if line.startswith("FAIL") or not line.startswith("ok")]
    if bad or not lines:
        return "unexpected output: %s" % ("; ".join(bad[:3]) or "(none)")
    return None


def debian_program(name):
    """Debian's build of a program (not one earlier on PATH), else any."""
    path = os.path.join("/usr/bin", name)
    return path if os.access(path, os.X_OK) else shutil.which(name)


def define_workloads(workloads_bin):
    def program(*args):
        return lambda scale: [workloads_bin, args[0], "%g" % scale] + list(args[1:])

    threads = sorted({1, 2, 2 * NPROC})
    sql = open(os.path.join(HERE, "sqlite.sql"), encoding="utf-8").read()
    python = debian_program("python3") or sys.executable
    sqlite3 = debian_program("sqlite3")
    w = [Workload("churn", "1 thread, random 8-1024 B, 32K live", program("churn"))]
    for t in threads:
        w.append(Workload("server-%d" % t, "%d worker thread%s, cross-thread frees"
                          % (t, "s" if t > 1 else ""), program("server", str(t))))
    w.append(Workload("prodcons", "1 thread allocates, 1 frees", program("prodcons")))
    # The classic cross-thread benchmarks, at as many threads as cores and
    # at twice as many (each xmalloc run has that many producers and as many
    # consumers again).
    xthreads = sorted({NPROC, 2 * NPROC})
    for t in xthreads:
        w.append(Workload("larson-%d" % t, "%d thread chains, successors free 10-500 B" % t,
                          program("larson", str(t))))
    for t in xthreads:
        w.append(Workload("xmalloc-%d" % t, "%d producers hand batches to %d consumers" % (t, t),
                          program("xmalloc", str(t))))
    for t in xthreads:
        w.append(Workload("mstress-%d" % t, "rounds of %d threads swap mixed sizes" % t,
                          program("mstress", str(t))))
    w += [
        Workload("realloc", "strings, vectors, buffers to 4 MiB", program("realloc")),
        Workload("large", "bursts of 64 KiB-8 MiB blocks", program("large")),
        Workload("fragment", "mix, free half, other sizes", program("fragment")),
    ]
    for size in (16, 32, 100):
        w.append(Workload("overhead-%d" % size, "160 MiB of %d B objects" % size,
                          program("overhead", str(size))))
    w += [
        Workload("return_os", "2 threads, 256 MiB, free all", program("return_os")),
        Workload("sqlite3", "sqlite3 :memory:, 100K rows", lambda scale: [sqlite3, ":memory:"],
                 stdin=lambda scale: sql.replace(":rows:", str(max(1000, int(100000 * scale)))).encode(),
                 check=check_ok_lines,
                 missing=None if sqlite3 else "sqlite3 not installed (tools/deps.sh bench)"),
        Workload("python3", "PYTHONMALLOC=malloc, dicts/json", lambda scale: [
            python, os.path.join(HERE, "python_dicts.py"), "%g" % (0.4 * scale)],
                 env={"PYTHONMALLOC": "malloc"}, check=check_ok_lines),
    ]
    return w


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

METRIC = re.compile(r"^metric (\S+) (\S+)$")
TIMEOUT_S = 120  # a run still going after this is killed and reported FAIL


def run_once(workload, allocator, scale, launch_bin, tmp):
    """Runs the workload once through the launcher; returns a dict with wall_s,
    cpu_s, maxrss_kib, metrics, and error (None when its checks passed)."""
    stdin_path = os.path.join(tmp, "stdin")
    cost_path = os.path.join(tmp, "cost")
    with open(stdin_path, "wb") as f:
        f.write(workload.stdin(scale) if workload.stdin else b"")
    if os.path.exists(cost_path):
        os.unlink(cost_path)
    with open(stdin_path, "rb") as stdin:
        proc = subprocess.run([launch_bin, cost_path, allocator.preload or "", str(TIMEOUT_S)]
                              + workload.argv(scale),
                              stdin=stdin, capture_output=True, text=True,
                              env=allocator.env(workload.env, preload=False), check=False)
    try:
        with open(cost_path, encoding="utf-8") as f:
            wall, cpu, maxrss, _ = f.read().split()
    except (OSError, ValueError):
        wall, cpu, maxrss = "0", "0", "0"
    result = {
        "wall_s": float(wall),
        "cpu_s": float(cpu),
        "maxrss_kib": int(maxrss),
        "metrics": {},
        "error": None,
    }
    for line in proc.stdout.splitlines():
        m = METRIC.match(line)
        if m:
            result["metrics"][m.group(1)] = float(m.group(2))
    if proc.returncode == 128 + signal.SIGKILL:
        result["error"] = "killed after %d s" % TIMEOUT_S
    elif proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        result["error"] = "exit status %d: %s" % (proc.returncode, tail)
    elif workload.check:
        result["error"] = workload.check(proc.stdout)
    return result


def median_result(runs):
    """The median of each figure over the runs that passed."""
    good = [r for r in runs if r["error"] is None]
    if not good or len(good) < len(runs):
        bad = [r["error"] for r in runs if r["error"]]
        return {"error": bad[0] if bad else "no runs"}
    metrics = {}
    for key in good[0]["metrics"]:
        metrics[key] = statistics.median(r["metrics"].get(key, 0.0) for r in good)
    return {
        "error": None,
        "wall_s": statistics.median(r["wall_s"] for r in good),
        "cpu_s": statistics.median(r["cpu_s"] for r in good),
        "rss_mib": statistics.median(r["maxrss_kib"] for r in good) / 1024.0,
        "metrics": metrics,
    }


def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cores": NPROC, "cpu": model, "kernel": platform.release(),
            "load_at_start": os.getloadavg()[0]}


def run_benchmark(args, workloads_bin, launch_bin):
    allocators = find_allocators(args.lite, workloads_bin)
    if args.allocators:
        keep = args.allocators.split(",")
        allocators = [a for a in allocators if a.name in keep]
    workloads = define_workloads(workloads_bin)
    if args.workloads:
        keep = args.workloads.split(",")
        workloads = [w for w in workloads if w.name in keep]
    present = [a for a in allocators if not a.missing]
    scale = args.scale if args.scale else (0.15 if args.quick else 1.0)
    reps = args.reps if args.reps else (3 if args.quick else 5)
    info = machine_info()

    print("lite_malloc benchmark: %d workloads x %d allocators x %d repetitions, scale %g"
          % (len(workloads), len(present), reps, scale))
    print("machine: %d cores, %s, load average %.2f"
          % (info["cores"], info["cpu"] or "unknown CPU", info["load_at_start"]))
    if info["load_at_start"] > 0.5 * NPROC:
        print("note: the machine is busy; timings will be noisy")
    for a in allocators:
        print("  %-12s %-10s %s" % (a.name, a.version, "missing: " + a.missing if a.missing
                                     else a.preload or "(no preload)"))
    sys.stdout.flush()

    for w in workloads:
        if w.missing:
            print("  workload %s missing: %s" % (w.name, w.missing))
    runnable = [w for w in workloads if not w.missing]
    runs = {(w.name, a.name): [] for w in runnable for a in present}
    total = reps * len(runnable) * len(present)
    done = 0
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="lite-bench-") as tmp:
        for rep in range(reps):
            for w in runnable:
                for a in present:
                    r = run_once(w, a, scale, launch_bin, tmp)
                    runs[(w.name, a.name)].append(r)
                    done += 1
                    status = ("%8.3f s %8.1f MiB" % (r["wall_s"], r["maxrss_kib"] / 1024.0)
                              if r["error"] is None else "FAIL " + r["error"])
                    print("[%3d/%d] rep %d/%d  %-12s %-12s %s"
                          % (done, total, rep + 1, reps, w.name, a.name, status))
                    sys.stdout.flush()

    results = {}
    for w in workloads:
        for a in allocators:
            if a.missing or w.missing:
                results[(w.name, a.name)] = {"error": "missing"}
            else:
                results[(w.name, a.name)] = median_result(runs[(w.name, a.name)])
    info["load_at_end"] = os.getloadavg()[0]
    info["elapsed_s"] = time.time() - started

    names = [a.name for a in allocators]
    text = report.render(workloads, names, results, info, reps, scale,
                         {a.name: a.version for a in allocators})
    print()
    print(text)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.md"), "w", encoding="utf-8") as f:
        f.write(text)
    doc = {
        "machine": info,
        "quick": args.quick,
        "repetitions": reps,
        "scale": scale,
        "allocators": [{"name": a.name, "version": a.version, "preload": a.preload,
                        "missing": a.missing} for a in allocators],
        "workloads": [{"name": w.name, "about": w.about, "missing": w.missing}
                      for w in workloads],
        "medians": [dict(workload=k[0], allocator=k[1], **v) for k, v in results.items()],
        "runs": [dict(workload=k[0], allocator=k[1], rep=i + 1, **r)
                 for k, rs in runs.items() for i, r in enumerate(rs)],
        "summary": report.summary(workloads, names, results),
    }
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(args.out, "results.svg"), "w", encoding="utf-8") as f:
        f.write(chart.svg([w.name for w in workloads], names, results, info, scale))
    print("wrote %s/results.{json,md,svg} in %.0f s"
          % (args.out, info["elapsed_s"]))
    failed = [k for k, v in results.items() if v["error"] not in (None, "missing")]
    return 1 if failed else 0


class Named:
    """A workload as read back from results.json."""

    def __init__(self, name, about):
        self.name = name
        self.about = about


def rerender(path, out_dir):
    """Prints and writes the tables and the chart again from a results.json,
    e.g. after a change to the report's format. Returns the exit status."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    workloads = [Named(w["name"], w["about"]) for w in doc["workloads"]]
    names = [a["name"] for a in doc["allocators"]]
    results = {(m["workload"], m["allocator"]): m for m in doc["medians"]}
    text = report.render(workloads, names, results, doc["machine"], doc["repetitions"],
                         doc["scale"], {a["name"]: a.get("version", "") for a in doc["allocators"]})
    print(text)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(out_dir, "results.svg"), "w", encoding="utf-8") as f:
        f.write(chart.svg([w.name for w in workloads], names, results, doc["machine"],
                          doc["scale"]))
    print("wrote %s/results.{md,svg} from %s" % (out_dir, path))
    return 0


def default_out():
    root = os.environ.get("BUILD_WORKSPACE_DIRECTORY") or os.getcwd()
    return os.path.join(root, "bench-results")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smaller workloads and 3 repetitions (under 2 minutes)")
    parser.add_argument("--callgrind", action="store_true",
                        help="count instructions per malloc+free pair instead")
    parser.add_argument("--out", default=default_out(),
                        help="directory for the results (default: %(default)s)")
    parser.add_argument("--reps", type=int, help="repetitions (default 5, quick 3)")
    parser.add_argument("--scale", type=float, help="work per run (default 1, quick 0.15)")
    parser.add_argument("--report", metavar="JSON",
                        help="run nothing: print the tables again from a results.json")
    parser.add_argument("--workloads", help="comma-separated workloads to run")
    parser.add_argument("--allocators", help="comma-separated allocators to run")
    parser.add_argument("--lite", help="lite_malloc's preload library (set by Bazel)")
    parser.add_argument("--workloads-bin", default="tools/bench/workloads",
                        help="the workload program (set by Bazel)")
    parser.add_argument("--launch-bin", default="tools/bench/launch",
                        help="the launcher (set by Bazel)")
    args = parser.parse_args(argv)
    if args.report:
        return rerender(args.report, args.out)
    workloads_bin = os.path.abspath(args.workloads_bin)
    for path in (workloads_bin, args.launch_bin):
        if not os.path.exists(path):
            parser.error("%s not found; run through bazel run //tools:bench" % path)
    if args.callgrind:
        allocators = find_allocators(args.lite, workloads_bin)
        if args.allocators:
            allocators = [a for a in allocators if a.name in args.allocators.split(",")]
        return callgrind.run(allocators, workloads_bin, args.out)
    return run_benchmark(args, workloads_bin, os.path.abspath(args.launch_bin))


if __name__ == "__main__":
    sys.exit(main())
