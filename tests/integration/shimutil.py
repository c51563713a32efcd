"""Start tether-shim from tests and watch its process directory."""

import json
import os
import select
import subprocess
import sys

import helpers
from shim.contract import layout

# The console script beside this interpreter, as a person runs it; else the module.
_SCRIPT = os.path.join(os.path.dirname(sys.executable), "tether-shim")
SHIM = [_SCRIPT] if os.access(_SCRIPT, os.X_OK) else [sys.executable, "-m", "shim"]


class Started:
    """What a shim start returned: its exit status, output, and the process directory."""

    def __init__(self, proc, proc_dir):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.proc_dir = proc_dir
        self.shim_pid = self.pid = None
        if proc.returncode == 0:
            _word, shim_pid, _word2, pid = proc.stdout.split()
            self.shim_pid, self.pid = int(shim_pid), int(pid)

    def path(self, name):
        """Return the path of NAME in the process directory."""
        return os.path.join(self.proc_dir, name)


def proc_dir_of(root, cid, exec_id=None):
    """Return ROOT/containers/CID/(init|EXEC_ID)."""
    return layout.process_dir(root, cid, exec_id)


def shim_argv(root, bundle, cid="c", exec_id=None, args=()):
    """Return the tether-shim command line for a container under ROOT."""
    return SHIM + ["--id", cid, "--bundle", bundle,
                   "--state-dir", proc_dir_of(root, cid, exec_id),
                   "--runtime-root", os.path.join(root, "runc"), *args]


def start_shim(root, bundle, cid="c", *args, exec_id=None, check=True, **popen):
    """Run tether-shim (it detaches) and return a Started; CHECK asserts success."""
    proc = subprocess.run(shim_argv(root, bundle, cid, exec_id, args), capture_output=True,
                          text=True, timeout=60, check=False, **popen)
    started = Started(proc, proc_dir_of(root, cid, exec_id))
    if check:
        assert proc.returncode == 0, f"shim failed ({proc.returncode}): {proc.stderr}"
    return started


def runc(root, *args, check=True):
    """Run runc with ROOT/runc as its root."""
    return subprocess.run(["runc", "--root", os.path.join(root, "runc"), *args],
                          capture_output=True, text=True, check=check, timeout=30)


def runc_status(root, cid):
    """Return runc's status of CID (created, running, stopped)."""
    return json.loads(runc(root, "state", cid).stdout)["status"]


def wait_exit_status(proc_dir, timeout=20):
    """Wait for exitStatus and return it."""
    return helpers.wait_until(lambda: layout.read_exit_status(proc_dir), timeout,
                              what=f"exitStatus in {proc_dir}")


def wait_shim_gone(shim_pid, timeout=20):
    """Wait until the shim process has exited."""
    helpers.wait_until(lambda: not helpers.pid_alive(shim_pid), timeout,
                       what=f"shim {shim_pid} to exit")


def finish(started, timeout=20):
    """Wait for the exit status and the shim's exit; return the exit status."""
    status = wait_exit_status(started.proc_dir, timeout)
    wait_shim_gone(started.shim_pid, timeout)
    return status


def kill_and_finish(root, started, cid="c", signal="KILL"):
    """Kill the container through runc and wait for its shim to finish."""
    runc(root, "kill", cid, signal, check=False)
    return finish(started)


def output_log(started):
    """Return the path of output.log."""
    return started.path(layout.OUTPUT_LOG)


def shim_log_records(started):
    """Return shim.log as a list of dicts."""
    with open(started.path(layout.SHIM_LOG), "rb") as f:
        return [json.loads(line) for line in f.read().splitlines()]


def shim_logged(started, text):
    """Return True once a shim.log message contains TEXT."""
    return any(text in r["msg"] for r in shim_log_records(started))


def write_control(started, obj):
    """Write one control line to the shim's control FIFO."""
    fd = os.open(started.path(layout.CONTROL), os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, json.dumps(obj).encode() + b"\n")
    finally:
        os.close(fd)


def write_stdin(started, data):
    """Write DATA to the shim's stdin FIFO."""
    fd = os.open(started.path(layout.STDIN), os.O_WRONLY)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def log_contains(started, needle, stream="stdout"):
    """Return True once output.log holds NEEDLE in STREAM's bytes."""
    path = output_log(started)
    return os.path.exists(path) and needle in helpers.log_bytes(path, stream)


def open_fifo_reader(path):
    """Open an output FIFO for reading without waiting for the writer."""
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK)


def read_fifo_to_eof(fd, timeout=30):
    """Read an open FIFO fd until the writer hangs up; return the bytes."""
    chunks = []
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        if not poller.poll(timeout * 1000):
            raise AssertionError(f"no data or EOF on the FIFO for {timeout}s")
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            continue
        if not data:
            return b"".join(chunks)
        chunks.append(data)
