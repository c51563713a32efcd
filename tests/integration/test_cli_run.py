"""`tether run` and `tether exec`: attached exit codes, stdio, --rm, -d."""

import signal

import pytest

from cliutil import manager, read_until, spawn_tether, stop_process, tether  # noqa: F401
import helpers


@pytest.mark.parametrize("args,code,err", [
    (["true"], 0, ""),
    (["sh", "-c", "exit 3"], 3, ""),
    # The outer shell reports its child's death on its stderr.
    (["sh", "-c", "sh -c 'kill -9 $$'; exit $?"], 137, "Killed\n"),
])
def test_run_attached_exits_with_the_containers_code(tether, manager, rootfs, args, code, err):
    assert tether("run", "--rm", "x1", "--rootfs", rootfs, "--", *args) == (code, "", err)
    assert tether("list", "--quiet") == (0, "", "")


def test_run_attached_reports_death_by_signal_as_128_plus_n(tether, manager, rootfs):
    # The container's init is pid 1 of its namespace: only a signal from outside kills it
    # (`sh -c 'kill -9 $$'` as init is ignored by the kernel).
    runner = spawn_tether(manager.root, "run", "x1", "--rootfs", rootfs, "--", "sleep", "1000")
    try:
        manager.wait_status("x1", "running")
        assert tether("kill", "x1", "KILL") == (0, "", "")
        assert runner.wait(10) == 137
    finally:
        stop_process(runner)
    assert manager.state("x1")["exit_code"] == 137
    assert tether("delete", "x1") == (0, "", "")


def test_run_missing_binary_exits_127_and_leaves_nothing(tether, manager, rootfs):
    rc, out, err = tether("run", "x1", "--rootfs", rootfs, "--", "no-such-binary")
    assert (rc, out) == (127, "")
    assert err.startswith("tether: ") and err.count("\n") == 1 and "no-such-binary" in err
    assert tether("list", "--quiet") == (0, "", "")


def test_run_keeps_stdout_and_stderr_apart_byte_for_byte(tether, rootfs):
    script = "echo out; echo err >&2; printf 'no newline'; seq 1 2000"
    rc, out, err = tether("run", "--rm", "x1", "--rootfs", rootfs, "--", "sh", "-c", script,
                          binary=True)
    expected = b"out\nno newline" + b"".join(b"%d\n" % i for i in range(1, 2001))
    assert (rc, out, err) == (0, expected, b"err\n")


def test_run_forwards_stdin_only_with_i(tether, rootfs):
    script = "cat; echo done"
    rc, out, _ = tether("run", "--rm", "-i", "x1", "--rootfs", rootfs, "--", "sh", "-c", script,
                        input=b"hello\nworld")
    assert (rc, out) == (0, "hello\nworlddone\n")
    rc, out, _ = tether("run", "--rm", "x2", "--rootfs", rootfs, "--", "sh", "-c", script,
                        input=b"ignored\n")
    assert (rc, out) == (0, "done\n")


def test_run_without_rm_leaves_the_container_stopped(tether, manager, rootfs):
    assert tether("run", "x1", "--rootfs", rootfs, "--", "sh", "-c", "exit 9")[0] == 9
    state = manager.state("x1")
    assert (state["status"], state["exit_code"]) == ("stopped", 9)
    assert tether("delete", "x1") == (0, "", "")


def test_run_detached_returns_once_running(tether, manager, make_bundle):
    assert tether("run", "-d", "d1", "--bundle", make_bundle(["sleep", "1000"])) == \
        (0, "d1\n", "")
    state = manager.state("d1")
    assert state["status"] == "running" and helpers.pid_alive(state["pid"])
    rc, _out, err = tether("run", "-d", "d1", "--bundle", make_bundle(["true"]))
    assert rc == 125 and err.startswith("tether: ") and err.count("\n") == 1
    assert tether("delete", "--force", "d1") == (0, "", "")


def test_exec_attached_and_detached(tether, manager, make_bundle):
    assert tether("run", "-d", "e1", "--bundle", make_bundle(["sleep", "1000"]))[0] == 0
    rc, out, err = tether("exec", "e1", "--env", "WHO=exec", "--", "sh", "-c",
                          "echo hi $WHO; echo oops >&2; exit 4")
    assert (rc, out, err) == (4, "hi exec\n", "oops\n")
    rc, out, _ = tether("exec", "-i", "e1", "--", "cat", input=b"piped\n")
    assert (rc, out) == (0, "piped\n")

    assert tether("exec", "-d", "--exec-id", "bg", "e1", "--", "sleep", "1000") == \
        (0, "bg\n", "")
    procs = {p["id"]: p for p in manager.state("e1")["processes"]}
    assert procs["bg"]["status"] == "running" and helpers.pid_alive(procs["bg"]["pid"])
    assert tether("kill", "--exec-id", "bg", "e1", "KILL") == (0, "", "")
    assert tether("wait", "--exec-id", "bg", "e1") == (137, "137\n", "")
    assert manager.state("e1")["status"] == "running"

    rc, out, err = tether("exec", "e1", "--", "no-such-binary")
    assert (rc, out) == (127, "") and err.startswith("tether: ") and err.count("\n") == 1
    assert tether("delete", "--force", "e1") == (0, "", "")


def test_attached_client_passes_signals_on(tether, manager, rootfs):
    script = "trap 'exit 9' INT; echo ready; while :; do sleep 0.02; done"
    runner = spawn_tether(manager.root, "run", "x1", "--rootfs", rootfs, "--", "sh", "-c", script)
    try:
        read_until(runner, b"ready\n")
        runner.send_signal(signal.SIGINT)
        assert runner.wait(10) == 9
    finally:
        stop_process(runner)
    assert tether("delete", "x1") == (0, "", "")


def test_attach_without_tty_forwards_stdin_and_exits_with_the_code(tether, manager, rootfs):
    assert tether("run", "-d", "-i", "a1", "--rootfs", rootfs, "--", "sh", "-c",
                  "cat; exit 6") == (0, "a1\n", "")
    assert tether("attach", "a1", input=b"hello\n") == (6, "hello\n", "")
    assert tether("attach", "a1") == (6, "", "")  # already stopped: its code at once
    assert tether("delete", "a1") == (0, "", "")
