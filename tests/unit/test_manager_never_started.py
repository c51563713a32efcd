"""Regression: a manager killed between making a process directory and its shim's start.

Chaos found exec directories (spec.json, times.json, no shim.pid) listed forever
as `unknown: broken process directory` after a restart; the scan now removes
directories no shim ever recorded itself in.
"""

import os

import pytest

from manager.core import scan
from manager.core.scan import Facts
from shim.contract import layout


@pytest.mark.parametrize("facts, expected", [
    (Facts("missing", False, "missing"), True),
    (Facts("malformed", False, "missing"), False),  # a torn shim.pid: a shim did run
    (Facts("missing", False, "ok"), False),
    (Facts("ok", False, "missing"), False),
    (Facts("ok", True, "missing"), False),
])
def test_never_started(facts, expected):
    assert scan.never_started(facts) is expected


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def live_shim_pid():
    return layout.dump_json({"pid": os.getpid(), "starttime": layout.proc_starttime(os.getpid())})


def test_scan_removes_never_started_exec_but_keeps_its_container(tmp):
    write(os.path.join(tmp, "c", layout.CONTAINER_JSON), b'{"id": "c"}')
    write(os.path.join(tmp, "c", "init", layout.SHIM_PID), live_shim_pid())
    write(os.path.join(tmp, "c", "x1", "spec.json"), b"{}")
    found = scan.scan_containers(tmp)
    assert [c.id for c in found] == ["c"] and list(found[0].processes) == ["init"]
    assert sorted(os.listdir(os.path.join(tmp, "c"))) == [layout.CONTAINER_JSON, "init"]


def test_scan_removes_container_whose_init_never_started(tmp):
    write(os.path.join(tmp, "c", layout.CONTAINER_JSON), b'{"id": "c"}')
    write(os.path.join(tmp, "d", layout.CONTAINER_JSON), b'{"id": "d"}')
    os.makedirs(os.path.join(tmp, "d", "init"))
    assert scan.scan_containers(tmp) == []
    assert os.listdir(tmp) == []


def test_scan_keeps_a_torn_shim_pid_for_delete_force(tmp):
    write(os.path.join(tmp, "c", layout.CONTAINER_JSON), b'{"id": "c"}')
    write(os.path.join(tmp, "c", "init", layout.SHIM_PID), b'{"pid": 1')
    found = scan.scan_containers(tmp)
    assert found[0].processes["init"].verdict == scan.BROKEN
