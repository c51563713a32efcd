"""Exec processes: `runc exec -d` under their own shim; failures are never success."""

import json
import os

import pytest

import helpers
import shimutil


@pytest.fixture
def container(root, make_bundle):
    """A running `sleep 1000` container "c"; killed (and its shim finished) afterwards."""
    started = shimutil.start_shim(root, make_bundle(["sleep", "1000"]), "c", "--start")
    yield started
    shimutil.kill_and_finish(root, started)


def exec_shim(root, tmp, args, exec_id="e1", *flags, check=True, **process):
    """Start an exec shim running ARGS in container "c"."""
    path = os.path.join(tmp, f"{exec_id}.json")
    spec = {"args": args, "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}
    spec.update(process)
    with open(path, "w") as f:
        json.dump(spec, f)
    return shimutil.start_shim(root, tmp, "c", "--exec", "--process", path, *flags,
                               exec_id=exec_id, check=check)


def test_exec_output_and_exit_code(root, tmp, container):
    started = exec_shim(root, tmp, ["sh", "-c", "echo in-exec; echo oops >&2; exit 5"])
    assert started.pid != container.pid
    assert shimutil.finish(started)["exit_code"] == 5
    log = shimutil.output_log(started)
    assert helpers.log_bytes(log, "stdout") == b"in-exec\n"
    assert helpers.log_bytes(log, "stderr") == b"oops\n"
    assert shimutil.runc_status(root, "c") == "running"


def test_exec_exiting_before_runc_returns_keeps_its_exit_code(root, tmp, container):
    # The process may be gone before we learn its pid: the reaper remembers it.
    for n in range(3):
        started = exec_shim(root, tmp, ["sh", "-c", f"exit {n + 1}"], f"quick{n}")
        assert shimutil.finish(started)["exit_code"] == n + 1


def test_exec_killed_by_signal(root, tmp, container):
    started = exec_shim(root, tmp, ["sleep", "1000"])
    os.kill(started.pid, 15)  # not pid 1 in the container: TERM kills it
    status = shimutil.finish(started)
    assert (status["exit_code"], status["signal"]) == (143, 15)


@pytest.mark.parametrize("args,code,text", [
    (["nope"], 127, 'exec: "nope": executable file not found in $PATH'),
    (["/etc/passwd"], 126, "permission denied"),
])
def test_exec_failure_is_reported_and_leaves_nothing(root, tmp, container, args, code, text):
    started = exec_shim(root, tmp, args, check=False)
    assert started.returncode == code, started.stderr
    assert text in started.stderr and "runc exec" in started.stderr
    assert len(started.stderr.splitlines()) == 1
    assert not os.path.exists(started.proc_dir)
    assert shimutil.runc_status(root, "c") == "running"


def test_exec_failure_on_the_sync_fd(root, tmp, container):
    read_fd, write_fd = os.pipe()
    try:
        path = os.path.join(tmp, "p.json")
        with open(path, "w") as f:
            json.dump({"args": ["nope"], "cwd": "/", "env": ["PATH=/bin"]}, f)
        argv = shimutil.shim_argv(root, tmp, "c", "e1", ["--exec", "--process", path,
                                                        "--sync-fd", str(write_fd)])
        proc = shimutil.subprocess.run(argv, pass_fds=[write_fd], capture_output=True,
                                       text=True, timeout=60, check=False)
        os.close(write_fd)
        write_fd = None
        data = os.read(read_fd, 65536)
    finally:
        os.close(read_fd)
        if write_fd is not None:
            os.close(write_fd)
    result = json.loads(data)
    assert result["ok"] is False and result["exit_code"] == 127 == proc.returncode
    assert "executable file not found" in result["error"]


def test_exec_in_a_missing_container_fails_clearly(root, tmp):
    started = exec_shim(root, tmp, ["true"], check=False)
    assert started.returncode == 125
    assert "runc exec" in started.stderr and "does not exist" in started.stderr
    assert not os.path.exists(os.path.join(root, "containers", "c", "e1"))


def test_exec_stdin_and_close_stdin(root, tmp, container):
    started = exec_shim(root, tmp, ["sh", "-c", "cat; echo eof"], "e1", "--stdin")
    shimutil.write_stdin(started, b"piped\n")
    shimutil.write_control(started, {"close_stdin": True})
    assert shimutil.finish(started)["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"piped\neof\n"


def test_exec_whose_child_keeps_stdout_open_does_not_pin_the_shim(root, tmp, container):
    # The background sleep inherits stdout: EOF never comes; the shim stops
    # waiting once the output has been silent for a while.
    started = exec_shim(root, tmp, ["sh", "-c", "sleep 300 & echo parent-done"])
    status = shimutil.wait_exit_status(started.proc_dir)
    assert status["exit_code"] == 0
    shimutil.wait_shim_gone(started.shim_pid, timeout=15)
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"parent-done\n"
    assert shimutil.shim_logged(started, "output still open after the exit")
