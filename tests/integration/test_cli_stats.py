"""stats, top and update through the CLI with real runc, read back from the cgroup itself."""

import json
import os
import re

from cliutil import manager, tether  # noqa: F401
import helpers
from manager.core import cgroups

SLEEPER = ["sh", "-c", "echo ready; exec sleep 1000"]


def run_sleeper(tether, rootfs, cid, *options):
    """Run CID detached (--rootfs, sleeping); return its pid once it runs."""
    rc, out, err = tether("run", "-d", cid, "--rootfs", rootfs, *options, "--", *SLEEPER)
    assert (rc, out) == (0, cid + "\n"), err
    return json.loads(tether("state", cid)[1])["pid"]


def cgroup_file(pid, controller, name):
    """Return the content of NAME in PID's CONTROLLER cgroup, read directly."""
    cg = cgroups.Finder().of_pid(pid)
    with open(os.path.join(cg.dir(controller), name)) as f:
        return f.read().strip()


def one_error_line(err):
    assert err.startswith("tether: ") and err.count("\n") == 1, err
    return err[len("tether: "):-1]


def test_stats_no_stream_shows_the_cgroup_of_the_container(tether, rootfs):
    pid = run_sleeper(tether, rootfs, "st-stats", "--memory", "64m", "--pids-limit", "20")
    rc, out, err = tether("stats", "--no-stream", "st-stats")
    assert rc == 0, err
    header, row = out.splitlines()
    assert re.split(r" {2,}", header) == ["ID", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS",
                                          "BLOCK I/O", "OOM"]
    cells = re.split(r" {2,}", row)
    assert cells[0] == "st-stats" and cells[1].endswith("%")
    assert cells[2].endswith(" / 64MiB") and cells[4] == "1"

    rc, out, err = tether("stats", "--no-stream", "--format", "json", "st-stats")
    [stats] = json.loads(out)
    assert stats["memory"]["limit_bytes"] == 64 << 20 == \
        int(cgroup_file(pid, "memory", "memory.limit_in_bytes"))
    assert stats["pids"]["limit"] == 20 and stats["pids"]["current"] >= 1
    assert stats["cpu"]["usage_ns"] > 0 and stats["cpu_percent"] is not None
    assert stats["oom_kills"] == 0 and stats["cgroup_version"] in (1, 2)


def test_stats_streams_until_interrupted(manager, tether, rootfs):
    run_sleeper(tether, rootfs, "st-stream")
    from cliutil import read_until, spawn_tether, stop_process
    proc = spawn_tether(manager.root, "stats", "--json", "st-stream")
    try:
        data = read_until(proc, lambda d: d.count(b"\n") >= 2, timeout=10)
    finally:
        stop_process(proc)
    first, second = [json.loads(line) for line in data.splitlines()[:2]]
    assert first["id"] == second["id"] == "st-stream"
    assert second["read_ns"] > first["read_ns"]


def test_top_lists_the_processes_of_the_container(tether, rootfs):
    pid = run_sleeper(tether, rootfs, "st-top")
    helpers.wait_until(lambda: "sleep 1000" in tether("top", "st-top")[1], what="exec'd sleep")
    rc, out, err = tether("top", "st-top")
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "USER", "TIME", "CMD"]
    assert lines[1].split()[:4] == [str(pid), "root", "00:00:00", "sleep"]


def test_update_changes_the_cgroup_and_shows_in_state_and_stats(tether, rootfs):
    pid = run_sleeper(tether, rootfs, "st-update")
    rc, out, err = tether("update", "st-update", "--memory", "96m", "--cpus", "0.5",
                          "--pids-limit", "33")
    assert (rc, out) == (0, "st-update\n"), err
    assert int(cgroup_file(pid, "memory", "memory.limit_in_bytes")) == 96 << 20
    assert cgroup_file(pid, "pids", "pids.max") == "33"
    assert cgroup_file(pid, "cpu", "cpu.cfs_quota_us") == "50000"
    state = json.loads(tether("state", "st-update")[1])
    assert state["resources"] == {"memory": 96 << 20, "cpus": 0.5, "pids_limit": 33}
    [stats] = json.loads(tether("stats", "--no-stream", "--json", "st-update")[1])
    assert stats["limits"] == {"memory_bytes": 96 << 20, "cpus": 0.5, "pids": 33}


def test_update_is_refused_for_the_native_runtime_and_for_a_stopped_container(tether, rootfs):
    rc, _out, err = tether("run", "-d", "st-native", "--rootfs", rootfs, "--runtime", "native",
                           "--", "sleep", "1000")
    assert rc == 0, err
    rc, _out, err = tether("update", "st-native", "--memory", "64m")
    assert rc == 125 and "native runtime" in one_error_line(err)
    rc, _out, err = tether("stats", "--no-stream", "st-native")
    assert rc == 125 and "native runtime" in one_error_line(err)
    rc, _out, err = tether("run", "st-done", "--rootfs", rootfs, "--", "true")
    assert rc == 0, err
    rc, _out, err = tether("update", "st-done", "--pids-limit", "5")
    assert rc == 125 and one_error_line(err) == "update st-done: container is stopped"


def test_stats_of_named_containers_ends_when_they_stop(manager, tether, rootfs):
    run_sleeper(tether, rootfs, "st-stop")
    from cliutil import read_until, spawn_tether, stop_process
    proc = spawn_tether(manager.root, "stats", "--format", "json", "st-stop")
    try:
        read_until(proc, b"\n", timeout=10)
        assert tether("kill", "-s", "KILL", "st-stop")[0] == 0
        assert proc.wait(10) == 0
    finally:
        stop_process(proc)


def test_updated_limits_are_still_in_state_after_a_manager_restart(manager, tether, rootfs):
    run_sleeper(tether, rootfs, "st-upd-restart")
    assert tether("update", "st-upd-restart", "--pids-limit", "44")[0] == 0
    manager.kill()
    manager.start()
    state = json.loads(tether("state", "st-upd-restart")[1])
    assert state["resources"] == {"pids_limit": 44}
