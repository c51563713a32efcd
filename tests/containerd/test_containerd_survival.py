"""Tether's promises under containerd: containerd killed, the serving process killed, bad input."""

import json
import os
import shutil
import signal
import subprocess
import tempfile

import pexpect

import helpers
from ctrutil import NAMESPACE, pids_with, wait_until
from test_containerd_run import run, serving_pids, task_status
from test_containerd_tasks import start_sleeper

TRAP = ["/bin/sh", "-c", 'trap "exit 7" TERM; sleep 1000 & wait']


def proc_dir(cd, cid):
    return os.path.join(cd.base, NAMESPACE, "shared", "containers", cid, "init")


def container_pid(cd, cid):
    with open(os.path.join(proc_dir(cd, cid), "pid")) as f:
        return int(f.read())


def test_containerd_killed_and_restarted_finds_its_tasks(cd, rootfs, cid):
    alive, ended, reader = cid + "-a", cid + "-b", cid + "-c"
    pid = start_sleeper(cd, rootfs, alive)
    run(cd, cd.run_argv(reader, rootfs, ["/bin/sh", "-c", "while :; do echo tick; sleep 0.1; done"],
                        "-d"))
    run(cd, cd.run_argv(ended, rootfs, TRAP, "-d"))
    wait_until(lambda: os.path.exists(os.path.join(proc_dir(cd, ended), "pid")), what="task b")
    cd.kill()
    os.kill(container_pid(cd, ended), signal.SIGTERM)  # ends while containerd is down
    wait_until(lambda: os.path.exists(os.path.join(proc_dir(cd, ended), "exitStatus")),
               what="task b's exit status")
    cd.start()
    assert task_status(cd, alive) == "RUNNING"
    assert int(cd.ctr("task", "list").stdout.decode().split(alive)[1].split()[0]) == pid
    wait_until(lambda: task_status(cd, ended) == "STOPPED", what="task b stopped")
    done = cd.ctr("task", "exec", "--exec-id", "after", alive, "/bin/echo", "still here")
    assert done.stdout == b"still here\n"
    attach = pexpect.spawn("ctr", ["--address", cd.socket, "--namespace", NAMESPACE, "task",
                                   "attach", reader], timeout=20)
    try:
        attach.expect_exact("tick\r\ntick")  # the output relay outlived containerd
    finally:
        attach.kill(signal.SIGKILL)  # not forwarded to the task (ctr forwards the others)
        attach.close(force=True)
    assert task_status(cd, reader) == "RUNNING"
    deleted = cd.ctr("task", "delete", ended, check=False)
    assert b"exit code 7" in deleted.stdout + deleted.stderr
    cd.ctr("task", "kill", "-s", "SIGKILL", alive)
    wait_until(lambda: task_status(cd, alive) == "STOPPED", what="task a stopped")


def test_serving_process_killed_delete_reports_true_exits(cd, rootfs, cid):
    running, ended = cid + "-r", cid + "-e"
    pid = start_sleeper(cd, rootfs, running)
    run(cd, cd.run_argv(ended, rootfs, ["/bin/sh", "-c", "exit 5"], "-d"))
    wait_until(lambda: task_status(cd, ended) == "STOPPED", what="the task to end")
    with open(os.path.join(proc_dir(cd, ended), "exitStatus")) as f:
        ended_at = json.load(f)["exited_at"]
    events = subprocess.Popen(["ctr", "--address", cd.socket, "events"], stdout=subprocess.PIPE,
                              stdin=subprocess.DEVNULL)
    try:
        for server in serving_pids(cd):
            os.kill(server, signal.SIGKILL)
        exits = {}
        while len(exits) < 2:
            line = events.stdout.readline().decode()
            assert line, "ctr events ended"
            if " /tasks/exit " in line:
                event = json.loads(line[line.index("{"):])
                exits[event["container_id"]] = event
    finally:
        events.kill()
        events.wait()
    assert exits[ended]["exit_status"] == 5
    assert exits[ended]["exited_at"][:19] == ended_at[:19]
    assert exits[running]["exit_status"] == 137  # ended by `delete`, a true SIGKILL
    assert not os.path.exists(f"/proc/{pid}")
    wait_until(lambda: task_status(cd, running) is None and task_status(cd, ended) is None,
               what="both tasks gone")
    assert not os.path.exists(os.path.dirname(proc_dir(cd, ended)))


