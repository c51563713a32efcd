"""Re-adoption through the manager: a shim SIGKILLed, with the manager up or down."""

import base64
import json
import os
import signal
import subprocess
import time

import pytest

import helpers
import managerfixture
from conftest import TICKER
from shim.contract import layout


@pytest.fixture
def manager(root, tmp):
    """A manager with re-adoption on; its containers force-deleted afterwards."""
    proc = managerfixture.ManagerProcess(root, log_path=os.path.join(tmp, "manager.log"),
                                         env={"TETHER_READOPT": "1"})
    yield from managerfixture.run_manager(proc)


def run_ticker(manager, cid, rootfs):
    manager.ok("POST", "/v1/containers", {"id": cid, "rootfs": rootfs, "args": TICKER})
    return manager.ok("POST", f"/v1/containers/{cid}/start")


def adopted(manager, cid, old_shim):
    """Return CID's state once a new shim owns it (running), else None."""
    state = manager.ok("GET", f"/v1/containers/{cid}")
    return state if state["shim_pid"] != old_shim and state["status"] == "running" else None


def test_du_shim_sigkill_with_the_manager_up_is_adopted(manager, rootfs):
    before = run_ticker(manager, "du-up", rootfs)
    killed = time.monotonic()
    os.kill(before["shim_pid"], signal.SIGKILL)
    after = helpers.wait_until(lambda: adopted(manager, "du-up", before["shim_pid"]), 10,
                               interval=0.001, what="a new shim for du-up")
    print(f"shim SIGKILL -> adopted (state running, new shim): "
          f"{1000 * (time.monotonic() - killed):.0f} ms")
    assert after["pid"] == before["pid"] and "error" not in after, after
    proc_dir = layout.process_dir(manager.root, "du-up")
    size = os.path.getsize(os.path.join(proc_dir, layout.OUTPUT_LOG))
    helpers.wait_until(lambda: os.path.getsize(os.path.join(proc_dir, layout.OUTPUT_LOG))
                       > size + 500, 5, what="output flowing into the same output.log")
    # The runtime's verbs and new execs work on the adopted container.
    done = manager.ok("POST", "/v1/containers/du-up/exec",
                      {"args": ["sh", "-c", "echo hi; exit 3"]})
    assert manager.ok("GET", f"/v1/containers/du-up/wait?exec_id={done['id']}")["exit_code"] == 3
    assert manager.ok("POST", "/v1/containers/du-up/pause")["status"] == "paused"
    assert manager.ok("POST", "/v1/containers/du-up/resume")["status"] == "running"
    logged = manager.ok("GET", "/v1/containers/du-up/logs?tail=5")
    last = json.loads(logged.splitlines()[-1])  # NDJSON records
    assert base64.b64decode(last["data"]) == b"tick\n"
    manager.ok("POST", "/v1/containers/du-up/kill", {"signal": "TERM"})
    stopped = helpers.wait_until(
        lambda: (s := manager.ok("GET", "/v1/containers/du-up"))["status"] == "stopped" and s,
        10, what="du-up stopped")
    assert stopped["exit_code"] == 5, stopped


def test_du_shim_sigkill_with_the_manager_down_is_adopted_at_start(manager, rootfs):
    before = run_ticker(manager, "du-down", rootfs)
    manager.kill()
    os.kill(before["shim_pid"], signal.SIGKILL)
    helpers.wait_until(lambda: not helpers.pid_alive(before["shim_pid"]), 10, what="shim gone")
    manager.start()
    after = helpers.wait_until(lambda: adopted(manager, "du-down", before["shim_pid"]), 10,
                               what="a new shim for du-down")
    assert "output" in after.get("error", ""), after  # its pipes died with the old shim
    manager.ok("POST", "/v1/containers/du-down/kill", {"signal": "TERM"})
    stopped = helpers.wait_until(
        lambda: (s := manager.ok("GET", "/v1/containers/du-down"))["status"] == "stopped" and s,
        10, what="du-down stopped")
    assert stopped["exit_code"] == 5, stopped


