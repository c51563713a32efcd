"""The README's scenario through the CLI: the manager dies, the containers live on."""

import json
import os
import signal

from cliutil import manager, read_until, spawn_tether, stop_process, tether  # noqa: F401
import helpers
from shim.contract import layout


def test_manager_killed_while_one_runs_and_another_exits(tether, manager, make_bundle):
    assert tether("run", "-d", "long", "--bundle", make_bundle(["sleep", "1000"]))[0] == 0
    waiter = make_bundle(["sh", "-c", "trap 'exit 7' USR1; echo ready; "
                                      "while :; do sleep 0.02; done"])
    assert tether("run", "-d", "short", "--bundle", waiter)[0] == 0
    helpers.wait_until(lambda: "ready" in tether("logs", "short")[1], what="the trap")
    long_pid, short_pid = manager.state("long")["pid"], manager.state("short")["pid"]

    manager.kill()
    rc, _out, err = tether("list")
    assert rc == 125 and "cannot reach the manager" in err
    # The exit happens while nobody manages: only the shim sees it.
    os.kill(short_pid, signal.SIGUSR1)
    short_dir = layout.process_dir(manager.root, "short")
    helpers.wait_until(lambda: layout.read_exit_status(short_dir), what="exitStatus of short")

    manager.start()
    rows = {line.split()[0]: line.split() for line in tether("list")[1].splitlines()[1:]}
    assert rows["long"][1:4] == ["running", str(long_pid), "-"]
    assert rows["short"][1] == "stopped" and rows["short"][3] == "7"
    states = {s["id"]: s for s in json.loads(tether("list", "--json")[1])}
    assert (states["long"]["status"], states["long"]["pid"]) == ("running", long_pid)
    assert (states["short"]["status"], states["short"]["exit_code"]) == ("stopped", 7)
    assert helpers.pid_alive(long_pid)

    # The manager is whole again: wait, exec and kill work on what it found.
    assert tether("wait", "short") == (7, "7\n", "")
    assert tether("exec", "long", "--", "echo", "back") == (0, "back\n", "")
    assert tether("kill", "long", "KILL") == (0, "", "")
    assert tether("wait", "long") == (137, "137\n", "")
    assert tether("delete", "long") == (0, "", "")
    assert tether("delete", "short") == (0, "", "")


def read_json_lines(proc, count):
    """Read COUNT JSON lines from a spawned CLI's stdout (with a deadline)."""
    data = read_until(proc, lambda data: data.count(b"\n") >= count)
    return [json.loads(line) for line in data.splitlines()[:count]]


def test_events_after_resume_across_a_manager_kill(tether, manager, make_bundle):
    since = layout.format_time(layout.now_ns())
    assert tether("run", "-d", "c1", "--bundle", make_bundle(["sleep", "1000"]))[0] == 0
    reader = spawn_tether(manager.root, "events", "--json", "--since", since)
    try:
        seen = read_json_lines(reader, 2)
    finally:
        stop_process(reader)
    assert [(e["type"], e["id"]) for e in seen] == [("create", "c1"), ("start", "c1")]
    pid = manager.state("c1")["pid"]
    manager.kill()
    os.kill(pid, signal.SIGKILL)  # the exit happens while nobody listens
    helpers.wait_until(lambda: layout.read_exit_status(layout.process_dir(manager.root, "c1")),
                       what="exitStatus of c1")
    manager.start()
    reader = spawn_tether(manager.root, "events", "--json", "--after", str(seen[-1]["seq"]))
    try:
        assert tether("delete", "c1") == (0, "", "")
        resumed = read_json_lines(reader, 2)
    finally:
        stop_process(reader)
    assert [(e["type"], e["id"], e.get("exit_code")) for e in resumed] == \
        [("exit", "c1", 137), ("delete", "c1", None)]
    assert resumed[0]["seq"] == seen[-1]["seq"] + 1