def test_a_missing_rootfs_is_a_clear_error_and_leaves_nothing(cd, cid, tmp_path):
    done = run(cd, cd.run_argv(cid, str(tmp_path / "nope"), ["/bin/true"], "--rm"))
    assert done.returncode != 0 and b"rootfs" in done.stderr and b"nope" in done.stderr
    assert task_status(cd, cid) is None
    bundle = os.path.join(cd.dir, "state", "io.containerd.runtime.v2.task", NAMESPACE, cid)
    assert not os.path.exists(bundle)
    assert not os.path.exists(os.path.dirname(proc_dir(cd, cid)))
    with open("/proc/self/mounts") as f:
        assert cid not in f.read()


def test_unknown_runtime_options_are_refused_by_name(cd, rootfs, cid):
    done = run(cd, cd.run_argv(cid, rootfs, ["/bin/true"], "--rm", "--runtime-config-path",
                               "/etc/nothing.toml"))
    assert done.returncode != 0 and b"runtimeoptions.v1.Options" in done.stderr
    assert task_status(cd, cid) is None
    assert not os.path.exists(os.path.dirname(proc_dir(cd, cid)))


def catches(pid, signum):
    """Return True if process PID has a handler for SIGNUM (/proc/PID/status SigCgt)."""
    with open(f"/proc/{pid}/status") as f:
        mask = next(line for line in f if line.startswith("SigCgt:")).split()[1]
    return bool(int(mask, 16) >> (signum - 1) & 1)


def test_serving_process_killed_before_its_relay_copied_the_output_file_log_is_whole(
        cd, rootfs, cid, tmp_path):
    log = tmp_path / "task.log"
    script = "trap 'seq 1 3000; exit 4' USR1; while :; do sleep 0.01; done"
    run(cd, cd.run_argv(cid, rootfs, ["/bin/sh", "-c", script], "-d", "--log-uri",
                        f"file://{log}"))
    wait_until(lambda: os.path.exists(os.path.join(proc_dir(cd, cid), "pid")), what="its pid")
    pid = container_pid(cd, cid)
    wait_until(lambda: catches(pid, signal.SIGUSR1), what="its trap set")
    servers = serving_pids(cd)
    for server in servers:
        os.kill(server, signal.SIGSTOP)  # the relay stops; the task's shim logs on
    try:
        os.kill(pid, signal.SIGUSR1)
        output_log = os.path.join(proc_dir(cd, cid), "output.log")
        wait_until(lambda: b" 3000\n" in helpers.read_bytes(output_log), what="output.log")
    finally:
        for server in servers:
            os.kill(server, signal.SIGKILL)
    bundle = os.path.join(cd.dir, "state", "io.containerd.runtime.v2.task", NAMESPACE, cid)
    # containerd lists the task gone before its `delete` ran; the bundle goes after it.
    wait_until(lambda: not os.path.exists(bundle), what="the task cleaned up")
    assert log.read_bytes() == b"".join(b"%d\n" % i for i in range(1, 3001))


def test_a_start_whose_create_never_came_ends_its_serving_process_after_the_cleanup(
        cd, cid, tmp_path):
    """containerd SIGKILLed between a shim `start` and its Create sends no Shutdown;
    restarted, it runs the shim's `delete` for the task. The serving process that
    `start` spawned must then end by itself (the containerd chaos run found one left)."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text("{}")
    base = tempfile.mkdtemp(prefix="ttb", dir="/tmp")  # BASE/s/HASH.sock: sun_path is short
    env = dict(cd.env, TETHER_CONTAINERD_ROOT=base, TETHER_CONTAINERD_IDLE_EXIT="0.2")
    shim = shutil.which("containerd-shim-tether-v1", path=env["PATH"])
    flags = ["-namespace", NAMESPACE, "-address", cd.socket, "-id", cid]
    try:
        started = subprocess.run([shim, *flags, "start"], cwd=bundle, env=env, input=b"",
                                 capture_output=True, timeout=30)
        assert started.returncode == 0 and started.stdout.startswith(b"unix://"), started
        servers = [pid for pid in pids_with(base) if b"-listen-fd" in helpers.read_cmdline(pid)]
        assert len(servers) == 1
        deleted = subprocess.run([shim, *flags, "-bundle", str(bundle), "delete"], cwd=bundle,
                                 env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                 timeout=30)
        assert deleted.returncode == 0, deleted.stderr
        wait_until(lambda: not pids_with(base), 15, what="the serving process to end")
        assert os.listdir(os.path.join(base, "s")) == []
    finally:
        for pid in pids_with(base):
            helpers.kill_if_alive(pid)
        shutil.rmtree(base, ignore_errors=True)
