"""A real manager process for CLI tests, and a helper that runs the `tether` CLI.

Import the fixtures into a test module with `from cliutil import manager, tether`.
"""

import json
import os
import select
import signal
import subprocess

import pytest

import helpers
import managerfixture
# The names the CLI tests import from here (the manager fixture is managerfixture's).
from managerfixture import BIN_DIR, REPO, TETHER, TETHER_ARGV, socket_answers  # noqa: F401


def run_tether(root, *args, input=None, timeout=60, binary=False):
    """Run `tether --root ROOT ARGS...`; return (rc, stdout, stderr)."""
    proc = subprocess.run(TETHER_ARGV + ["--root", root, *args], input=input,
                          capture_output=True, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)
    if binary:
        return proc.returncode, proc.stdout, proc.stderr
    return (proc.returncode, proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"))


def spawn_tether(root, *args):
    """Start `tether --root ROOT ARGS...` with its stdout and stderr on pipes."""
    return subprocess.Popen(TETHER_ARGV + ["--root", root, *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_until(proc, needle, timeout=10):
    """Read PROC's stdout until it holds NEEDLE (bytes, or a test of the bytes); return them."""
    data = proc.read_so_far if hasattr(proc, "read_so_far") else b""
    found = needle if callable(needle) else (lambda data: needle in data)

    def more():
        nonlocal data
        if found(data):
            return True
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"EOF before {needle!r}; got {data!r}")
            data += chunk
        return found(data)

    try:
        helpers.wait_until(more, timeout, interval=0, what=f"{needle!r} on stdout")
    finally:
        proc.read_so_far = data
    return data


def stop_process(proc):
    """Kill PROC (a client we started) and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()


class Manager(managerfixture.ManagerProcess):
    """A `tether daemon` subprocess on a private root, driven through the CLI."""

    def tether(self, *args, **kwargs):
        """Run the CLI against this manager; return (rc, stdout, stderr)."""
        return run_tether(self.root, *args, **kwargs)

    def state(self, cid):
        """Return the state object of CID through `tether state`."""
        rc, out, err = self.tether("state", cid)
        assert rc == 0, err
        return json.loads(out)

    def wait_status(self, cid, status, timeout=10):
        """Wait until CID exists and has STATUS; return its state."""
        def has_status():
            rc, out, _err = self.tether("state", cid)  # 125 until it is created
            current = json.loads(out) if rc == 0 else {}
            return current if current.get("status") == status else None
        return helpers.wait_until(has_status, timeout, what=f"{cid} {status}")


@pytest.fixture
def manager(root, tmp):
    """A running manager on the `root` fixture's root; killed with SIGKILL afterwards."""
    yield from managerfixture.run_manager(Manager(root, os.path.join(tmp, "manager.log")),
                                          signal.SIGKILL)


@pytest.fixture
def tether(manager):
    """Run the CLI against the test's manager: tether(*args) -> (rc, stdout, stderr)."""
    return manager.tether
