"""Issue 5's targets, evaluated from one run's results (ratios to the peers)."""


def ratio(a, b):
    """Return A/B, or None if either is missing."""
    return None if a is None or b is None or not b else a / b


def evaluate(results, p):
    """Add the targets to RESULTS."""
    med = results.median
    n = p["memory_n"]
    results.target(f"shim PSS kB (N={n}) <= 4000, aim containerd's", med(
        f"shim PSS (N={n})", "tether"), 4000, med(f"shim PSS (N={n})", "containerd-shim"))
    start = "start (run -d returns)"
    results.target("run -d vs runc run -d <= 2.2x, aim 1.5x",
                   ratio(med(start, "tether"), med(start, "runc")), 2.2, 1.5)
    rt = "true round trip"
    results.target("true round trip vs runc run <= 2.7x, aim 1.4x",
                   ratio(med(rt, "tether"), med(rt, "runc")), 2.7, 1.4)
    for kind, size in p["sizes"].items():
        label = f"log throughput {kind} {size >> 20}MiB"
        results.target(f"{kind} throughput vs runc|cat >= 0.37x, aim 0.5x",
                       ratio(med(label, "tether"), med(label, "runc|cat")), 0.37, 0.5,
                       higher_is_better=True)
        results.target(f"shim CPU s/GiB ({kind}) <= 0.8",
                       med(f"shim CPU per GiB ({kind})", "tether"), 0.8, None)
    results.target("exit -> event ms <= 2.2, aim 1.6", med("exit -> event", "tether"),
                   2.2, 1.6)
    last = p["scale_steps"][-1]
    results.target(f"restart ms, all states right (N={last}) <= 1000",
                   med(f"restart, all states right (N={last})", "tether"), 1000, None)
