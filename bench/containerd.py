"""A private containerd, and `ctr` with Tether's shim against containerd-shim-runc-v2.

Section "ctr": `ctr run -d` until it returns, the round trip of `ctr run --rm
/bin/true`, and the memory per container of N live `sleep` tasks (every
process of the runtime: runc.v2's shims; Tether's serving process, zygote and
tether-shims, divided by N), runtime io.containerd.tether.v1 against
io.containerd.runc.v2, alternating in one run on one containerd.
"""

import os
import signal
import subprocess
import sys

from bench import measure, peers

CONFIG = """version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[debug]
  level = "warn"
"""
NAMESPACE = "bench"
RUNTIMES = {"tether": "io.containerd.tether.v1", "runc.v2": "io.containerd.runc.v2"}
SHIM = "containerd-shim-tether-v1"


class Containerd:
    """containerd started for the benchmark and stopped at its end."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "containerd")
        self.socket = os.path.join(self.dir, "c.sock")
        self.state = os.path.join(self.dir, "state")
        # Tether's groups live under our temp dir: its processes name it, and
        # the workspace's cleanup finds them.
        self.tether_base = os.path.join(self.dir, "tether")
        self.proc = None
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "config.toml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(root=os.path.join(self.dir, "root"), state=self.state,
                                  socket=self.socket))

    def start(self):
        """Start containerd; return once ctr reaches it."""
        log = open(os.path.join(self.dir, "containerd.log"), "ab")
        venv_bin = os.path.dirname(os.path.abspath(sys.executable))
        env = dict(os.environ, TETHER_CONTAINERD_ROOT=self.tether_base,
                   PATH=venv_bin + os.pathsep + os.environ.get("PATH", ""))
        self.proc = subprocess.Popen(["containerd", "--config", self.config],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     env=env, start_new_session=True)
        log.close()
        peers.wait_for(lambda: self._answers(), 30, "containerd's socket", 0.05)

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"containerd exited with {self.proc.returncode}")
        return os.path.exists(self.socket) and \
            peers.run_quiet(self.ctr("version"), check=False) == 0

    def ctr(self, *args):
        """Return a ctr argv for our containerd and namespace."""
        return ["ctr", "--address", self.socket, "--namespace", NAMESPACE, *args]

    def run_argv(self, cid, rootfs, args, *options):
        """Return `ctr run --rootfs` for ARGS."""
        return self.ctr("run", *options, "--rootfs", rootfs, cid, *args)

    def task_pid(self, cid):
        """Return the container process's pid (the shim's init.pid file)."""
        path = os.path.join(self.state, "io.containerd.runtime.v2.task", NAMESPACE, cid,
                            "init.pid")
        with open(path) as f:
            return int(f.read().strip())

    def shim_pids(self):
        """Return the pids of the shims of our containerd."""
        return [pid for pid in peers.pids_with_arg(self.socket) if pid != self.proc.pid
                and b"containerd-shim" in open(f"/proc/{pid}/cmdline", "rb").read()]

    def remove(self, cid):
        """Kill and delete the task and the container CID."""
        peers.run_quiet(self.ctr("task", "kill", "-s", "SIGKILL", cid), check=False)
        peers.run_quiet(self.ctr("task", "delete", "--force", cid), check=False)
        peers.run_quiet(self.ctr("container", "delete", cid), check=False)

    def cleanup(self):
        """Remove every container, then stop containerd."""
        if self.proc is None:
            return
        out = subprocess.run(self.ctr("container", "list", "-q"), capture_output=True)
        for cid in out.stdout.decode().split():
            self.remove(cid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def tether_installed():
    """Return True if the venv has Tether's containerd shim."""
    return os.access(os.path.join(os.path.dirname(os.path.abspath(sys.executable)),
                                  SHIM), os.X_OK)


def runtime_pids(ws, name):
    """Return the pids of every process of runtime NAME serving our containerd."""
    if name == "tether":
        return peers.pids_with_arg(ws.containerd.tether_base)
    return [pid for pid in ws.containerd.shim_pids()
            if b"runc-v2" in open(f"/proc/{pid}/cmdline", "rb").read()]


class CtrRuns:
    """Time `ctr run -d` and `ctr run --rm true` per runtime; clean up untimed."""

    def __init__(self, ws):
        self.ws = ws
        self.count = 0

    def argv(self, name, prefix, args, option):
        """Return a fresh container's `ctr run` argv and its id."""
        self.count += 1
        cid = self.ws.cid(f"{prefix}{self.count}")
        return cid, self.ws.containerd.run_argv(cid, self.ws.rootfs, args, "--runtime",
                                                RUNTIMES[name], option)

    def start(self, name):
        """Time `ctr run -d` of a sleep task; return ms."""
        cid, argv = self.argv(name, "cs", ["/bin/sleep", "100000"], "-d")
        t0 = measure.now_ms()
        peers.run_quiet(argv)
        elapsed = measure.now_ms() - t0
        self.ws.containerd.remove(cid)
        return elapsed

    def round_trip(self, name):
        """Time `ctr run --rm /bin/true`; return ms."""
        argv = self.argv(name, "ct", ["/bin/true"], "--rm")[1]
        t0 = measure.now_ms()
        peers.run_quiet(argv)
        return measure.now_ms() - t0


def task_memory(ws, runs, name, n):
    """Return the PSS kB per task and the processes per task with N sleep tasks of NAME."""
    cids = []
    try:
        for _ in range(n):
            cid, argv = runs.argv(name, "cm", ["/bin/sleep", "100000"], "-d")
            cids.append(cid)
            peers.run_quiet(argv)
        pids = runtime_pids(ws, name)
        return sum(peers.memory_kb(pid)[0] for pid in pids) / n, len(pids) / n
    finally:
        for cid in cids:
            ws.containerd.remove(cid)


def run(ws, results, runs, n):
    """Measure section "ctr": Tether's shim against runc.v2 under the same containerd."""
    if not tether_installed():
        print(f"bench: ctr: {SHIM} not in the venv, section left out", file=sys.stderr)
        return
    names = list(RUNTIMES)
    ctr = CtrRuns(ws)
    for label, fn, metric in (("ctr", ctr.start, "ctr run -d returns"),
                              ("ctr", ctr.round_trip, "ctr run --rm true")):
        samples = measure.alternate(names, runs, fn)
        for name in names:
            results.add(label, metric, name, "ms", samples[name])
    for name in names:
        per_task, processes = task_memory(ws, ctr, name, n)
        results.add("ctr", f"PSS per task (N={n})", name, "kB", per_task)
        results.add("ctr", "processes per task", name, "", processes)
