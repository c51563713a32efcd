"""Manager restart with N live containers, and scale: N alive at once, the manager's RSS."""

import concurrent.futures
import time

from bench import measure, peers

PARALLEL = 4


def start_many(ws, first, last):
    """Create and start containers sc{first}..sc{last-1} through the API, PARALLEL at once."""
    def one(i):
        client = ws.tether.client()
        client.create({"id": ws.cid(f"sc{i}"), "bundle": ws.bundles["sleep"]})
        client.start(ws.cid(f"sc{i}"))
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(one, range(first, last)))


def delete_all(ws):
    """Delete every tether container, PARALLEL at once."""
    def one(cid):
        ws.tether.client().delete(cid, force=True)
    ids = [c["id"] for c in ws.tether.client().list()]
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(one, ids))


def all_running(ws, count):
    """Return True if the manager answers and lists COUNT running containers."""
    client = ws.tether.client()
    try:
        listed = client.list()
    except client.errors:
        return False
    return sum(1 for c in listed if c.get("status") == "running") == count


def time_restart(ws, count):
    """Stop the manager, start it again; return ms until every state is right."""
    ws.tether.stop()
    t0 = measure.now_ms()
    ws.tether.start()
    peers.wait_for(lambda: all_running(ws, count), 60, f"{count} running after restart",
                   0.002)
    return measure.now_ms() - t0


def run(ws, results, steps, restarts):
    """Grow to each count in STEPS; at each: RESTARTS restarts; at the last: scale figures."""
    have = 0
    try:
        for count in steps:
            t0 = time.monotonic()
            start_many(ws, have, count)
            have = count
            rate = (count - (steps[steps.index(count) - 1] if steps.index(count) else 0)) / \
                (time.monotonic() - t0)
            results.add("scale", f"containers started per s (to {count})", "tether", "1/s",
                        rate)
            samples = [time_restart(ws, count) for _ in range(restarts)]
            results.add("restart", f"restart, all states right (N={count})", "tether", "ms",
                        samples)
        results.add("scale", "containers alive at once", "tether", "",
                    sum(1 for c in ws.tether.client().list() if c["status"] == "running"))
        results.add("scale", f"manager RSS (N={have})", "tether", "kB", ws.tether.rss_kb())
    finally:
        delete_all(ws)
