"""ctr run on io.containerd.tether.v1: attached, detached, kill, delete, log URI, events."""

import json
import os
import subprocess

import helpers
from ctrutil import pids_with, subscribed_events, wait_until


def run(cd, argv, timeout=60):
    return subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout)


def task_status(cd, cid):
    """Return ctr's STATUS of task CID (or None if it is not listed)."""
    for line in cd.ctr("task", "list").stdout.decode().splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == cid:
            return fields[2]
    return None


def test_attached_run_prints_output_and_exits_with_the_code(cd, rootfs, cid):
    done = run(cd, cd.run_argv(cid, rootfs, ["/bin/sh", "-c", "echo hi; echo err >&2; exit 3"],
                               "--rm"))
    assert (done.stdout, done.stderr, done.returncode) == (b"hi\n", b"err\n", 3)
    assert cd.ctr("container", "list", "-q").stdout.split() == []
    assert not os.path.exists(os.path.join(cd.dir, "state", "io.containerd.runtime.v2.task",
                                           "tt", cid))
    # Shutdown with no task left: the serving process exits, its socket is gone.
    wait_until(lambda: not serving_pids(cd), what="the idle serving process to exit")
    assert os.listdir(os.path.join(cd.base, "s")) == []


def serving_pids(cd):
    """Return the pids of our serving processes."""
    return [pid for pid in pids_with(cd.base) if b"-listen-fd" in helpers.read_cmdline(pid)]


def test_the_acceptance_line_with_a_bare_sh(cd, rootfs, cid):
    """ctr --rootfs sends no env: the task gets containerd's default PATH, so `sh` is found."""
    done = run(cd, cd.run_argv(cid, rootfs, ["sh", "-c", "echo hi; exit 3"], "--rm"))
    assert (done.stdout, done.returncode) == (b"hi\n", 3), done.stderr


def test_detached_run_kill_and_delete_report_the_signal(cd, rootfs, cid):
    done = run(cd, cd.run_argv(cid, rootfs, ["/bin/sleep", "1000"], "-d"))
    assert done.returncode == 0, done.stderr
    assert task_status(cd, cid) == "RUNNING"
    pid = int(cd.ctr("task", "list").stdout.decode().split(cid)[1].split()[0])
    assert os.path.exists(f"/proc/{pid}")
    cd.ctr("task", "kill", "-s", "SIGKILL", cid)
    wait_until(lambda: task_status(cd, cid) == "STOPPED", what="the task to stop")
    deleted = cd.ctr("task", "delete", cid, check=False)
    assert b"137" in deleted.stdout + deleted.stderr
    assert task_status(cd, cid) is None
    cd.ctr("container", "delete", cid)


def test_kill_all_ends_every_process_of_the_task(cd, rootfs, cid):
    run(cd, cd.run_argv(cid, rootfs, ["/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"], "-d"))
    wait_until(lambda: len(cd.ctr("task", "ps", cid).stdout.splitlines()) == 4,
               what="three processes in the task")
    cd.ctr("task", "kill", "--all", "-s", "SIGKILL", cid)
    wait_until(lambda: task_status(cd, cid) == "STOPPED", what="the task to stop")
    again = cd.ctr("task", "kill", "-s", "SIGKILL", cid, check=False)
    assert again.returncode != 0 and b"not found" in again.stderr


def test_log_uri_file_gets_the_raw_output(cd, rootfs, cid, tmp_path):
    log = tmp_path / "out.log"
    done = run(cd, cd.run_argv(cid, rootfs, ["/bin/sh", "-c", "echo one; echo two >&2"], "-d",
                               "--log-uri", f"file://{log}"))
    assert done.returncode == 0, done.stderr
    wait_until(lambda: task_status(cd, cid) == "STOPPED", what="the task to stop")
    wait_until(lambda: log.exists() and sorted(log.read_bytes().split()) == [b"one", b"two"],
               what="both lines in the log file")


def test_events_come_in_order_exactly_once(cd, rootfs, cid):
    events = subscribed_events(cd.socket)
    try:
        wait_until(lambda: run(cd, cd.run_argv(cid, rootfs, ["/bin/sh", "-c", "exit 4"], "--rm"))
                   .returncode == 4, what="the run")
        topics = []
        while "/tasks/delete" not in topics:
            line = events.stdout.readline().decode()
            assert line, "ctr events ended"
            if f'"{cid}"' in line and " /tasks/" in line:
                topic = line.split(" /tasks/")[1].split()[0]
                topics.append("/tasks/" + topic)
                if topic == "exit":
                    exit_event = json.loads(line[line.index("{"):])
                    assert exit_event["exit_status"] == 4
    finally:
        events.kill()
        events.wait()
    assert topics == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]


def test_log_uri_binary_runs_the_logger_with_the_output(cd, rootfs, cid, tmp_path):
    logger = tmp_path / "logger.sh"
    out = tmp_path / "out"
    logger.write_text("#!/bin/sh\n# containerd's logging protocol: fds 3, 4; close 5 when ready\n"
                      'exec 5>&-\ncat <&4 >/dev/null &\ncat <&3 > "$1"\n')
    logger.chmod(0o755)
    done = run(cd, cd.run_argv(cid, rootfs, ["/bin/sh", "-c", "echo via-logger"], "-d",
                               "--log-uri", f"binary://{logger}?{out}"))
    assert done.returncode == 0, done.stderr
    wait_until(lambda: out.exists() and out.read_bytes() == b"via-logger\n",
               what="the logger's file")
