"""CN_PROC: exit statuses of processes we are not waiting for, parsed and live (root)."""

import os
import select
import struct
import time

import pytest

from manager.core import procevents

FORK_EVENT = 0x00000001


def datagram(what, *fields, stamp=123):
    """Return one netlink message holding one proc_event."""
    event = struct.pack("=IIQ", what, 0, stamp) + struct.pack("=" + "I" * len(fields), *fields)
    cn = struct.pack("=IIIIHH", 1, 1, 0, 0, len(event), 0) + event
    return struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn


def test_du_parse_keeps_process_exits_only():
    data = (datagram(FORK_EVENT, 1, 1, 50, 50)
            + datagram(procevents.PROC_EVENT_EXIT, 61, 60, 0, 17, 1, 1)  # a thread
            + datagram(procevents.PROC_EVENT_EXIT, 60, 60, 3 << 8, 17, 1, 1, stamp=999))
    assert procevents.parse_exits(data) == [procevents.ExitEvent(60, 3 << 8, 999, 1)]


def test_du_parse_stops_at_a_torn_message():
    whole = datagram(procevents.PROC_EVENT_EXIT, 60, 60, 0, 17, 1, 1)
    assert procevents.parse_exits(whole + whole[:20]) == [procevents.ExitEvent(60, 0, 123, 1)]
    assert procevents.parse_exits(b"\x05\x00\x00\x00" + b"\x00" * 12) == []


@pytest.fixture
def events():
    reason = procevents.available()
    if reason:
        pytest.skip(reason)
    listener = procevents.ProcEvents().open()
    yield listener
    listener.close()


def pump_until(listener, condition, timeout=5.0):
    """Read events until CONDITION() holds; return whether it did."""
    deadline = time.monotonic() + timeout
    while not condition():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if select.select([listener], [], [], left)[0]:
            listener.read_events()
    return True


def test_du_exit_code_and_time_of_a_watched_process(events):
    seen = []
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.read(go_r, 1)  # exit only once the parent watches
        os._exit(5)
    os.close(go_r)
    events.watch(pid, seen.append)
    os.close(go_w)
    try:
        assert pump_until(events, lambda: seen)
        received_ns = time.time_ns()
        event = seen[0]
        assert (event.pid, event.status, event.parent_pid) == (pid, 5 << 8, os.getpid())
        latency_ms = (received_ns - procevents.wall_time_ns(event.monotonic_ns)) / 1e6
        print(f"exit -> event read: {latency_ms:.3f} ms")
        assert 0 <= latency_ms < 1000
    finally:
        os.waitpid(pid, 0)


def test_du_fork_storm_loses_no_watched_exit_or_says_so(events):
    overflows = []
    events.on_overflow = lambda: overflows.append(1)
    seen = {}
    pids = []
    started = time.monotonic()
    for code in range(300):
        pid = os.fork()
        if pid == 0:
            os._exit(code % 256)
        pids.append(pid)
        events.watch(pid, lambda e: seen.__setitem__(e.pid, e.status))
    for pid in pids:
        os.waitpid(pid, 0)
    done = pump_until(events, lambda: len(seen) == len(pids) or overflows)
    elapsed = time.monotonic() - started
    print(f"300 forks: {events.events} datagrams read in {elapsed * 1000:.0f} ms, "
          f"{events.overflows} overflows")
    assert done
    if not overflows:
        assert seen == {pid: (i % 256) << 8 for i, pid in enumerate(pids)}
