"""Re-adoption through the manager: a shim SIGKILLed, with the manager up or down."""

import json
import os
import signal

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


def logs(manager, cid):
    _status, body = manager.request("GET", f"/v1/containers/{cid}/logs")
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def test_du_shim_sigkill_with_the_manager_up_is_adopted(manager, rootfs):
    before = run_ticker(manager, "du-up", rootfs)
    os.kill(before["shim_pid"], signal.SIGKILL)
    after = helpers.wait_until(lambda: adopted(manager, "du-up", before["shim_pid"]), 10,
                               what="a new shim for du-up")
    assert after["pid"] == before["pid"] and "error" not in after, after
    proc_dir = layout.process_dir(manager.root, "du-up")
    size = os.path.getsize(os.path.join(proc_dir, layout.OUTPUT_LOG))
    helpers.wait_until(lambda: os.path.getsize(os.path.join(proc_dir, layout.OUTPUT_LOG))
                       > size + 500, 5, what="output flowing into the same output.log")
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
