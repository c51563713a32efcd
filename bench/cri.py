"""Kubernetes pods on containerd's CRI plugin: the tether handler against runc's.

    sudo .venv/bin/python -m bench.cri [--runs N] [--pods N]

Pod start is what a kubelet waits for before a pod's first container runs:
RunPodSandbox + CreateContainer + StartContainer of one container, on a
private containerd with CNI pod networking (tests/cri's node, in its own
network namespace; host network where that is not available). Per-pod memory
is the PSS of every shim process of N live pods (runc's: one
containerd-shim-runc-v2 per pod; tether's: its serving process and the shims
under it), divided by N, with containerd's own RSS beside it.
"""

import argparse
import os
import shutil
import sys
import tempfile

from bench import measure, peers

# tests/cri's node imports the suite's helpers module as pytest puts it on the path.
sys.path.insert(0, os.path.join(peers.REPO, "tests"))
from tests.cri import network  # noqa: E402
from tests.cri.client import CriError  # noqa: E402
from tests.cri.node import Node, processes_with, tether_shim_path  # noqa: E402
from tests.cri.pods import Pod  # noqa: E402

SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]


def handlers(node, logs_root):
    """Return the handlers that start a pod: runc, and tether when its shim is installed."""
    working = []
    for handler in ["runc", "tether"] if tether_shim_path() else ["runc"]:
        pod = Pod(node, handler, f"probe-{handler}", logs_root)
        try:
            pod.run()
            pod.start("c", SLEEPER)
            working.append(handler)
        except CriError as err:
            print(f"bench: cri: handler {handler} left out: {err}", file=sys.stderr)
        finally:
            pod.teardown_quietly()
    return working


STEPS = ("RunPodSandbox", "CreateContainer", "StartContainer")


def start_pod(node, handler, name, logs_root):
    """Run a pod with one container; return (pod, [ms of each of STEPS])."""
    t0 = measure.now_ms()
    pod = Pod(node, handler, name, logs_root).run()
    t1 = measure.now_ms()
    cid = pod.create("c", SLEEPER)
    t2 = measure.now_ms()
    node.client.call("StartContainer", container_id=cid)
    return pod, [t1 - t0, t2 - t1, measure.now_ms() - t2]


def time_pod_starts(node, logs_root, runs, names):
    """Return {handler: [[ms of each step]]} of RUNS pod starts per handler, alternating."""
    counter = [0]

    def one(handler):
        counter[0] += 1
        pod, steps = start_pod(node, handler, f"bench{counter[0]}", logs_root)
        pod.teardown()
        return steps
    return measure.alternate(names, runs, one)


def pod_memory(node, handler, logs_root, n):
    """Return (shim PSS kB and processes per pod, containerd RSS kB) with N pods alive."""
    pods = []
    try:
        for i in range(n):
            pods.append(start_pod(node, handler, f"mem-{handler}-{i}", logs_root)[0])
        shims = [pid for pid in processes_with(node.dir.encode()) if pid != node.proc.pid]
        pss = sum(peers.memory_kb(pid)[0] for pid in shims)
        return pss / n, len(shims) / n, peers.status_kb(node.proc.pid, "VmRSS")
    finally:
        for pod in pods:
            pod.teardown_quietly()


def run(ws, results, runs, pods_n):
    """Measure pod start and per-pod memory on each handler (bench section "cri")."""
    workdir = os.path.join(ws.dir, "cri")
    os.makedirs(workdir)
    net = network.PodNetwork(workdir, f"tbcri-{os.getpid()}") \
        if not network.plugins_missing() else None
    if net:
        net.create()
    node = Node(workdir, net)
    logs_root = os.path.join(workdir, "pods")
    try:
        node.start()
        node.import_images()
        mode = "host network" if net is None else "CNI bridge"
        names = handlers(node, logs_root)
        for handler, samples in time_pod_starts(node, logs_root, runs, names).items():
            results.add("cri", f"pod start ({mode})", handler, "ms", [sum(s) for s in samples])
            for i, step in enumerate(STEPS):
                results.add("cri", f"  {step}", handler, "ms", [s[i] for s in samples])
        for handler in names:
            per_pod, processes, daemon = pod_memory(node, handler, logs_root, pods_n)
            results.add("cri", f"shim PSS per pod (N={pods_n})", handler, "kB", per_pod)
            results.add("cri", "shim processes per pod", handler, "", processes)
            results.add("cri", f"containerd RSS (N={pods_n})", handler, "kB", daemon)
    finally:
        node.cleanup()
        if net:
            net.delete()


class Workspace:
    """A temp dir standing in for the bench's workspace when run alone."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tbc", dir="/tmp")


def main(argv=None):
    """Run this section alone and print its table."""
    p = argparse.ArgumentParser(prog="python -m bench.cri", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15, help="pod starts per handler")
    p.add_argument("--pods", type=int, default=20, help="live pods for the memory figure")
    opts = p.parse_args(argv)
    ws, results = Workspace(), measure.Results()
    try:
        run(ws, results, opts.runs, opts.pods)
    finally:
        shutil.rmtree(ws.dir, ignore_errors=True)
    print(measure.format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
