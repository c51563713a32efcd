"""The contenders: Tether (manager + CLI), runc alone, conmon + runc, containerd + ctr."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
RUNC = "/usr/sbin/runc"
PACKAGES = {"runc": "runc", "conmon": "conmon", "containerd": "containerd",
            "ctr": "containerd", "containerd-shim-runc-v2": "containerd"}


def ensure_packages():
    """Install the peers from Debian (apt-get) when one is missing."""
    missing = sorted({pkg for cmd, pkg in PACKAGES.items() if not shutil.which(cmd)})
    if not os.path.exists("/bin/busybox"):
        missing.append("busybox-static")
    if not missing:
        return []
    print(f"bench: installing {' '.join(missing)} from Debian", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return missing


def tether_bin():
    """Return the tether CLI as a user runs it (the venv's console script)."""
    path = os.path.join(VENV_BIN, "tether")
    return path if os.access(path, os.X_OK) else shutil.which("tether")


def run_quiet(argv, check=True, **kwargs):
    """Run ARGV with its output discarded (stderr shown on failure); return the exit code."""
    # stderr goes to a file, not a pipe: a detached container inherits it, and
    # waiting for EOF on a pipe it holds would never end (runc#1721).
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=err, **kwargs)
        if check and proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv[:4])}...: exit {proc.returncode}: "
                               f"{err.read().decode(errors='replace').strip()[:300]}")
    return proc.returncode


def wait_for(condition, timeout, what, interval=0.005):
    """Poll CONDITION until true; raise RuntimeError after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Tether:
    """A tether manager on its own root, driven through the CLI."""

    def __init__(self, root):
        self.root = root
        self.proc = None
        self.cli = [tether_bin(), "--root", root]

    def start(self):
        """Start `tether daemon` in the background; return once its socket answers."""
        log = open(os.path.join(os.path.dirname(self.root), "tether-manager.log"), "ab")
        self.proc = subprocess.Popen([*self.cli, "daemon"], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, start_new_session=True)
        log.close()
        wait_for(self.answers, 30, "the tether manager's socket")

    def answers(self):
        """Return True once the manager answers."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"tether daemon exited with {self.proc.returncode}")
        return self.client().health_ok()

    def client(self):
        """Return an API client (in-process; for setup and checks, not for timing)."""
        return ApiClient(os.path.join(self.root, "tether.sock"))

    def stop(self):
        """Stop the manager with SIGTERM (containers keep running)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        self.proc = None

    def rss_kb(self):
        """Return the manager's RSS in kB."""
        return status_kb(self.proc.pid, "VmRSS")


class ApiClient:
    """The bench's thin wrapper around manager.client."""

    def __init__(self, socket_path):
        if REPO not in sys.path:
            sys.path.insert(0, REPO)
        from manager.client import methods
        self.errors = (methods.ClientError,)
        self.client = methods.Client(socket_path, timeout=120)

    def health_ok(self):
        """Return True if the manager answers /health."""
        try:
            self.client.health()
        except self.errors:
            return False
        return True

    def __getattr__(self, name):
        return getattr(self.client, name)


def status_kb(pid, field):
    """Return FIELD (e.g. VmRSS) of /proc/PID/status in kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def memory_kb(pid):
    """Return (pss, uss) of PID in kB from smaps_rollup."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            values[parts[0].rstrip(":")] = parts[1]
    pss = int(values["Pss"])
    uss = int(values["Private_Clean"]) + int(values["Private_Dirty"])
    return pss, uss


def cpu_seconds(pid):
    """Return (utime+stime in seconds, exited) of PID, or (None, True) if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None, True
    fields = stat[stat.rindex(b")") + 2:].split()
    # A zombie has exited: its reaper (here pid 1) may take seconds to reap it.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), fields[0] == b"Z"


def follow_cpu(pid, interval=0.005):
    """Poll PID until it has exited; return (its last CPU seconds, the time it was seen gone)."""
    last = 0.0
    while True:
        cpu, exited = cpu_seconds(pid)
        last = last if cpu is None else cpu
        if exited:
            return last, time.monotonic()
        time.sleep(interval)


def pids_with_arg(text):
    """Return the pids whose command line contains TEXT (our unique temp dir)."""
    found = []
    needle = text.encode()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(int(name))
        except OSError:
            continue
    return found


def runc_ids(runc_root):
    """Return the ids of the containers runc knows under RUNC_ROOT."""
    out = subprocess.run([RUNC, "--root", runc_root, "list", "-q"], capture_output=True)
    return out.stdout.decode().split()


def runc_cleanup(runc_root):
    """Force-delete every container under RUNC_ROOT."""
    if os.path.isdir(runc_root):
        for cid in runc_ids(runc_root):
            run_quiet([RUNC, "--root", runc_root, "delete", "--force", cid], check=False)


def state_of(tether, cid):
    """Return the tether state object of CID (through the API)."""
    return tether.client().state(cid)


def read_json_line(fd):
    """Read one line from FD (blocking) and decode it as JSON."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return json.loads(data) if data.strip() else None
