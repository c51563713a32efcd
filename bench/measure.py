"""Timing, summaries, the printed table and the JSON file."""

import json
import os
import platform
import statistics
import time


def now_ms():
    """Return a monotonic time in milliseconds."""
    return time.monotonic_ns() / 1e6


def summarize(values):
    """Return {"median", "min", "max", "runs"} of VALUES (None when there are none)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": len(values)}


def alternate(contenders, runs, measure):
    """Run MEASURE(name) RUNS times per contender, rotating the order each round."""
    samples = {name: [] for name in contenders}
    for i in range(runs):
        order = contenders[i % len(contenders):] + contenders[:i % len(contenders)]
        for name in order:
            samples[name].append(measure(name))
    return samples


class Results:
    """Rows of (section, metric, contender, unit, summary) plus ratios to a reference."""

    def __init__(self):
        self.rows = []
        self.targets = []

    def add(self, section, metric, contender, unit, values):
        """Record the summary of VALUES."""
        summary = summarize(values if isinstance(values, list) else [values])
        self.rows.append({"section": section, "metric": metric, "contender": contender,
                          "unit": unit, **(summary or {"median": None, "runs": 0})})

    def median(self, metric, contender):
        """Return the median of METRIC for CONTENDER (None if not measured)."""
        for row in self.rows:
            if row["metric"] == metric and row["contender"] == contender:
                return row.get("median")
        return None

    def target(self, name, value, limit, aim, higher_is_better=False):
        """Record a target: VALUE against LIMIT (must) and AIM (would like)."""
        if value is None:
            met = None
        else:
            met = value >= limit if higher_is_better else value <= limit
        self.targets.append({"target": name, "value": value, "limit": limit, "aim": aim,
                             "met": met})


def format_number(value):
    """Format a number with 3 significant digits or so."""
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_table(results):
    """Return the text table of RESULTS."""
    lines = [f"{'metric':<34} {'contender':<22} {'median':>9} {'min-max':>17} {'runs':>4} unit"]
    for row in results.rows:
        span = "-" if row.get("min") is None else \
            f"{format_number(row['min'])}-{format_number(row['max'])}"
        lines.append(f"{row['metric']:<34} {row['contender']:<22} "
                     f"{format_number(row.get('median')):>9} {span:>17} {row['runs']:>4} "
                     f"{row['unit']}")
    if results.targets:
        lines += ["", f"{'target':<44} {'value':>8} {'limit':>8} {'aim':>8}  met"]
        for t in results.targets:
            met = {True: "yes", False: "NO", None: "-"}[t["met"]]
            lines.append(f"{t['target']:<44} {format_number(t['value']):>8} "
                         f"{format_number(t['limit']):>8} {format_number(t['aim']):>8}  {met}")
    return "\n".join(lines)


def machine():
    """Describe this machine (cpus, memory, kernel, python)."""
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"cpus": os.cpu_count(), "memory_gib": round(mem_kb / (1 << 20), 1),
            "kernel": platform.release(), "python": platform.python_version()}


def write_json(results, directory, extra):
    """Write the results as JSON into DIRECTORY; return the path."""
    os.makedirs(directory, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = os.path.join(directory, f"bench-{stamp}.json")
    doc = {"time": stamp, "machine": machine(), **extra, "rows": results.rows,
           "targets": results.targets}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return path
