"""The reattach classification table, and scanning real directories."""

import os

import pytest

from manager.core import scan
from manager.core.scan import BROKEN, EXITED, RUNNING, SHIM_LOST, Facts, classify
from shim.contract import layout


@pytest.mark.parametrize("shim_pid, shim_alive, exit_status, expected", [
    ("ok", True, "missing", RUNNING),
    ("ok", False, "missing", SHIM_LOST),
    ("ok", True, "ok", EXITED),          # exited, shim still draining the output
    ("ok", False, "ok", EXITED),
    ("missing", False, "ok", EXITED),    # the exit status is the commit point
    ("malformed", False, "ok", EXITED),
    ("ok", True, "malformed", BROKEN),
    ("ok", False, "malformed", BROKEN),
    ("missing", False, "missing", BROKEN),   # crashed before the shim recorded itself
    ("malformed", False, "missing", BROKEN),  # torn shim.pid
])
def test_classify(shim_pid, shim_alive, exit_status, expected):
    assert classify(Facts(shim_pid, shim_alive, exit_status)) == expected


def make_proc_dir(tmp, name="init", shim=None, exit_status=None):
    path = os.path.join(tmp, "c1", name)
    os.makedirs(path)
    if shim is not None:
        with open(os.path.join(path, layout.SHIM_PID), "w") as f:
            f.write(shim)
    if exit_status is not None:
        with open(os.path.join(path, layout.EXIT_STATUS), "w") as f:
            f.write(exit_status)
    return path


def test_gather_running_shim_is_our_own_process(tmp):
    me = {"pid": os.getpid(), "starttime": layout.proc_starttime(os.getpid())}
    path = make_proc_dir(tmp, shim=layout.dump_json(me).decode())
    assert scan.ProcessScan(path).gather().verdict == RUNNING


def test_gather_reused_pid_is_shim_lost(tmp):
    other = {"pid": os.getpid(), "starttime": layout.proc_starttime(os.getpid()) + 1}
    path = make_proc_dir(tmp, shim=layout.dump_json(other).decode())
    assert scan.ProcessScan(path).gather().verdict == SHIM_LOST


def test_gather_truncated_shim_pid_is_broken(tmp):
    path = make_proc_dir(tmp, shim='{"pid": 12')
    result = scan.ProcessScan(path).gather()
    assert result.verdict == BROKEN and "malformed JSON" in result.errors[0]


def test_gather_exited(tmp):
    status = '{"exit_code": 3, "signal": null, "exited_at": "2026-11-23T00:00:00.5Z"}'
    path = make_proc_dir(tmp, shim='{"pid": 1, "starttime": 1}', exit_status=status)
    result = scan.ProcessScan(path).gather()
    assert result.verdict == EXITED and result.exit_status["exit_code"] == 3


def test_scan_skips_hidden_and_invalid_names(tmp):
    # A shim recorded itself: an empty process directory is discarded (never started).
    me = {"pid": os.getpid(), "starttime": layout.proc_starttime(os.getpid())}
    make_proc_dir(tmp, shim=layout.dump_json(me).decode())
    os.makedirs(os.path.join(tmp, ".deleted-c2-1-2", "init"))
    os.makedirs(os.path.join(tmp, "bad name"))
    found = scan.scan_containers(tmp)
    assert [c.id for c in found] == ["c1"]
    assert found[0].error and "container.json" in found[0].error
    assert not os.path.exists(os.path.join(tmp, ".deleted-c2-1-2"))
