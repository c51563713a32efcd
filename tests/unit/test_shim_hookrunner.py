"""The exit hook's runner (shim/hookrunner.py) with real hook processes, no container."""

import json
import os

import pytest

from shim import hookrunner
from shim.contract import hooks, layout


def make_dirs(tmp, spec):
    cdir = os.path.join(tmp, "c1")
    proc_dir = os.path.join(cdir, "init")
    os.makedirs(proc_dir)
    hooks.write_spec(cdir, hooks.parse_spec(spec))
    layout.write_exit_status(proc_dir, 137, 9, layout.now_ns(), False)
    return proc_dir


def run_hook(proc_dir, log=lambda *a, **k: None):
    pid = hookrunner.start_hook(proc_dir, "c1", log)
    assert pid is not None
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return hooks.read_result(proc_dir)


def shim_log(proc_dir):
    with open(os.path.join(proc_dir, layout.SHIM_LOG)) as f:
        return [json.loads(line) for line in f]


def test_the_hook_gets_the_exit_in_its_environment_and_its_outcome_is_recorded(tmp):
    proc_dir = make_dirs(tmp, {"path": "/bin/sh", "args": [
        "-c", 'echo "$TETHER_ID $TETHER_EXIT_CODE $TETHER_EXIT_SIGNAL"; exit 3']})
    result = run_hook(proc_dir)
    assert (result["exit_code"], result["signal"], result["timed_out"]) == (3, None, False)
    assert result["output"] == "c1 137 9\n" and result["error"] is None
    [line] = shim_log(proc_dir)
    assert line["msg"] == "exit hook ended" and line["level"] == "warning"


def test_a_hanging_hook_is_killed_at_its_timeout(tmp):
    proc_dir = make_dirs(tmp, {"path": "/bin/sh", "args": ["-c", "echo started; sleep 100"],
                               "timeout_ns": 300 * 10**6})
    result = run_hook(proc_dir)
    assert result["timed_out"] and result["signal"] == 9 and result["output"] == "started\n"
    assert 300 <= result["duration_ms"] < 5000
    assert "killed after the timeout of 0.3 s" == result["error"]


def test_a_hook_that_cannot_be_executed_says_why(tmp):
    proc_dir = make_dirs(tmp, {"path": "/no/such/hook"})
    result = run_hook(proc_dir)
    assert result["exit_code"] == 127 and "exec /no/such/hook: No such file" in result["output"]


def test_the_delay_comes_before_the_hook(tmp):
    proc_dir = make_dirs(tmp, {"path": "/bin/true", "delay_ns": 200 * 10**6})
    before = layout.now_ns()
    result = run_hook(proc_dir)
    assert layout.parse_time(result["started_at"]) - before >= 200 * 10**6
    assert result["exit_code"] == 0


def test_no_hook_no_runner(tmp):
    proc_dir = os.path.join(tmp, "c1", "init")
    os.makedirs(proc_dir)
    assert hookrunner.start_hook(proc_dir, "c1", lambda *a, **k: None) is None


@pytest.mark.parametrize("spec, why", [
    ({"path": "rel"}, "absolute"), ({"path": "/x", "args": "a"}, "list of strings"),
    ({"path": "/x", "timeout_ns": -1}, "timeout_ns"), ({"path": "/x", "delay_ns": True}, "delay_ns"),
    ({"path": "/x", "bogus": 1}, "unknown"), ("x", "object"),
])
def test_bad_hook_specs_are_refused(spec, why):
    with pytest.raises(ValueError, match=why):
        hooks.parse_spec(spec)
