"""A private containerd (own config, root, state, sockets; CRI off) and ctr helpers.

Tether's base directory for these tests is under the same temp dir
(TETHER_CONTAINERD_ROOT in containerd's environment, which its shims
inherit), and .venv/bin comes first on containerd's PATH so that it finds
containerd-shim-tether-v1. Everything is stopped and removed at the end, also
after a failure: tasks, containers, serving processes, shims, mounts.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

from ctrutil import NAMESPACE, RUNTIME, pids_with, wait_until  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
CONFIG = """version = 2
root = "{dir}/root"
state = "{dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{dir}/c.sock"
[ttrpc]
  address = "{dir}/c.sock.ttrpc"
[debug]
  level = "info"
"""


class Containerd:
    """containerd running on DIR; start(), kill() (SIGKILL), stop()."""

    def __init__(self, path):
        self.dir = path
        self.socket = os.path.join(path, "c.sock")
        self.base = os.path.join(path, "tether")
        self.config = os.path.join(path, "config.toml")
        self.proc = None
        with open(self.config, "w") as f:
            f.write(CONFIG.format(dir=path))
        self.env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
                        TETHER_CONTAINERD_ROOT=self.base)

    def start(self):
        """Start containerd; return once ctr reaches it."""
        with open(os.path.join(self.dir, "containerd.log"), "ab") as log:
            self.proc = subprocess.Popen(["containerd", "--config", self.config],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env, start_new_session=True)
        wait_until(self._answers, 30, "containerd's socket")

    def _answers(self):
        if self.proc.poll() is not None:
            pytest.fail(f"containerd exited with {self.proc.returncode}: see {self.dir}")
        return os.path.exists(self.socket) and self.ctr("version", check=False).returncode == 0

    def kill(self):
        """SIGKILL containerd (its shims and tasks live on)."""
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        """SIGTERM containerd and wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def ctr(self, *args, check=True, timeout=60, input=None):
        """Run ctr ARGS against our containerd; return the CompletedProcess."""
        argv = ["ctr", "--address", self.socket, "--namespace", NAMESPACE, *args]
        done = subprocess.run(argv, capture_output=True, timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check and done.returncode != 0:
            pytest.fail(f"{' '.join(args)} exited {done.returncode}: "
                        f"{done.stderr.decode(errors='replace')}")
        return done

    def run_argv(self, cid, rootfs, args, *options):
        """Return the ctr argv of `run --runtime tether --rootfs ROOTFS OPTIONS CID ARGS`."""
        return ["ctr", "--address", self.socket, "--namespace", NAMESPACE, "run",
                "--runtime", RUNTIME, *options, "--rootfs", rootfs, cid, *args]

    def remove(self, cid):
        """Kill and delete the task and the container CID (failures ignored)."""
        self.ctr("task", "kill", "-a", "-s", "SIGKILL", cid, check=False)
        self.ctr("task", "delete", "--force", cid, check=False)
        self.ctr("container", "delete", cid, check=False)

    def cleanup_all(self):
        """Remove every container of our namespace."""
        if self.proc is None or self.proc.poll() is not None:
            return
        listed = self.ctr("container", "list", "-q", check=False).stdout.decode().split()
        for cid in listed:
            self.remove(cid)


def kill_leftovers(base):
    """SIGKILL every process whose command line names BASE (serving processes, shims)."""
    for pid in pids_with(base):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def unmount_under(path):
    """Unmount anything still mounted below PATH."""
    with open("/proc/self/mounts") as f:
        targets = [line.split()[1] for line in f if line.split()[1].startswith(path)]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False)


@pytest.fixture(scope="session")
def containerd():
    """A private containerd for the session (tests may kill and restart it)."""
    if shutil.which("containerd") is None or shutil.which("ctr") is None:
        pytest.fail("containerd is not installed: apt-get install -y containerd")
    if not os.path.exists(os.path.join(VENV_BIN, "containerd-shim-tether-v1")):
        pytest.fail("containerd-shim-tether-v1 is not installed: .venv/bin/pip install -e .")
    path = tempfile.mkdtemp(prefix="ttcd", dir="/tmp")
    daemon = Containerd(path)
    try:
        daemon.start()
        yield daemon
    finally:
        try:
            daemon.cleanup_all()
        finally:
            daemon.stop()
            kill_leftovers(daemon.base)
            unmount_under(path)
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def cd(containerd):
    """The session's containerd, running, with no containers left by this test."""
    if containerd.proc.poll() is not None:
        containerd.start()
    yield containerd
    if containerd.proc.poll() is not None:
        containerd.start()
    containerd.cleanup_all()


@pytest.fixture
def cid(request):
    """A container id unique to the test."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", request.node.name) if w and w != "test"]
    return "tcd-" + "-".join(words)[:40].strip("-") + f"-{os.getpid() % 10000}"
