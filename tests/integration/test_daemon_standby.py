"""The standby shim: started ahead of need, replaced after use, gone with its manager."""

import os
import signal
import subprocess

import pytest

from daemonutil import Daemon, daemon_fixture
import helpers
from manager import launcher

daemon = pytest.fixture(daemon_fixture)


def children(parent_pid, marker):
    """Return the live children of PARENT_PID whose command line holds MARKER."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if marker in cmdline and int(fields[1]) == parent_pid and fields[0] != b"Z":
            found.append(int(name))
    return found


def standbys_of(manager_pid):
    """Return the standby shims the manager's spawner keeps."""
    return [pid for spawner in children(manager_pid, b"manager.spawnd")
            for pid in children(spawner, b"import standby")]


def one_standby(manager_pid):
    """Wait until MANAGER_PID has exactly one standby; return its pid."""
    found = helpers.wait_until(lambda: standbys_of(manager_pid) if len(
        standbys_of(manager_pid)) == 1 else None, what="one standby shim")
    return found[0]


def create_running(daemon, cid, bundle):
    """Create and start CID in one request; return its state."""
    status, body = daemon.request("POST", "/v1/containers",
                                  {"id": cid, "bundle": bundle, "start": True})
    assert status == 201, body
    assert body["status"] == "running" and body["pid"] > 0
    return body


def test_a_create_uses_the_standby_and_a_new_one_replaces_it(daemon, make_bundle):
    first = one_standby(daemon.proc.pid)
    create_running(daemon, "c1", make_bundle(["sleep", "1000"]))
    # The standby became c1's shim (it forked: the shim is not the manager's child).
    shim_pid = daemon.state("c1")["shim_pid"]
    with open(f"/proc/{shim_pid}/stat", "rb") as f:
        assert f.read().rsplit(b")", 1)[1].split()[1] != str(daemon.proc.pid).encode()
    helpers.wait_until(lambda: not helpers.pid_alive(first), what="the used standby gone")
    second = one_standby(daemon.proc.pid)
    assert second != first and shim_pid != first


def test_a_dead_standby_is_not_used(daemon, make_bundle):
    os.kill(one_standby(daemon.proc.pid), signal.SIGKILL)
    create_running(daemon, "c1", make_bundle(["sleep", "1000"]))
    assert daemon.state("c1")["status"] == "running"
    one_standby(daemon.proc.pid)


def test_the_spawner_and_the_standby_end_with_their_manager(root):
    d = Daemon(root).start()
    try:
        standby = one_standby(d.proc.pid)
        spawner = children(d.proc.pid, b"manager.spawnd")[0]
    finally:
        d.kill()
    helpers.wait_until(lambda: not helpers.pid_alive(standby), what="the standby gone")
    helpers.wait_until(lambda: not helpers.pid_alive(spawner), what="the spawner gone")


def test_a_dead_spawner_is_replaced_and_nothing_is_lost(daemon, make_bundle):
    one_standby(daemon.proc.pid)
    spawner = children(daemon.proc.pid, b"manager.spawnd")[0]
    os.kill(spawner, signal.SIGKILL)
    # The next runtime command finds it gone, starts a new one (or runs directly).
    create_running(daemon, "c1", make_bundle(["sleep", "1000"]))
    daemon.ok("POST", "/v1/containers/c1/kill", {"signal": "KILL"})
    assert daemon.ok("GET", "/v1/containers/c1/wait")["exit_code"] == 137
    helpers.wait_until(lambda: children(daemon.proc.pid, b"manager.spawnd"),
                       what="a new spawner")


def test_a_standby_refuses_a_malformed_argv_line():
    standby = subprocess.run(launcher.shim_command("standby"), input=b'{"not": "a list"}\n',
                             capture_output=True, timeout=30)
    assert standby.returncode == 125
    assert standby.stderr.startswith(b"tether-shim: standby: malformed argv line")
    assert standby.stderr.count(b"\n") == 1


def test_a_standby_whose_manager_closes_the_pipe_exits_quietly():
    standby = subprocess.run(launcher.shim_command("standby"), input=b"",
                             capture_output=True, timeout=30)
    assert (standby.returncode, standby.stderr) == (0, b"")
