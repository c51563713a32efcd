"""Restart and reattach: SIGKILL the manager, start it again, find everything again."""

import base64
import os
import signal
import subprocess

import pytest

import daemonutil
import helpers
from daemonutil import attach_and_send, collect_frames, open_attach, read_ndjson, send_frame
from shim.contract import layout


@pytest.fixture
def daemon(root):
    yield from daemonutil.daemon_fixture(root)


def run(daemon, cid, rootfs, args, **extra):
    daemon.ok("POST", "/v1/containers", {"id": cid, "rootfs": rootfs, "args": args, **extra})
    return daemon.ok("POST", f"/v1/containers/{cid}/start")


def test_running_container_survives_a_manager_sigkill(daemon, rootfs):
    before = run(daemon, "r", rootfs, ["sh", "-c", "echo up; sleep 1000"])
    daemon.restart()
    after = daemon.state("r")
    assert after["status"] == "running"
    for key in ("pid", "shim_pid", "created_at", "started_at", "bundle"):
        assert after[key] == before[key], key
    logs = daemon.ok("GET", "/v1/containers/r/logs")
    assert base64.b64decode(logs["data"]) == b"up\n"
    proc = daemon.ok("POST", "/v1/containers/r/exec", {"args": ["sh", "-c", "exit 6"]})
    assert daemon.ok("GET", f"/v1/containers/r/wait?exec_id={proc['id']}")["exit_code"] == 6
    daemon.ok("POST", "/v1/containers/r/kill", {"signal": "KILL"})
    assert daemon.ok("GET", "/v1/containers/r/wait")["exit_code"] == 137


def test_exit_during_downtime_is_reported_with_its_true_code(daemon, rootfs, root):
    run(daemon, "gone", rootfs, ["sh", "-c", "read x; echo bye; exit 7"], stdin=True)
    proc_dir = os.path.join(root, "containers", "gone", "init")
    t0 = layout.format_time(layout.now_ns())
    daemon.kill()
    fd = os.open(os.path.join(proc_dir, "stdin"), os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, b"go\n")
    finally:
        os.close(fd)
    on_disk = helpers.wait_until(lambda: layout.read_exit_status(proc_dir), 10,
                                 what="exit status written while the manager is down")
    daemon.start()
    after = daemon.state("gone")
    assert (after["status"], after["exit_code"], after["exited_at"]) == \
        ("stopped", 7, on_disk["exited_at"])
    waited = daemon.ok("GET", "/v1/containers/gone/wait")
    assert (waited["exit_code"], waited["exited_at"]) == (7, on_disk["exited_at"])
    exits = events_until_marker(daemon, rootfs, t0, "marker1")
    assert [(e["exit_code"], e["time"]) for e in exits] == [(7, on_disk["exited_at"])]
    logs = daemon.ok("GET", "/v1/containers/gone/logs")
    assert base64.b64decode(logs["data"]) == b"bye\n"
    # Reported once: a second restart does not publish the exit again.
    daemon.restart()
    exits = events_until_marker(daemon, rootfs, t0, "marker2")
    assert [(e["exit_code"], e["time"]) for e in exits] == [(7, on_disk["exited_at"])]


def events_until_marker(daemon, rootfs, since, marker):
    """Replay the journal from SINCE up to the creation of MARKER; return gone's exits."""
    conn, resp = daemon.stream(f"/v1/events?since={since}")
    try:
        daemon.ok("POST", "/v1/containers", {"id": marker, "rootfs": rootfs, "args": ["true"]})
        events = []
        while not events or (events[-1]["type"], events[-1]["id"]) != ("create", marker):
            event = read_ndjson(resp, 1)  # [] at EOF: fail rather than read EOF forever
            assert event, f"the event stream ended before {marker} was created: {events}"
            events += event
    finally:
        resp.close()
        conn.close()
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))  # numbered on across restarts
    return [e for e in events if e["type"] == "exit" and e["id"] == "gone"]


