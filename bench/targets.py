"""Issue 15's targets, evaluated from one run's results (ratios to peers in the run)."""


def ratio(a, b):
    """Return A/B, or None if either is missing."""
    return None if a is None or b is None or not b else a / b


def evaluate(results, p):
    """Add the targets to RESULTS."""
    med = results.median
    n = p["memory_n"]
    results.target(f"shim PSS kB (N={n}) <= 1500, aim 1000",
                   med(f"shim PSS (N={n})", "tether"), 1500, 1000)
    start = "start (run -d returns)"
    results.target("run -d vs runc run -d <= 1.4x",
                   ratio(med(start, "tether"), med(start, "runc")), 1.4, None)
    rt = "true round trip"
    results.target("true round trip vs runc run <= 1.2x",
                   ratio(med(rt, "tether"), med(rt, "runc")), 1.2, None)
    for kind, size in p["sizes"].items():
        label = f"log throughput {kind} {size >> 20}MiB"
        if kind == "zeros":
            results.target("zeros throughput vs ctr --log-uri file:// >= 1x",
                           ratio(med(label, "tether"), med(label, "ctr-file")), 1.0, None,
                           higher_is_better=True)
        results.target(f"shim CPU s/GiB ({kind}) <= 0.8",
                       med(f"shim CPU per GiB ({kind})", "tether"), 0.8, None)
    results.target("exit -> event vs conmon's exit file <= 1x",
                   ratio(med("exit -> event", "tether"), med("exit -> event", "conmon")),
                   1.0, None)
    for metric in ("ctr run -d returns", "ctr run --rm true"):
        results.target(f"{metric}, tether vs runc.v2 <= 1x",
                       ratio(med(metric, "tether"), med(metric, "runc.v2")), 1.0, None)
    per_task = f"PSS per task (N={n})"
    results.target(f"containerd {per_task}, tether vs runc.v2 <= 1x",
                   ratio(med(per_task, "tether"), med(per_task, "runc.v2")), 1.0, None)
    last = p["scale_steps"][-1]
    results.target(f"restart ms, all states right (N={last}) <= 1000",
                   med(f"restart, all states right (N={last})", "tether"), 1000, None)
