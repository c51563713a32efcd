"""The native runtime: the process spec run on the host, held until start."""

import json
import os
import signal

import pytest

import helpers
import shimutil


@pytest.fixture
def native_bundle(tmp):
    """Return a factory: a bundle whose config.json holds only a host process."""
    counter = [0]

    def make(args, tty=False, **process):
        counter[0] += 1
        bundle = os.path.join(tmp, f"native{counter[0]}")
        os.mkdir(bundle)
        spec = {"process": {"args": args, "env": ["PATH=/usr/bin:/bin"], "cwd": "/",
                            "terminal": tty, "user": {"uid": 0, "gid": 0}, **process}}
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        return bundle

    return make


def start_native(root, bundle, *flags, check=True):
    return shimutil.start_shim(root, bundle, "n", "--runtime", "native", *flags, check=check)


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")


def test_held_until_the_start_control_line(root, native_bundle, tmp):
    bundle = native_bundle(["/bin/sh", "-c", "pwd; echo $GREETING; exit 7"],
                           env=["GREETING=hi", "PATH=/bin"], cwd=tmp)
    started = start_native(root, bundle)
    assert b"/bin/sh" not in cmdline(started.pid)  # forked, not yet exec'd
    assert not os.path.exists(started.path("exitStatus"))
    shimutil.write_control(started, {"start": True})
    assert shimutil.finish(started)["exit_code"] == 7
    out = helpers.log_bytes(shimutil.output_log(started), "stdout")
    assert out == tmp.encode() + b"\nhi\n"


@pytest.mark.parametrize("code", [0, 3])
def test_exit_code_with_start(root, native_bundle, code):
    started = start_native(root, native_bundle(["sh", "-c", f"echo e >&2; exit {code}"]),
                           "--start")
    assert shimutil.finish(started)["exit_code"] == code
    assert helpers.log_bytes(shimutil.output_log(started), "stderr") == b"e\n"


def test_killed_by_signal_gives_128_plus_n(root, native_bundle):
    started = start_native(root, native_bundle(["sleep", "1000"]), "--start")
    assert cmdline(started.pid)[0] == b"sleep"
    assert os.getsid(started.pid) == started.pid  # its own session, not the shim's
    os.kill(started.pid, signal.SIGTERM)
    status = shimutil.finish(started)
    assert (status["exit_code"], status["signal"]) == (143, 15)


@pytest.mark.parametrize("args,code,text", [
    (["nope-not-here"], 127, 'exec: "nope-not-here": executable file not found in $PATH'),
    (["/etc/passwd"], 126, 'exec: "/etc/passwd": permission denied'),
])
def test_exec_error_is_the_start_up_result(root, native_bundle, args, code, text):
    started = start_native(root, native_bundle(args), "--start", check=False)
    assert started.returncode == code
    assert started.stderr.strip() == f"tether-shim: {text}"
    assert not os.path.exists(os.path.join(root, "containers"))


def test_exec_error_after_a_held_start_becomes_the_exit_code(root, native_bundle):
    started = start_native(root, native_bundle(["nope-not-here"]))
    shimutil.write_control(started, {"start": True})
    assert shimutil.finish(started)["exit_code"] == 127
    assert shimutil.shim_logged(started, "executable file not found")


def test_rlimits_and_stdin(root, native_bundle):
    bundle = native_bundle(["sh", "-c", "ulimit -n; read x; echo got $x"],
                           rlimits=[{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 321}])
    started = start_native(root, bundle, "--start", "--stdin")
    shimutil.write_stdin(started, b"line\n")
    assert shimutil.finish(started)["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"321\ngot line\n"


def test_native_tty_size_and_resize(root, native_bundle):
    bundle = native_bundle(["sh", "-c", "stty size; read x; stty size"], tty=True)
    started = start_native(root, bundle, "--start", "--tty", "--stdin",
                           "--console-size", "90x33")
    helpers.wait_until(lambda: shimutil.log_contains(started, b"33 90\r\n"), what="first size")
    shimutil.write_control(started, {"resize": [70, 22]})
    helpers.wait_until(lambda: shimutil.shim_logged(started, "control: resize"),
                       what="resize applied")
    shimutil.write_stdin(started, b"go\r")
    assert shimutil.finish(started)["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout").endswith(b"22 70\r\n")


def test_native_exec_process_starts_at_once(root, native_bundle, tmp):
    process = os.path.join(tmp, "exec.json")
    with open(process, "w") as f:
        json.dump({"args": ["sh", "-c", "echo exec-ran; exit 9"], "env": ["PATH=/bin"],
                   "cwd": "/"}, f)
    started = shimutil.start_shim(root, tmp, "n", "--runtime", "native", "--exec",
                                  "--process", process, exec_id="e1")
    assert shimutil.finish(started)["exit_code"] == 9
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"exec-ran\n"
