"""The shim with real runc: start-up, exit codes, exit status, survival, state files."""

import json
import os
import select
import signal
import subprocess
import sys

import pytest

import helpers
import shimutil
from shim.contract import layout


def test_by_hand_exit_3_both_streams_logged_and_shim_gone(root, make_bundle):
    bundle = make_bundle(["sh", "-c", "echo to-out; echo to-err >&2; exit 3"])
    started = shimutil.start_shim(root, bundle, "x", "--start")
    status = shimutil.finish(started)
    assert status["exit_code"] == 3 and status["signal"] is None
    assert status["oom_killed"] is False
    layout.parse_time(status["exited_at"])
    records = helpers.read_log_records(shimutil.output_log(started))
    assert ("stdout", "F", b"to-out") in records
    assert ("stderr", "F", b"to-err") in records
    assert shimutil.runc_status(root, "x") == "stopped"  # left for the manager to delete


@pytest.mark.parametrize("code", [0, 3, 255])
def test_exit_code_is_recorded(root, make_bundle, code):
    started = shimutil.start_shim(root, make_bundle(["sh", "-c", f"exit {code}"]), "c",
                                  "--start")
    assert shimutil.finish(started)["exit_code"] == code


def drop_pid_namespace(bundle):
    """Edit BUNDLE so its process is not pid 1 (pid 1 ignores TERM without a handler)."""
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        spec = json.load(f)
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "pid"]
    with open(path, "w") as f:
        json.dump(spec, f)
    return bundle


@pytest.mark.parametrize("sig,code", [("TERM", 143), ("KILL", 137)])
def test_death_by_signal_is_128_plus_n(root, make_bundle, sig, code):
    bundle = drop_pid_namespace(make_bundle(["sleep", "1000"]))
    started = shimutil.start_shim(root, bundle, "c", "--start")
    assert shimutil.runc_status(root, "c") == "running"
    status = shimutil.kill_and_finish(root, started, signal=sig)
    assert (status["exit_code"], status["signal"]) == (code, code - 128)