def test_running_exec_survives_and_attach_works_again(daemon, rootfs):
    run(daemon, "e", rootfs, ["sleep", "1000"])
    proc = daemon.ok("POST", "/v1/containers/e/exec",
                     {"exec_id": "shell", "stdin": True,
                      "args": ["sh", "-c", "echo ready; read x; echo got $x; exit 5"]})
    daemon.restart()
    found = daemon.state("e")["processes"]
    assert [(p["id"], p["status"], p["pid"], p["stdin"]) for p in found] == \
        [("shell", "running", proc["pid"], True)]
    out, _err, exit_obj, _errors = attach_and_send(daemon.socket, "e", b"hi\n",
                                                   query="exec_id=shell&logs=1")
    assert out == b"ready\ngot hi\n" and exit_obj == {"exit_code": 5}
    assert daemon.ok("GET", "/v1/containers/e/wait?exec_id=shell")["exit_code"] == 5
    second = daemon.ok("POST", "/v1/containers/e/exec", {"args": ["true"]})
    assert second["id"] == "exec-1"


def test_second_manager_on_the_same_root_is_refused(daemon, root):
    code = f"import sys; from manager.server.daemon import run; sys.exit(run({root!r}))"
    result = subprocess.run([daemonutil.PYTHON, "-c", code], capture_output=True, text=True,
                            cwd=daemonutil.REPO, timeout=30)
    assert result.returncode == 125
    assert result.stderr == f"tether: another manager (pid {daemon.proc.pid}) is running " \
                            f"on {root}\n"
    assert daemon.ok("GET", "/v1/health") == {"ok": True}


@pytest.fixture
def daemon_without_readoption(root):
    yield from daemonutil.daemon_fixture(root, env=daemonutil.WITHOUT_READOPTION)


def test_killed_shim_becomes_unknown_and_force_delete_cleans_up(daemon_without_readoption, rootfs,
    root):
    daemon = daemon_without_readoption
    started = run(daemon, "lost", rootfs, ["sleep", "1000"])
    conn, resp = daemon.stream("/v1/events")
    try:
        os.kill(started["shim_pid"], signal.SIGKILL)
        helpers.wait_until(lambda: daemon.state("lost")["status"] == "unknown", 10,
                           what="status unknown after the shim was killed")
        assert [e["type"] for e in read_ndjson(resp, 1)] == ["shim-lost"]
    finally:
        conn.close()
    lost = daemon.state("lost")
    assert lost["exit_code"] is None and lost["exited_at"] is None
    assert helpers.pid_alive(started["pid"])
    assert daemon.request("GET", "/v1/containers/lost/wait")[0] == 409
    assert daemon.request("DELETE", "/v1/containers/lost")[0] == 409
    daemon.restart()
    assert daemon.state("lost")["status"] == "unknown"
    daemon.ok("DELETE", "/v1/containers/lost?force=1")
    helpers.wait_until(lambda: not helpers.pid_alive(started["pid"]), 10,
                       what="container process killed")
    assert helpers.runc_list(os.path.join(root, "runc")) == []
    assert not os.path.exists(os.path.join(root, "containers", "lost"))


def test_broken_directories_are_reported_not_fatal(daemon, rootfs, root):
    run(daemon, "good", rootfs, ["sleep", "1000"])
    daemon.kill()
    containers = os.path.join(root, "containers")
    os.makedirs(os.path.join(containers, "torn", "init"), 0o700)
    with open(os.path.join(containers, "torn", "init", "shim.pid"), "w") as f:
        f.write('{"pid": 12')
    os.makedirs(os.path.join(containers, "nometa", "init"), 0o700)
    layout.write_json(os.path.join(containers, "nometa", "init", "shim.pid"),
                     {"pid": 999999999, "starttime": 1})  # a shim that is gone
    # A manager killed before the shim ran leaves a directory nothing will
    # ever run in: discarded at start-up (scan.never_started).
    os.makedirs(os.path.join(containers, "empty"), 0o700)
    daemon.start()
    listed = {c["id"]: c for c in daemon.ok("GET", "/v1/containers")}
    assert listed["good"]["status"] == "running"
    assert listed["torn"]["status"] == "unknown" and "container.json" in listed["torn"]["error"]
    assert listed["nometa"]["status"] == "unknown"
    assert "empty" not in listed
    for cid in ("torn", "nometa"):
        daemon.ok("DELETE", f"/v1/containers/{cid}?force=1")
    assert sorted(os.listdir(containers)) == ["good"]


