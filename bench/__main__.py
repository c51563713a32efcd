"""Benchmark Tether side by side with runc, conmon and containerd.

    sudo .venv/bin/python -m bench [--quick] [--runs N] [--only SECTION,...]

Installs the peers from Debian when missing, runs the contenders alternately
on the same busybox bundles, prints one table and writes bench/results/*.json.
Nothing is left running: every container, shim and the private containerd
are stopped at the end, also after a failure. See bench/README.md.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from bench import (conmon, containerd, cri, exitevent, latency, measure, memory, peers, scale,
                   throughput)

SECTIONS = ("memory", "latency", "throughput", "exitevent", "scale", "ctr", "cri")
BUNDLES = {"sleep": ["sleep", "100000"], "true": ["true"], "exit": exitevent.ARGS}


def parse_args(argv):
    """Parse the command line."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke mode: 1 run of each, small sizes and counts")
    p.add_argument("--runs", type=int, help="runs per latency measurement (default 15)")
    p.add_argument("--only", help=f"comma-separated sections of {','.join(SECTIONS)}")
    p.add_argument("--out", default=os.path.join(peers.REPO, "bench", "results"),
                   help="directory for the JSON results")
    return p.parse_args(argv)


def plan(opts):
    """Return the sizes and counts of this run."""
    if opts.quick:
        return {"runs": opts.runs or 1, "heavy_runs": 1, "memory_n": 5,
                "sizes": {"zeros": 64 << 20, "lines": 16 << 20},
                "scale_steps": [10, 20], "restarts": 1}
    return {"runs": opts.runs or 15, "heavy_runs": 5, "memory_n": 20,
            "sizes": {"zeros": 1 << 30, "lines": 256 << 20},
            "scale_steps": [100, 500], "restarts": 3}


class Workspace:
    """The temp dir with the bundles and every contender's state."""

    def __init__(self, sizes):
        # Short: tether's API socket lives under it (sun_path is 108 bytes).
        self.dir = tempfile.mkdtemp(prefix="tb", dir="/tmp")
        self.tag = os.path.basename(self.dir)
        self.runc_root = os.path.join(self.dir, "runc")
        self.bundles = {}
        args = dict(BUNDLES)
        for kind, size in sizes.items():
            args[kind] = throughput.workload_args(kind, size)
        for name, argv in args.items():
            self.bundles[name] = self.make_bundle(name, argv)
        self.rootfs = os.path.join(self.bundles["sleep"], "rootfs")  # for ctr --rootfs
        self.tether = peers.Tether(os.path.join(self.dir, "t"))
        self.conmon = conmon.Conmon(self.dir)
        self.containerd = containerd.Containerd(self.dir)

    def cid(self, name):
        """Return a container id unique to this run (runc's default cgroup is /ID)."""
        return f"{self.tag}-{name}"

    def make_bundle(self, name, argv):
        """Write bundle NAME for ARGV (a busybox rootfs of its own)."""
        bundle = os.path.join(self.dir, "b-" + name)
        mkbundle = os.path.join(peers.REPO, "contrib", "mkbundle.py")
        peers.run_quiet([sys.executable, mkbundle, bundle, "--", *argv])
        return bundle

    def start(self):
        """Start the tether manager and containerd."""
        os.makedirs(self.runc_root)
        self.tether.start()
        self.containerd.start()

    def cleanup(self):
        """Stop everything we started; remove the temp dir."""
        steps = [lambda: scale.delete_all(self), self.tether.stop,
                 lambda: peers.runc_cleanup(os.path.join(self.dir, "t", "runc")),
                 lambda: peers.runc_cleanup(self.runc_root), self.conmon.cleanup,
                 self.containerd.cleanup, self.kill_leftovers]
        for step in steps:
            try:
                step()
            except Exception as err:  # go on: the next step may still free something
                print(f"bench: cleanup: {err}", file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill_leftovers(self):
        """SIGKILL any process still naming our temp dir (shims, conmon, containerd-shim)."""
        for pid in peers.pids_with_arg(self.dir):
            print(f"bench: cleanup: kill leftover pid {pid}", file=sys.stderr)
            os.kill(pid, signal.SIGKILL)


def run_sections(ws, results, sections, p):
    """Run the selected SECTIONS."""
    jobs = {"memory": lambda: memory.run(ws, results, p["memory_n"]),
            "latency": lambda: latency.run(ws, results, p["runs"]),
            "throughput": lambda: throughput.run(ws, results, p["heavy_runs"], p["sizes"]),
            "exitevent": lambda: exitevent.run(ws, results, p["runs"]),
            "scale": lambda: scale.run(ws, results, p["scale_steps"], p["restarts"]),
            "ctr": lambda: containerd.run(ws, results, p["runs"], p["memory_n"]),
            "cri": lambda: cri.run(ws, results, p["runs"], p["memory_n"])}
    for name in sections:
        # The throughput section leaves GiBs of dirty log pages: their writeback
        # throttled the writes of the next section (exit -> event medians from
        # 1.9 to 5 ms). Every section starts on a settled disk.
        subprocess.run(["sync"], check=False)
        t0 = time.monotonic()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        jobs[name]()
        print(f"bench: {name} done in {time.monotonic() - t0:.0f}s", file=sys.stderr)


def main(argv=None):
    """Run the benchmark; return the exit status."""
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        print("bench: run as root (containers need runc as root)", file=sys.stderr)
        return 2
    sections = opts.only.split(",") if opts.only else list(SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        print(f"bench: unknown section {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    installed = peers.ensure_packages()
    p = plan(opts)
    results = measure.Results()
    t0 = time.monotonic()
    ws = Workspace(p["sizes"])
    signal.signal(signal.SIGTERM, stop_on_signal)  # clean up on SIGTERM too
    try:
        ws.start()
        run_sections(ws, results, sections, p)
    finally:
        ws.cleanup()
    from bench import targets
    targets.evaluate(results, p)
    print(measure.format_table(results))
    path = measure.write_json(results, opts.out, {
        "quick": opts.quick, "plan": p, "installed": installed, "versions": versions(),
        "seconds": round(time.monotonic() - t0, 1)})
    print(f"\nbench: {time.monotonic() - t0:.0f}s; results in {path}")
    return 0


def stop_on_signal(signum, _frame):
    """Turn SIGTERM into SystemExit, so that the cleanup runs."""
    raise SystemExit(128 + signum)


def versions():
    """Return the peers' versions."""
    found = {}
    for name, argv in (("runc", ["runc", "--version"]), ("conmon", ["conmon", "--version"]),
                       ("containerd", ["containerd", "--version"])):
        out = subprocess.run(argv, capture_output=True, text=True).stdout
        found[name] = out.splitlines()[0] if out else None
    return found


if __name__ == "__main__":
    sys.exit(main())
