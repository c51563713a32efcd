"""Output that could not be kept is said: an `output-lost` event and the state's output_lost."""

import json
import os
import signal

import pytest

import helpers
import managerfixture
from conftest import TICKER


@pytest.fixture
def manager(root, tmp):
    """A manager with re-adoption on; its containers force-deleted afterwards."""
    proc = managerfixture.ManagerProcess(root, log_path=os.path.join(tmp, "manager.log"),
                                         env={"TETHER_READOPT": "1"})
    yield from managerfixture.run_manager(proc)


def journaled(root, kind):
    """Return the events of KIND in the manager's journal (ROOT/events.log)."""
    with open(os.path.join(root, "events.log")) as f:
        return [e for e in map(json.loads, f) if e["type"] == kind]


def test_du_a_shim_dead_while_the_manager_was_down_publishes_output_lost(manager, rootfs):
    manager.ok("POST", "/v1/containers", {"id": "du-lost", "rootfs": rootfs, "args": TICKER})
    before = manager.ok("POST", "/v1/containers/du-lost/start")
    manager.kill()
    os.kill(before["shim_pid"], signal.SIGKILL)
    helpers.wait_until(lambda: not helpers.pid_alive(before["shim_pid"]), 10, what="shim gone")
    manager.start()
    after = helpers.wait_until(
        lambda: (s := manager.ok("GET", "/v1/containers/du-lost"))["shim_pid"] !=
        before["shim_pid"] and s.get("output_lost") and s, 10, what="du-lost adopted")
    # Nobody held the pipes: the count is not known, and is not invented.
    assert after["output_lost"]["bytes"] == "unknown", after
    events = helpers.wait_until(lambda: journaled(manager.root, "output-lost"), 5,
                                what="the output-lost event")
    assert events[0]["id"] == "du-lost" and events[0]["bytes"] == "unknown", events
    manager.ok("POST", "/v1/containers/du-lost/kill", {"signal": "TERM"})
    helpers.wait_until(lambda: manager.ok("GET", "/v1/containers/du-lost")["status"] ==
                       "stopped", 10, what="du-lost stopped")