def test_du_tty_container_keeps_its_terminal_across_a_shim_sigkill(manager, rootfs):
    # The terminal's master is in the fd store (the shim's fds.json): no hang-up,
    # the output goes on, and resizes reach the terminal through the new shim.
    script = "trap 'exit 6' TERM; while :; do stty size; sleep 0.02; done"
    manager.ok("POST", "/v1/containers", {"id": "du-tty", "rootfs": rootfs, "tty": True,
                                          "args": ["sh", "-c", script]})
    before = manager.ok("POST", "/v1/containers/du-tty/start")
    os.kill(before["shim_pid"], signal.SIGKILL)
    after = helpers.wait_until(lambda: adopted(manager, "du-tty", before["shim_pid"]), 10,
                               what="a new shim for du-tty")
    assert "error" not in after, after
    log_path = os.path.join(layout.process_dir(manager.root, "du-tty"), layout.OUTPUT_LOG)
    manager.ok("POST", "/v1/containers/du-tty/resize", {"cols": 123, "rows": 45})
    helpers.wait_until(lambda: b"45 123" in helpers.log_bytes(log_path, "stdout"), 10,
                       what="the new size seen by the process")
    manager.ok("POST", "/v1/containers/du-tty/kill", {"signal": "TERM"})
    stopped = helpers.wait_until(
        lambda: (s := manager.ok("GET", "/v1/containers/du-tty"))["status"] == "stopped" and s,
        10, what="du-tty stopped")
    assert stopped["exit_code"] == 6, stopped


def test_du_stdin_stays_open_across_a_shim_sigkill_and_closes_when_asked(manager, rootfs):
    # The store keeps the stdin pipe's write end: `cat` sees no EOF when its shim
    # dies, takes input through the adopting shim, and ends at close_stdin.
    manager.ok("POST", "/v1/containers", {"id": "du-stdin", "rootfs": rootfs, "stdin": True,
                                          "args": ["cat"]})
    before = manager.ok("POST", "/v1/containers/du-stdin/start")
    proc_dir = layout.process_dir(manager.root, "du-stdin")
    log_path = os.path.join(proc_dir, layout.OUTPUT_LOG)
    fifo = os.open(os.path.join(proc_dir, layout.STDIN), os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fifo, b"before\n")
    finally:
        os.close(fifo)
    helpers.wait_until(lambda: helpers.log_bytes(log_path, "stdout") == b"before\n", 10,
                       what="the first line echoed")
    # Copied by the manager once it tracks the shim: its fd in /proc (the store's copy).
    helpers.wait_until(lambda: pipe_writers(manager.proc.pid, before["pid"]), 10,
                       what="the manager's copy of the stdin pipe")
    os.kill(before["shim_pid"], signal.SIGKILL)
    after = helpers.wait_until(lambda: adopted(manager, "du-stdin", before["shim_pid"]), 10,
                               what="a new shim for du-stdin")
    assert after["pid"] == before["pid"] and "error" not in after, after
    done = subprocess.run([*managerfixture.TETHER_ARGV, "--root", manager.root, "attach",
                           "du-stdin"], input=b"after\n", capture_output=True, timeout=30)
    assert (done.returncode, done.stdout) == (0, b"after\n"), done
    stopped = manager.ok("GET", "/v1/containers/du-stdin")
    assert (stopped["status"], stopped["exit_code"]) == ("stopped", 0), stopped
    assert helpers.log_bytes(log_path, "stdout") == b"before\nafter\n"


def pipe_writers(pid, container_pid):
    """Return True if PID holds an fd of the pipe that is CONTAINER_PID's stdin."""
    target = os.readlink(f"/proc/{container_pid}/fd/0")
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue  # closed meanwhile
    return False
