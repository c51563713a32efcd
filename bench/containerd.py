"""A private containerd: its own config, root, state and socket under the temp dir."""

import os
import signal
import subprocess

from bench import peers

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


class Containerd:
    """containerd started for the benchmark and stopped at its end."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "containerd")
        self.socket = os.path.join(self.dir, "c.sock")
        self.state = os.path.join(self.dir, "state")
        self.proc = None
        os.makedirs(self.dir, exist_ok=True)
        self.config = os.path.join(self.dir, "config.toml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(root=os.path.join(self.dir, "root"), state=self.state,
                                  socket=self.socket))

    def start(self):
        """Start containerd; return once ctr reaches it."""
        log = open(os.path.join(self.dir, "containerd.log"), "ab")
        self.proc = subprocess.Popen(["containerd", "--config", self.config],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True)
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