def test_detached_manager_returns_once_listening(root):
    code = f"import sys; from manager.server.daemon import run; sys.exit(run({root!r}, detach=True))"
    result = subprocess.run([daemonutil.PYTHON, "-c", code], capture_output=True, text=True,
                            cwd=daemonutil.REPO, timeout=30)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(root, "tether.pid")) as f:
        pid = int(f.read())
    try:
        d = daemonutil.Daemon(root)
        assert d.request("GET", "/v1/health") == (200, {"ok": True})
        assert os.getsid(pid) != os.getsid(0)  # detached from our session
    finally:
        os.kill(pid, signal.SIGTERM)
    helpers.wait_until(lambda: not helpers.pid_alive(pid), 10, what="detached manager stopped")
    assert not os.path.exists(os.path.join(root, "tether.sock"))


def read_until(sock, needle):
    """Read output frames until NEEDLE was seen; return the output."""
    out = b""
    while needle not in out:
        frame = daemonutil.recv_frame(sock)
        assert frame is not None and frame[0] in (1, 2), (frame, out)
        out += frame[1]
    return out


def test_tty_session_attaches_again_after_restart(daemon, rootfs):
    run(daemon, "tty", rootfs, ["sh"], tty=True, stdin=True, console_size=[100, 30])
    sock = open_attach(daemon.socket, "tty")
    try:
        send_frame(sock, 0, b"stty size; echo hi-$((40+2))\n")
        assert b"30 100" in read_until(sock, b"hi-42")
        daemon.restart()   # SIGKILL while attached: the session ends, the shell goes on
        assert collect_frames(sock)[2] is None   # the stream ended without an exit
    finally:
        sock.close()
    assert daemon.state("tty")["status"] == "running"
    daemon.ok("POST", "/v1/containers/tty/resize", {"cols": 90, "rows": 20})
    out, _err, exit_obj, _errors = attach_and_send(daemon.socket, "tty", b"stty size; exit 3\n")
    assert b"20 90" in out and exit_obj == {"exit_code": 3}


def test_sigterm_stops_the_manager_not_the_containers(daemon, rootfs, root):
    started = run(daemon, "keep", rootfs, ["sleep", "1000"])
    daemon.kill(signal.SIGTERM)
    assert daemon.proc.returncode == 0
    assert not os.path.exists(daemon.socket)
    assert helpers.pid_alive(started["pid"]) and helpers.pid_alive(started["shim_pid"])
    daemon.start()
    assert daemon.state("keep")["status"] == "running"


def test_socket_group(root):
    d = daemonutil.Daemon(root, socket_group="root").start()
    try:
        st = os.stat(d.socket)
        assert (st.st_mode & 0o777, st.st_gid) == (0o660, 0)
    finally:
        d.kill(signal.SIGTERM)


def test_native_processes_are_reattached(daemon, tmp):
    for cid in ("nc", "nr"):
        daemon.ok("POST", "/v1/containers", {"id": cid, "rootfs": tmp, "runtime": "native",
                                             "args": ["sh", "-c", "echo $0 ran; sleep 1000"]})
    daemon.ok("POST", "/v1/containers/nr/start")
    daemon.restart()
    assert (daemon.state("nc")["status"], daemon.state("nr")["status"]) == ("created", "running")
    daemon.ok("POST", "/v1/containers/nc/start")

    def nc_output():
        logs = daemon.ok("GET", "/v1/containers/nc/logs")
        return logs and base64.b64decode(logs["data"])
    # The start is asynchronous for the native runtime: wait for the output
    # before the kill, or the kill may come before sh ran.
    assert helpers.wait_until(nc_output, 10, what="nc's output") == b"sh ran\n"
    for cid in ("nc", "nr"):
        daemon.ok("POST", f"/v1/containers/{cid}/kill", {"signal": "KILL"})
        assert daemon.ok("GET", f"/v1/containers/{cid}/wait")["exit_code"] == 137
