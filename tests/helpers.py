"""Test helpers shared by unit, integration and later suites (no mocks)."""

import asyncio
import inspect
import json
import os
import signal
import subprocess
import time

from shim.contract import layout


def wait_until(condition, timeout=10.0, interval=0.005, what="condition"):
    """Poll CONDITION until it returns a truthy value; return it, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)  # poll interval of a deadline loop, not synchronisation


async def wait_until_async(condition, timeout=10.0, interval=0.005, what="condition"):
    """Poll CONDITION (awaiting its result if need be) until truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)  # poll interval of a deadline loop, not synchronisation


def pid_alive(pid):
    """Return True if PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(b")") + 2:][:1] != b"Z"


def kill_if_alive(pid, sig=signal.SIGKILL):
    """Send SIG to PID, ignoring a process that is already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def read_cmdline(pid):
    """Return /proc/PID/cmdline (empty if gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def processes_mentioning(text):
    """Return pids (not ours) whose command line contains TEXT."""
    needle = text.encode()
    return [int(name) for name in os.listdir("/proc")
            if name.isdigit() and int(name) != os.getpid()
            and needle in read_cmdline(name) and pid_alive(int(name))]


def runc_list(runtime_root):
    """Return [(id, status, pid)] of the runc containers under RUNTIME_ROOT."""
    if not os.path.isdir(runtime_root):
        return []
    out = subprocess.run(["runc", "--root", runtime_root, "list", "--format", "json"],
                         capture_output=True, text=True, check=False).stdout
    return [(c["id"], c["status"], c["pid"]) for c in json.loads(out or "null") or []]


def runc_remove_all(runtime_root):
    """Kill and delete every runc container under RUNTIME_ROOT."""
    for cid, _status, _pid in runc_list(runtime_root):
        subprocess.run(["runc", "--root", runtime_root, "delete", "--force", cid],
                       capture_output=True, check=False)


def read_log_records(path):
    """Parse a CRI-format log into [(stream, tag, bytes)]."""
    records = []
    with open(path, "rb") as f:
        data = f.read()
    for line in data.split(b"\n")[:-1]:
        ts, stream, tag, text = line.split(b" ", 3)
        layout.parse_time(ts.decode())
        records.append((stream.decode(), tag.decode(), text))
    return records


def log_bytes(path, stream):
    """Reassemble the bytes one stream wrote from a CRI-format log."""
    out = bytearray()
    for s, tag, text in read_log_records(path):
        if s == stream:
            out += text + (b"\n" if tag == "F" else b"")
    return bytes(out)


class Messages(list):
    """A shim log stand-in that keeps (level, msg, fields) of every call."""

    def __call__(self, level, msg, **fields):
        self.append((level, msg, fields))


def read_bytes(path):
    """Return the contents of PATH."""
    with open(path, "rb") as f:
        return f.read()
