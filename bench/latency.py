"""Start latency (`run -d` until the command returns) and the round trip of `true`."""

import os
import subprocess

from bench import measure, peers

CONTENDERS = ["tether", "runc", "conmon", "ctr"]


class Latency:
    """Time one start or one round trip per call, then clean up (untimed)."""

    def __init__(self, ws):
        self.ws = ws
        self.count = 0

    def next_id(self, prefix):
        """Return a fresh container id."""
        self.count += 1
        return self.ws.cid(f"{prefix}{self.count}")

    def start(self, name):
        """Time a detached start of a `sleep` container by NAME; return ms."""
        ws, cid = self.ws, self.next_id("s")
        argv = {
            "tether": [*ws.tether.cli, "run", "-d", cid, "--bundle", ws.bundles["sleep"]],
            "runc": [peers.RUNC, "--root", ws.runc_root, "run", "-d", "--bundle",
                     ws.bundles["sleep"], cid],
            "ctr": ws.containerd.run_argv(cid, ws.rootfs, ["/bin/sleep", "100000"], "-d"),
        }.get(name)
        t0 = measure.now_ms()
        if argv is None:
            ws.conmon.create(cid, ws.bundles["sleep"])
            ws.conmon.start(cid)
        else:
            peers.run_quiet(argv)
        elapsed = measure.now_ms() - t0
        self.remove(name, cid)
        return elapsed

    def round_trip(self, name):
        """Time `true` from the command to its exit code; return ms."""
        ws, cid = self.ws, self.next_id("t")
        argv = {
            "tether": [*ws.tether.cli, "run", "--rm", cid, "--bundle", ws.bundles["true"]],
            "runc": [peers.RUNC, "--root", ws.runc_root, "run", "--bundle",
                     ws.bundles["true"], cid],
            "ctr": ws.containerd.run_argv(cid, ws.rootfs, ["/bin/true"], "--rm"),
        }.get(name)
        t0 = measure.now_ms()
        if argv is None:
            self._conmon_true(cid)
        else:
            peers.run_quiet(argv)
        elapsed = measure.now_ms() - t0
        if name == "conmon":
            self.remove(name, cid)
        return elapsed

    def _conmon_true(self, cid):
        conmon = self.ws.conmon
        conmon.create(cid, self.ws.bundles["true"])
        conmon.start(cid)
        path = conmon.exit_path(cid)
        peers.wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0, 10,
                       "conmon's exit file", 0.0005)

    def remove(self, name, cid):
        """Delete the container CID of NAME (untimed)."""
        ws = self.ws
        if name == "tether":
            ws.tether.client().delete(cid, force=True)
        elif name == "runc":
            peers.run_quiet([peers.RUNC, "--root", ws.runc_root, "delete", "--force", cid])
        elif name == "conmon":
            ws.conmon.remove(cid)
        else:
            ws.containerd.remove(cid)


def run(ws, results, runs):
    """Measure start latency and the `true` round trip, contenders alternating."""
    lat = Latency(ws)
    for label, fn, metric in (("start", lat.start, "start (run -d returns)"),
                              ("roundtrip", lat.round_trip, "true round trip")):
        samples = measure.alternate(CONTENDERS, runs, fn)
        for name in CONTENDERS:
            results.add(label, metric, name, "ms", samples[name])
    subprocess.run(["sync"], check=False)
