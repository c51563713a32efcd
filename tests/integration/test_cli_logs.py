"""`tether logs` (plain, --tail, --timestamps, -f) and `tether events`."""

import json
import re

from cliutil import manager, read_until, spawn_tether, stop_process, tether  # noqa: F401

TIME = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"


def test_logs_give_back_each_stream_as_written(tether, rootfs):
    script = "echo out1; echo err1 >&2; echo out2; printf partial"
    assert tether("run", "l1", "--rootfs", rootfs, "--", "sh", "-c", script)[0] == 0
    rc, out, err = tether("logs", "l1", binary=True)
    assert (rc, out, err) == (0, b"out1\nout2\npartial", b"err1\n")
    rc, out, err = tether("logs", "--timestamps", "l1", binary=True)
    assert rc == 0
    assert re.fullmatch(rb"(%s out\d\n){2}%s partial" % (TIME, TIME), out), out
    assert re.fullmatch(rb"%s err1\n" % TIME, err), err
    rc, out, _err = tether("logs", "--since", "1h", "l1", binary=True)
    assert (rc, out) == (0, b"out1\nout2\npartial")
    assert tether("logs", "--since", "2000-01-01T00:00:00Z", "l1", binary=True)[1] == out
    assert tether("delete", "l1") == (0, "", "")


def test_logs_tail_keeps_the_last_records(tether, rootfs):
    assert tether("run", "l2", "--rootfs", rootfs, "--", "seq", "1", "5")[0] == 0
    assert tether("logs", "--tail", "2", "l2") == (0, "4\n5\n", "")
    assert tether("logs", "-n", "0", "l2") == (0, "", "")
    assert tether("logs", "--tail", "9", "l2") == (0, "1\n2\n3\n4\n5\n", "")
    assert tether("delete", "l2") == (0, "", "")


def test_logs_follow_stops_when_the_container_exits(tether, manager, make_bundle):
    script = "echo first; while [ ! -e /dev/shm/go ]; do sleep 0.02; done; echo second; exit 3"
    assert tether("run", "-d", "f1", "--bundle", make_bundle(["sh", "-c", script]))[0] == 0
    follower = spawn_tether(manager.root, "logs", "-f", "f1")
    try:
        read_until(follower, b"first\n")
        assert tether("exec", "f1", "--", "touch", "/dev/shm/go")[0] == 0
        read_until(follower, b"second\n")
        assert follower.wait(10) == 0
        assert follower.stdout.read() == b""
        assert follower.read_so_far == b"first\nsecond\n"
    finally:
        stop_process(follower)
    assert tether("delete", "f1") == (0, "", "")


def json_lines(data):
    """Decode the complete JSON lines of DATA."""
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def has_event(kind, cid):
    """Return a test of `events --json` output for an event KIND of CID."""
    return lambda data: any(e["type"] == kind and e["id"] == cid for e in json_lines(data))


def wait_for_subscription(tether, events, rootfs, needle):
    """Create and delete probes until EVENTS shows NEEDLE(probe): the stream is live."""
    for attempt in range(50):
        probe = f"probe{attempt}"
        assert tether("create", probe, "--rootfs", rootfs, "--", "true")[0] == 0
        assert tether("delete", "--force", probe)[0] == 0
        try:
            read_until(events, needle(probe), timeout=0.5)
            return
        except AssertionError:
            continue
    raise AssertionError("the events stream never showed a probe")


def test_events_stream_create_start_exit(tether, manager, rootfs):
    events = spawn_tether(manager.root, "events", "--json")
    try:
        wait_for_subscription(tether, events, rootfs, lambda cid: has_event("delete", cid))
        assert tether("run", "ev1", "--rootfs", rootfs, "--", "sh", "-c", "exit 3")[0] == 3
        data = read_until(events, has_event("exit", "ev1"))
    finally:
        stop_process(events)
    mine = [e for e in json_lines(data) if e["id"] == "ev1"]
    assert [e["type"] for e in mine] == ["create", "start", "exit"]
    assert mine[1]["pid"] > 0 and mine[2]["exit_code"] == 3
    assert tether("delete", "ev1") == (0, "", "")


def test_events_human_lines(tether, manager, rootfs):
    events = spawn_tether(manager.root, "events")
    try:
        wait_for_subscription(tether, events, rootfs, lambda cid: f" delete {cid}\n".encode())
        assert tether("run", "ev2", "--rootfs", rootfs, "--", "sh", "-c", "exit 4")[0] == 4
        data = read_until(events, b" exit ev2 exit_code=4\n")
    finally:
        stop_process(events)
    lines = [line for line in data.splitlines() if b" ev2" in line]
    assert [line.split()[1] for line in lines] == [b"create", b"start", b"exit"]
    assert re.fullmatch(rb"%s exit ev2 exit_code=4" % TIME, lines[-1]), lines
    assert tether("delete", "ev2") == (0, "", "")
