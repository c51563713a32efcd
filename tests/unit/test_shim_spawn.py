"""Runtime argv, error messages and their exit codes."""

import json

import pytest

from shim import config, spawn


@pytest.mark.parametrize("message,code", [
    ('runc create failed: unable to start container process: exec: "nope": '
     'executable file not found in $PATH', 127),
    ('exec failed: unable to start container process: exec: "/nope": '
     'stat /nope: no such file or directory', 127),
    ('runc create failed: unable to start container process: exec: "/etc/passwd": '
     'permission denied', 126),
    ("exec format error", 126),
    ("container does not exist", 125),
    ("rootfs /x: no such file or directory", 125),  # not an exec error: 125
    ("open /run/runc/x/state.json: permission denied", 125),
    (None, 125),
])
def test_exit_code_for_error(message, code):
    assert spawn.exit_code_for_error(message) == code


def test_describe_failure():
    assert spawn.describe_failure("runc", "create", 256, "runc create failed: x") == \
        "runc create failed: x"
    assert spawn.describe_failure("runc", "exec", 256, "exec failed: y") == \
        "runc exec: exec failed: y"
    assert spawn.describe_failure("runc", "start", 2 << 8, None) == \
        "runc start exited with status 2 (no error in its log)"
    assert spawn.describe_failure("runc", "start", 9, None) == \
        "runc start was killed by signal 9 (no error in its log)"


def test_read_runtime_error_takes_the_last_error_after_offset(tmp_path):
    path = tmp_path / "runtime.log"
    old = json.dumps({"level": "error", "msg": "old"}) + "\n"
    path.write_text(old + "garbage\n" + json.dumps({"level": "warning", "msg": "w"}) + "\n"
                    + json.dumps({"level": "error", "msg": "new"}) + "\n")
    assert spawn.read_runtime_error(str(path)) == "new"
    assert spawn.read_runtime_error(str(path), offset=len(old)) == "new"
    assert spawn.read_runtime_error(str(tmp_path / "missing")) is None


def test_argv_shapes():
    cfg = config.parse_args(["--id", "c", "--bundle", "/b", "--state-dir", "/p",
                             "--runtime-root", "/rr"])
    base = [cfg.runtime_path, "--root", "/rr", "--log", "/p/runtime.log", "--log-format",
            "json"]
    assert spawn.create_argv(cfg, "s") == base + ["create", "--bundle", "/b", "--pid-file",
                                                  "/p/pid", "--console-socket", "s", "c"]
    assert spawn.exec_argv(cfg, "/p/x.json") == base + [
        "exec", "-d", "--process", "/p/x.json", "--pid-file", "/p/pid", "c"]
    assert spawn.start_argv(cfg) == base + ["start", "c"]
    assert spawn.delete_argv(cfg) == base + ["delete", "--force", "c"]
    assert len(spawn.CONSOLE_SOCKET_ARG.encode()) < 108
