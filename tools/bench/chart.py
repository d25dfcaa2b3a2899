"""The benchmark's chart, written as SVG by hand (no plotting package needed):
two panels, wall time and peak RSS, each a group of bars per workload with one
colour per allocator. Bars show the ratio to glibc on a log scale, so a bar
going down from the 1.0 line is faster (or smaller) than glibc and one going
up is slower (or larger). Hovering a bar shows its value."""

import math
from xml.sax.saxutils import escape

import report

COLOURS = {
    "lite_malloc": "#d62728",
    "glibc": "#7f7f7f",
    "jemalloc": "#1f77b4",
    "tcmalloc": "#2ca02c",
    "mimalloc": "#9467bd",
    "tbbmalloc": "#8c564b",
}
OTHER_COLOURS = ["#e377c2", "#bcbd22", "#17becf", "#ff7f0e"]

WIDTH = 1200
PANEL = 330  # height of one panel's plot area
LEFT, RIGHT, TOP = 70, 20, 70
LABELS = 90  # room for the workload names under a panel


def colour(name, names):
    if name in COLOURS:
        return COLOURS[name]
    return OTHER_COLOURS[names.index(name) % len(OTHER_COLOURS)]


def panel(out, top, title, unit, figure, workloads, names, results):
    plot_w = WIDTH - LEFT - RIGHT
    ratios = [report.ratio(results, w, n, "glibc", figure) for w in workloads for n in names]
    ratios = [r for r in ratios if r]
    # The axis: whole powers of two around the data, at least 1/2 .. 2.
    low = max(-8, min([-1] + [math.floor(math.log2(r)) for r in ratios]))
    high = min(6, max([1] + [math.ceil(math.log2(r)) for r in ratios]))

    def y(r):
        v = min(max(math.log2(r), low), high)
        return top + (high - v) / (high - low) * PANEL

    out.append('<text x="%d" y="%d" font-size="15" font-weight="bold">%s</text>'
               % (LEFT, top - 12, escape(title)))
    for e in range(low, high + 1):
        label = "%g" % (2.0 ** e) if e >= 0 else "1/%d" % (2 ** -e)
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="%s"/>'
                   % (LEFT, WIDTH - RIGHT, y(2.0 ** e), y(2.0 ** e),
                      "#333" if e == 0 else "#ddd", "1.5" if e == 0 else "1"))
        out.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s</text>'
                   % (LEFT - 6, y(2.0 ** e) + 4, label))
    group = plot_w / max(1, len(workloads))
    bar = group * 0.8 / max(1, len(names))
    for i, w in enumerate(workloads):
        x0 = LEFT + i * group + group * 0.1
        for j, n in enumerate(names):
            r = report.ratio(results, w, n, "glibc", figure)
            if r is None:
                continue
            v = report.value(results, w, n, figure)
            y1, y0 = sorted((y(r), y(1.0)))
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                       '<title>%s, %s: %.3g %s (%.2f x glibc)</title></rect>'
                       % (x0 + j * bar, y1, bar * 0.92, max(y0 - y1, 0.5), colour(n, names),
                          escape(n), escape(w), v, unit, r))
        cx = LEFT + (i + 0.5) * group
        ly = top + PANEL + 14
        out.append('<text x="%.1f" y="%.1f" font-size="12" text-anchor="end" '
                   'transform="rotate(-35 %.1f %.1f)">%s</text>'
                   % (cx, ly, cx, ly, escape(w)))


def svg(workloads, names, results, info, scale):
    """The chart as an SVG document. workloads and names are lists of names."""
    height = TOP + 2 * (PANEL + LABELS + 40)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif">' % (WIDTH, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="24" font-size="17" font-weight="bold">lite_malloc benchmark: '
           'ratio to glibc, log scale (below the 1 line is better)</text>' % LEFT,
           '<text x="%d" y="44" font-size="12">%d cores, %s; scale %g; medians</text>'
           % (LEFT, info["cores"], escape(info["cpu"] or "unknown CPU"), scale)]
    x = LEFT
    for n in names:
        missing = all(report.value(results, w, n, "time") is None for w in workloads)
        label = n + (" (missing)" if missing else " (the 1 line)" if n == "glibc" else "")
        out.append('<rect x="%d" y="54" width="12" height="12" fill="%s"/>' % (x, colour(n, names)))
        out.append('<text x="%d" y="65" font-size="12">%s</text>' % (x + 16, escape(label)))
        x += 30 + 7 * len(label)
    top = TOP + 40
    panel(out, top, "Wall time / glibc's", "s", "time", workloads, names, results)
    panel(out, top + PANEL + LABELS + 40, "Peak RSS / glibc's", "MiB", "rss",
          workloads, names, results)
    out.append("</svg>")
    return "\n".join(out) + "\n"
