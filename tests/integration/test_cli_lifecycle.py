"""The container lifecycle through the `tether` CLI against a real manager and runc."""

import json
import os

from cliutil import manager, run_tether, tether  # noqa: F401
import helpers

TRAP_TERM = ["sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done"]


def logs_show(tether, cid, text):
    """Return True once `tether logs CID` shows TEXT."""
    rc, out, _err = tether("logs", cid)
    return rc == 0 and text in out


def one_error_line(err):
    """Assert ERR is exactly one `tether: ...` line; return the message."""
    assert err.startswith("tether: ") and err.endswith("\n") and err.count("\n") == 1, err
    return err[len("tether: "):-1]


def test_lifecycle_create_start_list_kill_by_name_wait_delete(tether, manager, make_bundle):
    bundle = make_bundle(TRAP_TERM)
    assert tether("create", "c1", "--bundle", bundle, "--label", "team=cli") == (0, "", "")
    created = manager.state("c1")
    assert (created["status"], created["labels"], created["bundle"]) == \
        ("created", {"team": "cli"}, bundle)

    assert tether("start", "c1") == (0, "", "")
    running = manager.state("c1")
    assert running["status"] == "running" and helpers.pid_alive(running["pid"])

    rc, out, _ = tether("list")
    header, row = out.splitlines()
    assert header.split()[:4] == ["ID", "STATUS", "PID", "EXIT"]
    assert row.split()[:4] == ["c1", "running", str(running["pid"]), "-"]
    rc, out, _ = tether("ls", "--json")
    assert rc == 0 and [s["id"] for s in json.loads(out)] == ["c1"]

    helpers.wait_until(lambda: logs_show(tether, "c1", "ready"), what="the trap installed")
    assert tether("kill", "c1", "SIGTERM") == (0, "", "")
    assert tether("wait", "c1") == (42, "42\n", "")
    stopped = manager.state("c1")
    assert (stopped["status"], stopped["exit_code"]) == ("stopped", 42)
    assert not helpers.pid_alive(running["pid"])

    assert tether("delete", "c1") == (0, "", "")
    rc, _out, err = tether("state", "c1")
    assert rc == 125 and "c1" in one_error_line(err)
    assert not os.path.exists(os.path.join(manager.root, "containers", "c1"))


def test_kill_by_number_reports_128_plus_signal(tether, manager, make_bundle):
    assert tether("run", "-d", "k1", "--bundle", make_bundle(["sleep", "1000"]))[0] == 0
    assert tether("kill", "k1", "9") == (0, "", "")
    assert tether("wait", "k1") == (137, "137\n", "")
    assert tether("rm", "k1") == (0, "", "")


def freezer_state(pid):
    """Return the freezer cgroup state of PID (FROZEN, THAWED...)."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _num, controllers, path = line.rstrip("\n").split(":", 2)
            if "freezer" in controllers.split(","):
                with open(f"/sys/fs/cgroup/freezer{path}/freezer.state") as g:
                    return g.read().strip()
    raise AssertionError(f"pid {pid} has no freezer cgroup")


def test_pause_and_resume_freeze_and_thaw(tether, manager, make_bundle):
    bundle = make_bundle(["sh", "-c", "while :; do echo tick; sleep 0.05; done"])
    assert tether("run", "-d", "p1", "--bundle", bundle) == (0, "p1\n", "")
    pid = manager.state("p1")["pid"]
    assert tether("pause", "p1") == (0, "", "")
    assert manager.state("p1")["status"] == "paused"
    assert freezer_state(pid) == "FROZEN"
    assert tether("resume", "p1") == (0, "", "")
    assert manager.state("p1")["status"] == "running"
    assert freezer_state(pid) == "THAWED"
    before = tether("logs", "p1")[1].count("tick")
    helpers.wait_until(lambda: tether("logs", "p1")[1].count("tick") > before,
                       what="output after resume")
    assert tether("delete", "--force", "p1") == (0, "", "")


def test_rootfs_with_args_env_and_cwd(tether, rootfs):
    rc, out, err = tether("run", "--rm", "r1", "--rootfs", rootfs, "--env", "FOO=bar",
                          "--cwd", "/tmp", "--", "sh", "-c", "echo $FOO; pwd; exit 5")
    assert (rc, out, err) == (5, "bar\n/tmp\n", "")


def test_delete_refuses_a_running_container_without_force(tether, manager, make_bundle):
    assert tether("run", "-d", "d1", "--bundle", make_bundle(["sleep", "1000"]))[0] == 0
    rc, _out, err = tether("delete", "d1")
    assert rc == 125 and "d1" in one_error_line(err)
    assert manager.state("d1")["status"] == "running"
    assert tether("delete", "--force", "d1") == (0, "", "")
    assert tether("list", "--quiet") == (0, "", "")


def test_malformed_id_is_refused_before_anything_is_written(tether, manager, make_bundle):
    for cid in ("bad/id", "-x", ".hidden", "a" * 65, "../c"):
        rc, out, err = tether("create", cid, "--bundle", make_bundle(["true"]))
        assert rc == 125 and out == "", cid
        one_error_line(err)
    assert os.listdir(os.path.join(manager.root, "containers")) == []


def test_bad_signal_and_missing_bundle_are_one_line_errors(tether, manager, tmp):
    rc, _out, err = tether("kill", "c1", "SIGNOPE")
    assert rc == 125 and "invalid signal 'SIGNOPE'" in one_error_line(err)
    missing = os.path.join(tmp, "no-such-bundle")
    rc, _out, err = tether("create", "c1", "--bundle", missing)
    assert rc == 125 and missing in one_error_line(err)
    assert tether("list", "--quiet") == (0, "", "")


def test_unreachable_manager_is_a_clear_error(tmp):
    root = os.path.join(tmp, "nobody-home")
    rc, out, err = run_tether(root, "list")
    sock = os.path.join(root, "tether.sock")
    assert (rc, out) == (125, "")
    assert err == f"tether: cannot reach the manager at {sock}: is 'tether daemon' running?\n"


def test_kill_all_reaches_exec_processes(tether, manager, make_bundle):
    assert tether("run", "-d", "a1", "--bundle", make_bundle(["sleep", "1000"]))[0] == 0
    assert tether("exec", "-d", "--exec-id", "bg", "a1", "--", "sleep", "1000")[0] == 0
    assert tether("kill", "--all", "a1", "KILL") == (0, "", "")
    assert tether("wait", "a1") == (137, "137\n", "")
    assert tether("wait", "--exec-id", "bg", "a1")[0] == 137
    assert tether("delete", "a1") == (0, "", "")
