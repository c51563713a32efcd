"""Shim argv, start-up results and exec process specs (pure)."""

import pytest

from manager.core import execs, model
from manager.spawn import launcher
from manager.spawn.launcher import LaunchError, parse_result


def test_parse_result_ok():
    assert parse_result('{"ok": true, "shim_pid": 10, "pid": 11}\n', 0) == \
        {"ok": True, "shim_pid": 10, "pid": 11}


@pytest.mark.parametrize("line, code, words", [
    ('{"ok": false, "exit_code": 127, "error": "runc create: not found"}', 127, "not found"),
    ('{"ok": false, "exit_code": 3, "error": "odd"}', 125, "odd"),
    ("", 125, "without a start-up result"),
    ("garbage", 125, "malformed"),
    ('{"ok": true}', 125, "shim_pid"),
    ("[1]", 125, "malformed"),
])
def test_parse_result_failures(line, code, words):
    with pytest.raises(LaunchError) as info:
        parse_result(line, 1)
    assert info.value.exit_code == code and words in str(info.value)


def test_shim_argv():
    argv = launcher.shim_argv("web", "/b", "/r/containers/web/e1", "runc", "/r/runc", tty=True,
                              stdin=True, console_size=[80, 24], process_file="/p.json",
                              log={"max_size": 100, "max_files": 2})
    assert argv[len(launcher.shim_command()):] == ["--id", "web", "--bundle", "/b", "--state-dir", "/r/containers/web/e1",
                        "--runtime", "runc", "--runtime-root", "/r/runc", "--exec",
                        "--process", "/p.json", "--tty", "--stdin", "--console-size", "80x24",
                        "--log-max-size", "100", "--log-max-files", "2"]
    native = launcher.shim_argv("web", "/b", "/d", "native", "/r/runc")
    assert "--runtime-root" not in native


def test_build_process_from_the_container_process():
    base = {"args": ["sh"], "env": ["PATH=/bin"], "cwd": "/", "terminal": False,
            "user": {"uid": 0, "gid": 0}, "consoleSize": {"width": 1, "height": 1}}
    opts = {"args": ["ls", "-l"], "env": ["A=1"], "cwd": "/tmp", "tty": True,
            "console_size": [100, 30]}
    process = execs.build_process(base, opts)
    assert process == {"args": ["ls", "-l"], "env": ["PATH=/bin", "A=1"], "cwd": "/tmp",
                       "terminal": True, "user": {"uid": 0, "gid": 0},
                       "consoleSize": {"width": 100, "height": 30}}
    assert base["env"] == ["PATH=/bin"]


def test_next_exec_id(tmp):
    container = model.Container("c", tmp)
    assert execs.next_exec_id(container) == "exec-1"
    container.execs["exec-7"] = None
    container.execs["named"] = None
    assert execs.next_exec_id(container) == "exec-8"
