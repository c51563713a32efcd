"""Output throughput into the persisted log, and the shim's CPU seconds per GiB.

Each run starts the container and ends when its output is all in the sink:
Tether and conmon when the shim (conmon) has exited, `runc run | cat` when
both have exited, ctr when `ctr run` returns. Start-up is included for all.

Before each run the page cache's dirty pages are written back (os.sync, not
timed): left dirty, the previous run's gigabyte made the next one wait for
writeback at the kernel's dirty limit, whichever contender it was.
"""

import os
import subprocess
import time

from bench import measure, peers

CONTENDERS = ["tether", "runc|cat", "conmon", "ctr-file"]
LINE = "x" * 99


def workload_args(kind, size):
    """Return the container args writing SIZE bytes of KIND (zeros or 100-byte lines)."""
    if kind == "zeros":
        return ["/bin/dd", "if=/dev/zero", "bs=65536", f"count={size // 65536}"]
    return ["/bin/sh", "-c", f"yes {LINE} | head -c {size}"]


class Throughput:
    """One run per call: return (MB/s, sink CPU seconds per GiB or None)."""

    def __init__(self, ws, kind, size):
        self.ws, self.kind, self.size = ws, kind, size
        self.bundle = ws.bundles[kind]
        self.count = 0

    def __call__(self, name):
        self.count += 1
        cid = self.ws.cid(f"{self.kind[0]}{self.count}")
        os.sync()
        t0 = time.monotonic()
        cpu, t1 = getattr(self, "run_" + name.replace("|", "_").replace("-", "_"))(cid)
        rate = self.size / (t1 - t0) / 1e6
        return rate, (None if cpu is None else cpu * (1 << 30) / self.size)

    def run_tether(self, cid):
        ws = self.ws
        peers.run_quiet([*ws.tether.cli, "run", "-d", cid, "--bundle", self.bundle])
        shim_pid = ws.tether.client().state(cid)["shim_pid"]
        cpu, t1 = peers.follow_cpu(shim_pid)
        ws.tether.client().delete(cid, force=True)
        return cpu, t1

    def run_runc_cat(self, cid):
        ws = self.ws
        runc = subprocess.Popen([peers.RUNC, "--root", ws.runc_root, "run", "--bundle",
                                 self.bundle, cid], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        cat = subprocess.Popen(["cat"], stdin=runc.stdout, stdout=subprocess.DEVNULL)
        runc.stdout.close()
        runc.wait()
        cat.wait()
        return None, time.monotonic()

    def run_conmon(self, cid):
        conmon_pid, _pid = self.ws.conmon.create(cid, self.bundle)
        self.ws.conmon.start(cid)
        cpu, t1 = peers.follow_cpu(conmon_pid)
        self.ws.conmon.remove(cid)
        os.unlink(os.path.join(self.ws.conmon.dir, cid, "ctr.log"))
        return cpu, t1

    def run_ctr_file(self, cid):
        ws = self.ws
        log = os.path.join(ws.dir, f"ctr-{cid}.log")
        peers.run_quiet(ws.containerd.run_argv(cid, ws.rootfs, workload_args(self.kind,
                                                                             self.size),
                                               "--rm", "--log-uri", "file://" + log))
        t1 = time.monotonic()
        os.unlink(log)
        return None, t1


def run(ws, results, runs, sizes):
    """Measure both workloads (SIZES: {"zeros": bytes, "lines": bytes})."""
    for kind, size in sizes.items():
        samples = measure.alternate(CONTENDERS, runs, Throughput(ws, kind, size))
        label = f"log throughput {kind} {size >> 20}MiB"
        for name in CONTENDERS:
            results.add("throughput", label, name, "MB/s", [s[0] for s in samples[name]])
        for name in ("tether", "conmon"):
            results.add("throughput", f"shim CPU per GiB ({kind})", name, "s",
                        [s[1] for s in samples[name]])