def test_state_files_written(root, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    started = shimutil.start_shim(root, bundle, "c", "--start")
    pid_text = open(started.path("pid")).read().strip()
    assert int(pid_text) == started.pid
    assert layout.read_int(started.path("starttime")) == layout.proc_starttime(started.pid)
    assert layout.read_shim_pid(started.proc_dir) == (
        started.shim_pid, layout.proc_starttime(started.shim_pid))
    process = layout.read_json(started.path("process.json"))
    assert process["process"]["args"] == ["sleep", "1000"]
    assert (process["exec"], process["tty"], process["stdin"]) == (False, False, False)
    container = layout.read_json(os.path.join(os.path.dirname(started.proc_dir),
                                             "container.json"))
    assert container["id"] == "c" and container["bundle"] == bundle
    for name in ("stdout", "stderr", "control", "exit"):
        mode = os.stat(started.path(name)).st_mode
        assert (mode & 0o170000, mode & 0o777) == (0o010000, 0o600), name
    assert not os.path.exists(started.path("stdin"))
    assert os.stat(started.proc_dir).st_mode & 0o777 == 0o700
    shimutil.kill_and_finish(root, started)


def test_without_start_the_container_stays_created(root, make_bundle):
    started = shimutil.start_shim(root, make_bundle(["sh", "-c", "echo ran; exit 4"]), "c")
    assert shimutil.runc_status(root, "c") == "created"
    assert not os.path.exists(started.path("exitStatus"))
    shimutil.runc(root, "start", "c")
    assert shimutil.finish(started)["exit_code"] == 4
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"ran\n"


def test_sync_fd_gets_one_json_line(root, make_bundle):
    read_fd, write_fd = os.pipe()
    try:
        argv = shimutil.shim_argv(root, make_bundle(["true"]), "c",
                                  args=["--start", "--sync-fd", str(write_fd)])
        proc = subprocess.run(argv, pass_fds=[write_fd], capture_output=True, text=True,
                              timeout=60, check=False)
        os.close(write_fd)
        write_fd = None
        with os.fdopen(read_fd, "rb") as f:
            read_fd = None
            lines = f.read().splitlines()  # EOF: every copy of the fd was closed
    finally:
        for fd in (read_fd, write_fd):
            if fd is not None:
                os.close(fd)
    assert proc.returncode == 0, proc.stderr
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["ok"] is True
    assert proc.stdout.split() == ["shim", str(result["shim_pid"]), "container",
                                   str(result["pid"])]
    shimutil.finish(shimutil.Started(proc, shimutil.proc_dir_of(root, "c")))


def _starter_argv(argv):
    """A starter that runs the shim, says so, then lingers (and gets killed)."""
    code = ("import subprocess, sys, time\n"
            f"p = subprocess.run({argv!r}, capture_output=True, text=True)\n"
            "print(p.returncode, p.stdout.strip(), flush=True)\n"
            "time.sleep(1000)\n")
    return [sys.executable, "-c", code]


def test_shim_survives_sigkill_of_its_starter_and_its_group(root, make_bundle):
    argv = shimutil.shim_argv(root, make_bundle(["sleep", "1000"]), "c", args=["--start"])
    starter = subprocess.Popen(_starter_argv(argv), stdout=subprocess.PIPE,
                               start_new_session=True)
    try:
        line = starter.stdout.readline().decode().split()
        os.killpg(starter.pid, signal.SIGKILL)
        starter.wait(10)
    finally:
        starter.stdout.close()
        helpers.kill_if_alive(starter.pid)
    assert line[0] == "0", line
    shim_pid = int(line[2])
    assert helpers.pid_alive(shim_pid)
    assert os.getpgid(shim_pid) != starter.pid and os.getsid(shim_pid) != starter.pid
    assert shimutil.runc_status(root, "c") == "running"
    started = shimutil.Started(subprocess.CompletedProcess([], 1), shimutil.proc_dir_of(root, "c"))
    started.shim_pid = shim_pid
    assert shimutil.kill_and_finish(root, started)["exit_code"] == 137


def test_sigterm_to_the_shim_is_logged_and_ignored(root, make_bundle):
    started = shimutil.start_shim(root, make_bundle(["sleep", "1000"]), "c", "--start")
    os.kill(started.shim_pid, signal.SIGTERM)
    os.kill(started.shim_pid, signal.SIGHUP)
    helpers.wait_until(lambda: shimutil.shim_logged(started, "ignored signal 1:"),
                       what="SIGHUP logged")
    assert shimutil.shim_logged(started, "ignored signal 15")
    assert helpers.pid_alive(started.shim_pid)
    assert shimutil.runc_status(root, "c") == "running"
    shimutil.kill_and_finish(root, started)


def test_exit_fifo_hangs_up_when_the_shim_is_gone(root, make_bundle):
    started = shimutil.start_shim(root, make_bundle(["sleep", "1000"]), "c", "--start")
    fd = os.open(started.path("exit"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        assert poller.poll(0) == []  # the shim holds it: no hang-up yet
        shimutil.kill_and_finish(root, started)
        assert poller.poll(5000) == [(fd, select.POLLHUP)]
    finally:
        os.close(fd)


def test_second_shim_for_the_same_process_dir_is_refused(root, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    started = shimutil.start_shim(root, bundle, "c", "--start")
    again = shimutil.start_shim(root, bundle, "c", "--start", check=False)
    assert again.returncode == 125
    assert "already has a shim" in again.stderr
    assert os.path.exists(started.path("shim.pid"))
    assert shimutil.runc_status(root, "c") == "running"
    shimutil.kill_and_finish(root, started)


def test_foreground_logs_to_stderr_and_exits_with_the_process(root, make_bundle):
    argv = shimutil.shim_argv(root, make_bundle(["sh", "-c", "echo fg; exit 6"]), "c",
                              args=["--start", "--foreground"])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 6
    assert proc.stdout.startswith("shim ") and " container " in proc.stdout
    messages = [json.loads(line)["msg"] for line in proc.stderr.splitlines()]
    assert "process exited" in messages and messages[-1] == "shim exiting"
    started = shimutil.Started(proc, shimutil.proc_dir_of(root, "c"))
    assert layout.read_exit_status(started.proc_dir)["exit_code"] == 6
    assert helpers.log_bytes(shimutil.output_log(started), "stdout") == b"fg\n"


def test_detached_shim_has_dev_null_stdio_not_its_own_files(root, make_bundle):
    # python-daemon's /dev/null fds are close-on-exec; lost at the lean re-exec,
    # fds 0-2 were reused for shim.log and the exit FIFO.
    started = shimutil.start_shim(root, make_bundle(["sleep", "1000"]), "c", "--start")
    targets = [os.readlink(f"/proc/{started.shim_pid}/fd/{n}") for n in range(3)]
    assert targets == ["/dev/null"] * 3
    with open(f"/proc/{started.shim_pid}/cmdline", "rb") as f:
        assert b"-S" in f.read().split(b"\0")  # the lean interpreter serves
    shimutil.kill_and_finish(root, started)


def test_relative_paths_work_after_detaching(root, make_bundle, tmp):
    bundle = make_bundle(["sh", "-c", "exit 2"])
    argv = shimutil.SHIM + ["--id", "c", "--bundle", os.path.relpath(bundle, tmp),
                            "--state-dir", os.path.relpath(shimutil.proc_dir_of(root, "c"), tmp),
                            "--runtime-root", "root/runc", "--start"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    started = shimutil.Started(proc, shimutil.proc_dir_of(root, "c"))
    assert shimutil.finish(started)["exit_code"] == 2
