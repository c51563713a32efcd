"""--rm is the manager's: removal after the exit, also for -d, also across a restart."""

import json
import os
import signal

from cliutil import manager, tether  # noqa: F401
import daemonutil
import helpers
from manager.client.methods import Client
from shim.contract import layout


def listed(tether):
    """Return the ids `tether list` shows."""
    rc, out, err = tether("list", "--quiet")
    assert rc == 0, err
    return out.split()


def test_run_d_rm_runs_then_removes_itself(tether, manager, make_bundle):
    bundle = make_bundle(["sh", "-c", "read x; exit 4"])
    # Stdin stays open (-i) until the test closes it: the container waits.
    assert tether("run", "-d", "-i", "--rm", "x1", "--bundle", bundle) == (0, "x1\n", "")
    assert manager.state("x1")["status"] == "running"
    assert listed(tether) == ["x1"]
    since = layout.format_time(layout.now_ns())
    os.kill(manager.state("x1")["pid"], signal.SIGKILL)
    helpers.wait_until(lambda: listed(tether) == [], what="x1 removed")
    # Unlisted once its removal starts; its directory goes a moment later.
    helpers.wait_until(lambda: not os.path.exists(layout.container_dir(manager.root, "x1")),
                       what="x1's directory removed")
    assert helpers.runc_list(os.path.join(manager.root, "runc")) == []
    # The journal replays what happened since the kill: the exit, then the removal.
    seen = []
    for event in Client(manager.socket, timeout=30).events(since=since):
        seen.append((event.type, event.exit_code))
        if event.type == "delete":
            break
    assert seen == [("exit", 137), ("delete", None)]


def test_run_rm_keeps_every_byte_and_the_code_then_the_id_is_free(tether, rootfs):
    script = "seq 1 5000; echo err >&2; exit 3"
    for _ in range(3):  # the same id at once: create waits for the removal under way
        rc, out, err = tether("run", "--rm", "x1", "--rootfs", rootfs, "--", "sh", "-c",
                              script)
        assert (rc, err) == (3, "err\n")
        assert out == "".join(f"{i}\n" for i in range(1, 5001))
    assert listed(tether) == []


def test_removal_waits_for_an_open_attach_stream(manager, make_bundle):
    bundle = make_bundle(["sh", "-c", "read x; seq 1 3000; exit 5"])
    rc, _out, err = manager.tether("run", "-d", "-i", "--rm", "x1", "--bundle", bundle)
    assert rc == 0, err
    # Release the container; the stream must still get all of its output.
    out, _err, exit_obj, errors = daemonutil.attach_and_send(manager.socket, "x1", b"go\n")
    assert (exit_obj, errors) == ({"exit_code": 5}, [])
    assert out == b"".join(b"%d\n" % i for i in range(1, 3001))
    helpers.wait_until(lambda: listed(manager.tether) == [], what="x1 removed")


def test_a_rm_container_that_exits_while_the_manager_is_down_is_removed_after(
        tether, manager, make_bundle):
    bundle = make_bundle(["sh", "-c", "trap 'exit 7' USR1; echo ready; "
                                      "while :; do sleep 0.02; done"])
    assert tether("run", "-d", "--rm", "x1", "--bundle", bundle)[0] == 0
    assert tether("run", "-d", "keep", "--bundle", bundle)[0] == 0
    helpers.wait_until(lambda: "ready" in tether("logs", "x1")[1], what="the trap")
    pid = manager.state("x1")["pid"]
    manager.kill()
    os.kill(pid, signal.SIGUSR1)
    proc_dir = layout.process_dir(manager.root, "x1")
    helpers.wait_until(lambda: layout.read_exit_status(proc_dir), what="exitStatus of x1")
    manager.start()
    helpers.wait_until(lambda: listed(tether) == ["keep"], what="x1 removed")
    assert not os.path.exists(layout.container_dir(manager.root, "x1"))
    assert manager.state("keep")["status"] == "running"


def open_run(socket_path, body):
    """POST a create body with the attach upgrade (`run` in one request); return the socket."""
    return daemonutil.send_upgrade(socket_path, "POST /v1/containers",
                                   json.dumps(body).encode())


def test_run_in_one_request_streams_everything_then_removes(manager, rootfs):
    body = {"id": "x1", "rootfs": rootfs, "stdin": True, "auto_remove": True,
            "args": ["sh", "-c", "read x; echo got $x; seq 1 2000; echo err >&2; exit 6"]}
    sock, head = open_run(manager.socket, body)
    try:
        assert head.startswith(b"HTTP/1.1 101 "), head
        daemonutil.send_frame(sock, 0, b"hi\n")
        out, err, exit_obj, errors = daemonutil.collect_frames(sock)
    finally:
        sock.close()
    assert (exit_obj, errors, err) == ({"exit_code": 6}, [], b"err\n")
    assert out == b"got hi\n" + b"".join(b"%d\n" % i for i in range(1, 2001))
    helpers.wait_until(lambda: listed(manager.tether) == [], what="x1 removed")


def test_run_in_one_request_that_fails_answers_an_error_and_leaves_nothing(manager, rootfs):
    sock, head = open_run(manager.socket, {"id": "x1", "rootfs": rootfs,
                                           "args": ["no-such-binary"]})
    sock.close()
    assert head.startswith(b"HTTP/1.1 502 "), head
    assert listed(manager.tether) == []
    assert not os.path.exists(layout.container_dir(manager.root, "x1"))
