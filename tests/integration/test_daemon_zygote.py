"""The spawner and its zygote shim: every shim is forked from it; both end with the manager."""

import json
import os
import signal
import socket
import subprocess

import pytest

from daemonutil import Daemon, daemon_fixture
import helpers
from manager.spawn import launcher

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


def spawner_of(manager_pid):
    """Return the pid of the manager's spawner."""
    return helpers.wait_until(lambda: children(manager_pid, b"manager.spawn.helper"),
                              what="the spawner")[0]


def zygote_of(manager_pid):
    """Wait until the manager's spawner has its zygote; return its pid."""
    spawner = spawner_of(manager_pid)
    return helpers.wait_until(lambda: children(spawner, b"tether-shim\x00--zygote"),
                              what="the zygote")[0]


def create_running(daemon, cid, bundle):
    """Create and start CID in one request; return its state."""
    status, body = daemon.request("POST", "/v1/containers",
                                  {"id": cid, "bundle": bundle, "start": True})
    assert status == 201, body
    assert body["status"] == "running" and body["pid"] > 0
    return body


def test_shims_are_forked_from_one_zygote_and_titled(daemon, make_bundle, root):
    zygote = zygote_of(daemon.proc.pid)
    bundle = make_bundle(["sleep", "1000"])
    for cid in ("c1", "c2"):
        create_running(daemon, cid, bundle)
        shim_pid = daemon.state(cid)["shim_pid"]
        with open(f"/proc/{shim_pid}/cmdline", "rb") as f:
            argv = f.read().rstrip(b"\0").split(b"\0")
        assert argv[:3] == [b"tether-shim", b"--id", cid.encode()]
        assert os.path.join(root, "containers", cid, "init").encode() in argv
        with open(f"/proc/{shim_pid}/comm") as f:
            assert f.read() == "tether-shim\n"
    assert zygote_of(daemon.proc.pid) == zygote  # the same zygote served both


def test_a_dead_zygote_is_replaced_and_creates_go_on(daemon, make_bundle):
    zygote = zygote_of(daemon.proc.pid)
    os.kill(zygote, signal.SIGKILL)
    create_running(daemon, "c1", make_bundle(["sleep", "1000"]))
    assert zygote_of(daemon.proc.pid) != zygote


def test_the_spawner_and_the_zygote_end_with_their_manager(root):
    d = Daemon(root).start()
    try:
        zygote, spawner = zygote_of(d.proc.pid), spawner_of(d.proc.pid)
    finally:
        d.kill()
    helpers.wait_until(lambda: not helpers.pid_alive(zygote), what="the zygote gone")
    helpers.wait_until(lambda: not helpers.pid_alive(spawner), what="the spawner gone")


def test_a_dead_spawner_is_replaced_and_nothing_is_lost(daemon, make_bundle):
    os.kill(spawner_of(daemon.proc.pid), signal.SIGKILL)
    # The next runtime command finds it gone and starts a new one (or runs directly).
    create_running(daemon, "c1", make_bundle(["sleep", "1000"]))
    daemon.ok("POST", "/v1/containers/c1/kill", {"signal": "KILL"})
    assert daemon.ok("GET", "/v1/containers/c1/wait")["exit_code"] == 137
    spawner_of(daemon.proc.pid)


def zygote_answer(message, fds):
    """Send MESSAGE with FDS to a fresh zygote; return what arrives on the sync pipe."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    zygote = subprocess.Popen([*launcher.shim_command("zygote"), str(theirs.fileno()), " " * 64],
                              pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs.close()
    try:
        socket.send_fds(ours, [message], fds)
    finally:
        for fd in fds:
            os.close(fd)
        ours.close()  # EOF: the zygote ends after this request
    assert zygote.wait(30) == 0
    return zygote


@pytest.mark.parametrize("message", [b"not json", b'{"a": 1}', b'["--id", 7]'])
def test_the_zygote_drops_a_malformed_request_and_goes_on(message):
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        zygote_answer(message, [write_fd])
        assert os.read(read_fd, 100) == b""  # no shim: EOF, no result
    finally:
        os.close(read_fd)


def test_a_forked_shim_with_bad_options_reports_one_error_line(tmp):
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        options = ["--id", "../x", "--bundle", tmp, "--state-dir", f"{tmp}/x/init"]
        zygote_answer(json.dumps(options).encode(), [write_fd])
        answer = json.loads(os.read(read_fd, 4096))
    finally:
        os.close(read_fd)
    assert answer["ok"] is False and answer["error"].startswith("invalid id")
    assert not os.path.exists(f"{tmp}/x")
