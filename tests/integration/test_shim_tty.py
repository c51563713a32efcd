"""Terminals: the PTY master over the console socket, sizes, resize, input."""

import json
import os

import pexpect.fdpexpect
import pytest

import helpers
import shimutil


class TtyOutput:
    """pexpect on the shim's stdout FIFO (the terminal's output)."""

    def __init__(self, path):
        self.fd = shimutil.open_fifo_reader(path)
        self.child = pexpect.fdpexpect.fdspawn(self.fd, timeout=20)

    def expect_exact(self, text):
        self.child.expect_exact(text)
        return self.child.before

    def close(self):
        os.close(self.fd)


@pytest.fixture
def tty_out():
    opened = []

    def attach(started):
        out = TtyOutput(started.path("stdout"))
        opened.append(out)
        return out

    yield attach
    for out in opened:
        out.close()


def test_initial_console_size_is_applied_before_start(root, make_bundle, tty_out):
    bundle = make_bundle(["sh", "-c", "stty size; echo done"], tty=True)
    started = shimutil.start_shim(root, bundle, "c", "--tty", "--console-size", "100x30")
    out = tty_out(started)
    assert not os.path.exists(started.path("stderr"))  # one stream with a tty
    shimutil.runc(root, "start", "c")
    out.expect_exact("30 100")
    out.expect_exact("done")
    assert shimutil.finish(started)["exit_code"] == 0
    assert b"30 100\r\n" in helpers.log_bytes(shimutil.output_log(started), "stdout")


def test_default_size_is_not_0x0(root, make_bundle):
    bundle = make_bundle(["stty", "size"], tty=True)
    started = shimutil.start_shim(root, bundle, "c", "--tty", "--start")
    assert shimutil.finish(started)["exit_code"] == 0
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"24 80\r\n"


def test_resize_through_control_and_input_through_stdin(root, make_bundle, tty_out):
    script = "echo ready; read x; stty size; echo input=$x"
    bundle = make_bundle(["sh", "-c", script], tty=True)
    started = shimutil.start_shim(root, bundle, "c", "--tty", "--stdin", "--start",
                                  "--console-size", "80x24")
    out = tty_out(started)
    helpers.wait_until(lambda: shimutil.log_contains(started, b"ready"), what="ready")
    shimutil.write_control(started, {"resize": [132, 43]})
    helpers.wait_until(lambda: shimutil.shim_logged(started, "control: resize"),
                       what="resize applied")
    shimutil.write_stdin(started, b"hello\r")
    out.expect_exact("43 132")
    out.expect_exact("input=hello")
    assert shimutil.finish(started)["exit_code"] == 0


def test_close_stdin_sends_eof_to_the_terminal(root, make_bundle):
    bundle = make_bundle(["sh", "-c", "cat; echo after-eof"], tty=True)
    started = shimutil.start_shim(root, bundle, "c", "--tty", "--stdin", "--start")
    shimutil.write_control(started, {"close_stdin": True})
    assert shimutil.finish(started)["exit_code"] == 0
    assert b"after-eof" in helpers.log_bytes(shimutil.output_log(started), "stdout")


def test_tty_mismatch_is_refused(root, make_bundle):
    plain = shimutil.start_shim(root, make_bundle(["true"]), "c", "--tty", check=False)
    assert plain.returncode == 125 and "tty mismatch" in plain.stderr
    tty = shimutil.start_shim(root, make_bundle(["true"], tty=True), "d", check=False)
    assert tty.returncode == 125 and "tty mismatch" in tty.stderr
    assert not os.path.exists(os.path.join(root, "containers"))


def test_exec_with_tty_gets_its_console_size(root, make_bundle, tmp):
    init = shimutil.start_shim(root, make_bundle(["sleep", "1000"]), "c", "--start")
    process = os.path.join(tmp, "exec.json")
    with open(process, "w") as f:
        json.dump({"args": ["sh", "-c", "stty size; tty"], "cwd": "/", "env": ["PATH=/bin"],
                   "user": {"uid": 0, "gid": 0}}, f)
    started = shimutil.start_shim(root, os.path.dirname(process), "c", "--exec", "--tty",
                                  "--process", process, "--console-size", "50x20",
                                  exec_id="e1")
    assert shimutil.finish(started)["exit_code"] == 0
    out = helpers.log_bytes(shimutil.output_log(started), "stdout")
    assert out.startswith(b"20 50\r\n/dev/pts/"), out
    shimutil.kill_and_finish(root, init)
