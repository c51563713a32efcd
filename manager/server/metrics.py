"""The manager's metrics, rendered in the Prometheus text format (GET /v1/metrics)."""

import collections
import time

from manager.core import model

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Latency buckets (seconds): API calls are ~1 ms; create/start run the runtime (~30 ms+).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATUSES = (model.CREATED, model.RUNNING, model.PAUSED, model.STOPPED,
            model.UNKNOWN)
LIVE = (model.CREATED, model.RUNNING, model.PAUSED)


class Histogram:
    """Cumulative latency buckets, their sum and count."""

    def __init__(self):
        self.counts = [0] * len(BUCKETS)
        self.total = 0.0
        self.count = 0

    def observe(self, seconds):
        """Count one observation of SECONDS."""
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
        self.total += seconds
        self.count += 1


class Metrics:
    """Counters the API updates, and gauges read from the registry when scraped."""

    def __init__(self):
        self.started_at = time.time()
        self.reattached = 0
        self.requests = collections.Counter()
        self.latency = collections.defaultdict(Histogram)

    def observe_request(self, method, route, code, seconds):
        """Count one answered request of ROUTE (its template) and its latency."""
        self.requests[(method, route, str(code))] += 1
        self.latency[(method, route)].observe(seconds)


def label_text(labels):
    """Return {k="v",...} for LABELS (a list of pairs), escaped as Prometheus wants."""
    if not labels:
        return ""
    items = (f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
             for k, v in labels)
    return "{" + ",".join(items) + "}"


def family(name, kind, help_text, samples):
    """Return the lines of one metric family: HELP, TYPE and (labels, value) SAMPLES."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for suffix, labels, value in samples:
        lines.append(f"{name}{suffix}{label_text(labels)} {format_value(value)}")
    return lines


def format_value(value):
    """Return VALUE as Prometheus writes numbers."""
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return str(int(value))


def container_families(reg):
    """Return the families read from the registry: containers by status, live shims."""
    by_status = collections.Counter(c.init.status for c in reg.containers.values())
    processes = list(reg.all_processes())
    alive = sum(1 for p in processes if p.status in LIVE and not p.shim_gone)
    return (family("tether_containers", "gauge", "Containers by the status of their init process.",
                   [("", [("status", s)], by_status.get(s, 0)) for s in STATUSES]) +
            family("tether_processes", "gauge", "Processes (init and exec) known to the manager.",
                   [("", [], len(processes))]) +
            family("tether_shims_alive", "gauge", "Shims of processes not yet exited.",
                   [("", [], alive)]))


def event_families(event_counts):
    """Return the event counters: exits, OOM kills, lost shims, every event type."""
    return (family("tether_exits_total", "counter",
                   "Process exits seen since the manager started.",
                   [("", [], event_counts.get("exit", 0))]) +
            family("tether_events_total", "counter", "Lifecycle events published, by type.",
                   [("", [("type", t)], n) for t, n in sorted(event_counts.items())]))


def manager_families(metrics):
    """Return the manager's own gauges: start time (restarts) and reattached processes."""
    return (family("tether_manager_start_time_seconds", "gauge",
                   "When this manager started (Unix time): changes() counts restarts.",
                   [("", [], metrics.started_at)]) +
            family("tether_reattached_processes", "gauge",
                   "Processes found again by the scan when this manager started.",
                   [("", [], metrics.reattached)]))


def request_families(metrics):
    """Return the API request counter and latency histogram."""
    counts = [("", [("method", m), ("route", r), ("code", c)], n)
              for (m, r, c), n in sorted(metrics.requests.items())]
    samples = []
    for (method, route), hist in sorted(metrics.latency.items()):
        labels = [("method", method), ("route", route)]
        samples += [("_bucket", labels + [("le", str(b))], n)
                    for b, n in zip(BUCKETS, hist.counts)]
        samples += [("_bucket", labels + [("le", "+Inf")], hist.count),
                    ("_sum", labels, hist.total), ("_count", labels, hist.count)]
    return (family("tether_api_requests_total", "counter", "API requests answered.", counts) +
            family("tether_api_request_duration_seconds", "histogram",
                   "Time to answer an API request (streams: until the answer starts).",
                   samples))


def render(metrics, reg, event_counts):
    """Return the whole exposition text."""
    lines = (container_families(reg) + event_families(event_counts) +
             manager_families(metrics) + request_families(metrics))
    return "\n".join(lines) + "\n"
