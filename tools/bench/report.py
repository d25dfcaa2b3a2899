"""The benchmark's tables, as Markdown: printed at the end of a run, written to
results.md, and pasted from there into the README.

results maps (workload, allocator) to a median result: {"error": None,
"wall_s", "rss_mib", "metrics"} or {"error": "missing" / a failure}."""

import math

LITE = "lite_malloc"
BASES = ("mimalloc", "glibc")

# Figures the memory workloads report themselves: (workload, metric, label).
MEMORY_ROWS = [
    ("overhead-16", "overhead_ratio", "overhead-16: RSS / live bytes"),
    ("overhead-32", "overhead_ratio", "overhead-32: RSS / live bytes"),
    ("overhead-100", "overhead_ratio", "overhead-100: RSS / live bytes"),
    ("fragment", "final_rss_ratio", "fragment: final RSS / live bytes"),
    ("return_os", "rss_start_mib", "return_os: RSS at start, MiB"),
    ("return_os", "rss_full_mib", "return_os: RSS with all of it live"),
    ("return_os", "rss_after_free_mib", "return_os: RSS after free"),
    ("return_os", "rss_after_idle_mib", "return_os: after 0.25 s idle and a little work"),
    ("return_os", "rss_idle_trim_mib", "return_os: malloc_trim, threads idle"),
    ("return_os", "rss_after_exit_mib", "return_os: after threads exit"),
    ("return_os", "rss_after_trim_mib", "return_os: after malloc_trim"),
    ("return_os", "vsz_start_mib", "return_os: VmSize at start, MiB"),
    ("return_os", "vsz_full_mib", "return_os: VmSize with all of it live"),
    ("return_os", "vsz_after_free_mib", "return_os: VmSize after free"),
    ("return_os", "vsz_after_idle_mib", "return_os: VmSize after 0.25 s idle"),
    ("return_os", "vsz_after_trim_mib", "return_os: VmSize after exit and trim"),
    ("return_os", "returned_ok", "return_os: back within 10%/8 MiB"),
    ("return_os", "trimmed_ok", "return_os: trim within 10%/8 MiB"),
]

FIGURES = {"time": "wall_s", "rss": "rss_mib"}


def geomean(values):
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def value(results, workload, allocator, figure):
    r = results.get((workload, allocator))
    if r is None or r["error"] is not None:
        return None
    return r[FIGURES[figure]]


def ratio(results, workload, allocator, base, figure):
    a = value(results, workload, allocator, figure)
    b = value(results, workload, base, figure)
    if a is None or not b:
        return None
    return a / b


def summary(workloads, names, results):
    """Geometric means of the ratios to each base, per allocator, over the
    workloads where both figures exist."""
    out = {}
    for name in names:
        entry = {}
        for figure in FIGURES:
            for base in BASES:
                entry["%s_vs_%s" % (figure, base)] = geomean(
                    [ratio(results, w.name, name, base, figure) for w in workloads])
        out[name] = entry
    return out


def cell(results, workload, allocator, fmt, get):
    r = results.get((workload, allocator))
    if r is None:
        return "-"
    if r["error"] == "missing":
        return "missing"
    if r["error"] is not None:
        return "FAIL"
    v = get(r)
    return "-" if v is None else fmt % v


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_ratio(v):
    return "-" if v is None else "%.2f" % v


def metric_text(r, metric):
    v = r["metrics"].get(metric)
    if v is None:
        return None
    if metric in ("returned_ok", "trimmed_ok"):
        return "yes" if v else "no"
    return ("%.2f" if "ratio" in metric else "%.0f") % v


def render(workloads, names, results, info, reps, scale, versions):
    """The Markdown report. versions maps allocator names to package versions."""
    out = []
    out.append("Machine: %d cores, %s, Linux %s; load average %.2f at start, %.2f at end."
               % (info["cores"], info["cpu"] or "unknown CPU", info["kernel"],
                  info["load_at_start"], info.get("load_at_end", 0.0)))
    out.append("Versions: %s." % ", ".join("%s %s" % (n, versions[n]) for n in names
                                          if versions.get(n)))
    out.append("Medians of %d repetitions, scale %g, allocators interleaved." % (reps, scale))

    for figure, title, fmt in (("time", "Wall time, seconds (lower is better)", "%.3f"),
                               ("rss", "Peak RSS, MiB (lower is better)", "%.1f")):
        key = FIGURES[figure]
        out.append("\n### %s\n" % title)
        rows = [[w.name, w.about] + [cell(results, w.name, n, fmt, lambda r: r[key])
                                     for n in names] for w in workloads]
        out.append(table(["workload", "what"] + names, rows))
        out.append("\n%s ratio to mimalloc / to glibc:\n" % ("Time" if figure == "time" else "Peak RSS"))
        rows = []
        for w in workloads:
            row = [w.name]
            for n in names:
                r = [ratio(results, w.name, n, base, figure) for base in BASES]
                row.append("-" if r[0] is None and r[1] is None else
                           "%s / %s" % (fmt_ratio(r[0]), fmt_ratio(r[1])))
            rows.append(row)
        out.append(table(["workload"] + names, rows))

    out.append("\n### CPU time (user + system), seconds\n")
    out.append("Less disturbed than wall time by other work on the machine, but blind to")
    out.append("time spent waiting (for a lock, or for another thread):\n")
    out.append(table(["workload"] + names,
                     [[w.name] + [cell(results, w.name, n, "%.3f", lambda r: r["cpu_s"])
                                  for n in names] for w in workloads]))

    present = {w.name for w in workloads}
    mem_rows = []
    for workload, metric, label in MEMORY_ROWS:
        if workload not in present:
            continue
        mem_rows.append([label] + [cell(results, workload, n, "%s",
                                        lambda r, m=metric: metric_text(r, m))
                                   for n in names])
    if mem_rows:
        out.append("\n### Memory figures the workloads report\n")
        out.append(table(["figure"] + names, mem_rows))

    s = summary(workloads, names, results)
    out.append("\n### Geometric means over the workloads (ratios; lower is better)\n")
    rows = []
    for n in names:
        e = s[n]
        rows.append([n] + [fmt_ratio(e["%s_vs_%s" % (f, b)])
                           for f in FIGURES for b in BASES])
    out.append(table(["allocator", "time / mimalloc", "time / glibc",
                      "RSS / mimalloc", "RSS / glibc"], rows))

    if LITE in names:
        out.append("\n### lite_malloc against each allocator\n")
        out.append("Geometric means of lite_malloc's figure divided by the other's, and the")
        out.append("workloads where lite_malloc is faster or at most as large:\n")
        rows = []
        for n in names:
            if n == LITE:
                continue
            row = [n]
            for figure in FIGURES:
                r = [ratio(results, w.name, LITE, n, figure) for w in workloads]
                r = [x for x in r if x is not None]
                better = sum(1 for x in r if (x < 1.0 if figure == "time" else x <= 1.0))
                row += [fmt_ratio(geomean(r)), "%d of %d" % (better, len(r))]
            rows.append(row)
        out.append(table(["against", "time ratio", "faster on", "peak RSS ratio",
                          "RSS at most on"], rows))

    if LITE in names and "glibc" in names:
        out.append("\n### lite_malloc against the targets\n")
        out += targets(workloads, results, s)
    return "\n".join(out) + "\n"


def targets(workloads, results, s):
    """Lines saying where lite_malloc meets the issue's targets and where not."""
    lines = []
    for figure, verb in (("time", "faster than"), ("rss", "at or below")):
        wins, losses = [], []
        for w in workloads:
            r = ratio(results, w.name, LITE, "glibc", figure)
            if r is None:
                continue
            ok = r < 1.0 if figure == "time" else r <= 1.0
            (wins if ok else losses).append("%s %.2f" % (w.name, r))
        lines.append("- %s glibc in %s on %d of %d workloads%s"
                     % (verb, "time" if figure == "time" else "peak RSS", len(wins),
                        len(wins) + len(losses),
                        "; not on: " + ", ".join(losses) if losses else ""))
    t, m = s[LITE]["time_vs_mimalloc"], s[LITE]["rss_vs_mimalloc"]
    if t is not None and m is not None:
        lines.append("- geometric mean against mimalloc: time %.2f, peak RSS %.2f (target: both <= 1.00)"
                     % (t, m))
    r = results.get(("return_os", LITE))
    if r is not None and r["error"] is None:
        mt = r["metrics"]
        lines.append("- return to the OS: %.0f MiB at start, %.0f MiB right after freeing "
                     "everything, %.0f MiB after 0.25 s idle and a little work (target: within "
                     "10%% or 8 MiB: %s), %.0f MiB after malloc_trim(0) from a third thread with "
                     "the owners idle (%s), %.0f MiB after the threads exit; VmSize %.0f MiB at "
                     "start, %.0f MiB live, %.0f MiB idle, %.0f MiB at the end"
                     % (mt.get("rss_start_mib", 0), mt.get("rss_after_free_mib", 0),
                        mt.get("rss_after_idle_mib", 0),
                        "met" if mt.get("returned_ok") else "not met",
                        mt.get("rss_idle_trim_mib", 0),
                        "met" if mt.get("trimmed_ok") else "not met",
                        mt.get("rss_after_exit_mib", 0), mt.get("vsz_start_mib", 0),
                        mt.get("vsz_full_mib", 0), mt.get("vsz_after_idle_mib", 0),
                        mt.get("vsz_after_trim_mib", 0)))
    return lines
