"""The manager's API with a real manager process, real shims and runc."""

import base64
import json
import os
import subprocess
import threading

import pytest

import daemonutil
import helpers
from daemonutil import attach_and_send, collect_frames, open_attach, read_ndjson, send_frame
from manager.server import routes
from shim.contract import layout


@pytest.fixture
def daemon(root):
    yield from daemonutil.daemon_fixture(root)


def create(daemon, cid, rootfs, args, **extra):
    """Create a container from ROOTFS running ARGS; return its state."""
    return daemon.ok("POST", "/v1/containers", {"id": cid, "rootfs": rootfs, "args": args,
                                                **extra})


def run(daemon, cid, rootfs, args, **extra):
    """Create and start a container; return its state."""
    create(daemon, cid, rootfs, args, **extra)
    return daemon.ok("POST", f"/v1/containers/{cid}/start")


def test_lifecycle_create_start_kill_wait_delete(daemon, rootfs, root):
    created = create(daemon, "web", rootfs, ["sleep", "1000"], labels={"k": "v"})
    assert created["status"] == "created" and created["labels"] == {"k": "v"}
    assert created["bundle"] == os.path.join(root, "containers", "web", "bundle")
    assert helpers.pid_alive(created["pid"]) and helpers.pid_alive(created["shim_pid"])
    started = daemon.ok("POST", "/v1/containers/web/start")
    assert started["status"] == "running" and started["started_at"]
    assert started["pid"] == created["pid"]
    assert [c["id"] for c in daemon.ok("GET", "/v1/containers")] == ["web"]
    assert daemon.ok("POST", "/v1/containers/web/kill", {"signal": "KILL"}) is None
    assert daemon.ok("GET", "/v1/containers/web/wait")["exit_code"] == 137
    final = daemon.state("web")
    assert final["status"] == "stopped" and final["exit_code"] == 137 and final["exited_at"]
    daemon.ok("DELETE", "/v1/containers/web")
    assert daemon.request("GET", "/v1/containers/web")[0] == 404
    assert not os.path.exists(os.path.join(root, "containers", "web"))
    assert helpers.runc_list(os.path.join(root, "runc")) == []
    run(daemon, "web", rootfs, ["true"])   # the id is reusable after delete
    assert daemon.ok("GET", "/v1/containers/web/wait")["exit_code"] == 0


def test_create_from_bundle_and_exit_code(daemon, make_bundle):
    bundle = make_bundle(["sh", "-c", "exit 3"])
    daemon.ok("POST", "/v1/containers", {"id": "b1", "bundle": bundle})
    assert daemon.state("b1")["bundle"] == bundle
    daemon.ok("POST", "/v1/containers/b1/start")
    assert daemon.ok("GET", "/v1/containers/b1/wait")["exit_code"] == 3


def test_start_failure_reports_runtime_error_and_leaves_nothing(daemon, rootfs, root):
    code, answer = daemon.request("POST", "/v1/containers",
                                  {"id": "nope", "rootfs": rootfs, "args": ["/no/such/bin"]})
    assert code == 502 and answer["exit_code"] == 127, answer
    assert "no such file" in answer["error"].lower() or "not found" in answer["error"]
    assert os.listdir(os.path.join(root, "containers")) == []
    assert daemon.request("GET", "/v1/containers/nope")[0] == 404


def test_concurrent_waiters_get_the_same_exit(daemon, rootfs):
    run(daemon, "w", rootfs, ["sleep", "1000"])
    conns = []
    for _ in range(5):
        conn = daemon.connection()
        conn.request("GET", "/v1/containers/w/wait")
        conns.append(conn)
    daemon.ok("POST", "/v1/containers/w/kill", {"signal": 9})
    try:
        answers = [json.loads(c.getresponse().read()) for c in conns]
    finally:
        for c in conns:
            c.close()
    assert [a["exit_code"] for a in answers] == [137] * 5


def test_exec_pause_resume(daemon, rootfs, root):
    run(daemon, "c", rootfs, ["sleep", "1000"])
    proc = daemon.ok("POST", "/v1/containers/c/exec",
                     {"args": ["sh", "-c", "echo hi $X; exit 3"], "env": ["X=there"]})
    assert proc["id"] == "exec-1" and proc["status"] in ("running", "stopped")
    assert daemon.ok("GET", "/v1/containers/c/wait?exec_id=exec-1")["exit_code"] == 3
    # The exit status is written before the output is drained: wait for the record.
    logs = helpers.wait_until(lambda: daemon.ok("GET", "/v1/containers/c/logs?exec_id=exec-1"),
                              what="exec-1's log record")
    assert base64.b64decode(logs["data"]) == b"hi there\n"
    code, answer = daemon.request("POST", "/v1/containers/c/exec",
                                  {"exec_id": "bad", "args": ["/no/such/bin"]})
    assert code == 502 and answer["exit_code"] == 127, answer
    assert not os.path.exists(os.path.join(root, "containers", "c", "bad"))
    paused = daemon.ok("POST", "/v1/containers/c/pause")
    assert paused["status"] == "paused"
    assert ("c", "paused") in [c[:2] for c in helpers.runc_list(os.path.join(root, "runc"))]
    assert daemon.request("POST", "/v1/containers/c/exec", {"args": ["true"]})[0] == 409
    assert daemon.ok("POST", "/v1/containers/c/resume")["status"] == "running"
    second = daemon.ok("POST", "/v1/containers/c/exec", {"args": ["true"]})
    assert second["id"] == "exec-2"
    assert [p["id"] for p in daemon.state("c")["processes"]] == ["exec-1", "exec-2"]


def test_logs_follow_until_exit(daemon, rootfs):
    script = "echo one; echo err >&2; while [ ! -e /dev/shm/go ]; do sleep 0.05; done; " \
             "echo two; exit 2"
    run(daemon, "f", rootfs, ["sh", "-c", script])
    conn, resp = daemon.stream("/v1/containers/f/logs?follow=1")
    try:
        first = read_ndjson(resp, 2)
        assert sorted(base64.b64decode(r["data"]) for r in first) == [b"err\n", b"one\n"]
        assert {r["stream"] for r in first} == {"stdout", "stderr"}
        daemon.ok("POST", "/v1/containers/f/exec", {"args": ["touch", "/dev/shm/go"]})
        rest = read_ndjson(resp, 3)
    finally:
        conn.close()
    assert base64.b64decode(rest[0]["data"]) == b"two\n"
    assert rest[1:] == [{"exit_code": 2}]
    tail = daemon.request("GET", "/v1/containers/f/logs?tail=1")[1]
    assert base64.b64decode(tail["data"]) == b"two\n"


def test_events_stream(daemon, rootfs):
    conn, resp = daemon.stream("/v1/events")
    try:
        run(daemon, "ev", rootfs, ["sh", "-c", "exit 4"])
        daemon.ok("GET", "/v1/containers/ev/wait")
        daemon.ok("DELETE", "/v1/containers/ev")
        got = read_ndjson(resp, 4)
    finally:
        conn.close()
    assert [e["type"] for e in got] == ["create", "start", "exit", "delete"]
    assert all(e["id"] == "ev" for e in got)
    assert got[2]["exit_code"] == 4 and got[1]["pid"] > 0


def test_attach_framing(daemon, rootfs):
    script = "read line; echo got:$line; echo oops >&2; cat; exit 7"
    create(daemon, "at", rootfs, ["sh", "-c", script], stdin=True)
    sock = open_attach(daemon.socket, "at")
    try:
        daemon.ok("POST", "/v1/containers/at/start")
        send_frame(sock, 0, b"hello\n")
        send_frame(sock, 0, b"rest")
        send_frame(sock, 4)
        out, err, exit_obj, errors = collect_frames(sock)
    finally:
        sock.close()
    assert (out, err, exit_obj, errors) == (b"got:hello\nrest", b"oops\n", {"exit_code": 7}, [])


def test_attach_without_logs_starts_at_the_end(daemon, rootfs):
    run(daemon, "tail", rootfs, ["sh", "-c", "echo early; read x; echo late"], stdin=True)
    helpers.wait_until(lambda: daemon.request("GET", "/v1/containers/tail/logs")[1],
                       what="first output logged")
    out, _err, exit_obj, _errors = attach_and_send(daemon.socket, "tail", b"x\n")
    assert out == b"late\n" and exit_obj == {"exit_code": 0}


def test_openapi_matches_routes(daemon):
    doc = daemon.ok("GET", "/v1/openapi.json")
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(m, p) for m, p, _name in routes.ROUTES}
    for path, ops in doc["paths"].items():
        for op in ops.values():
            if "{id}" in path:
                assert any(p["name"] == "id" for p in op["parameters"])
            for ref in json.dumps(op).split('"$ref": "')[1:]:
                assert ref.split('"')[0].rsplit("/", 1)[1] in doc["components"]["schemas"]


def test_curl_over_the_unix_socket(daemon, rootfs):
    create(daemon, "cu", rootfs, ["true"])
    out = subprocess.run(["curl", "-sS", "--unix-socket", daemon.socket,
                          "http://tether/v1/containers"], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert [c["id"] for c in json.loads(out)] == ["cu"]
    big = json.dumps({"id": "cu2", "rootfs": rootfs, "args": ["true"], "labels":
                      {f"k{i}": "v" * 10 for i in range(200)}})
    out = subprocess.run(["curl", "-sS", "--unix-socket", daemon.socket, "-X", "POST",
                          "-H", "Content-Type: application/json", "-d", big,
                          "http://tether/v1/containers"], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert json.loads(out)["status"] == "created"


def test_socket_and_dir_modes(daemon, rootfs, root):
    create(daemon, "m", rootfs, ["true"])
    assert os.stat(daemon.socket).st_mode & 0o777 == 0o600
    assert os.stat(root).st_mode & 0o777 == 0o711
    assert os.stat(os.path.join(root, "containers")).st_mode & 0o777 == 0o711
    assert os.stat(os.path.join(root, "containers", "m")).st_mode & 0o777 == 0o700
    with open(os.path.join(root, "tether.pid")) as f:
        assert int(f.read()) == daemon.proc.pid


def test_resize_needs_a_terminal(daemon, rootfs):
    run(daemon, "rz", rootfs, ["sleep", "1000"])
    assert daemon.request("POST", "/v1/containers/rz/resize", {"cols": 80, "rows": 24})[0] == 409
    run(daemon, "rt", rootfs, ["sleep", "1000"], tty=True)
    assert daemon.request("POST", "/v1/containers/rt/resize",
                          {"cols": 100, "rows": 30})[0] == 204


def test_many_containers_in_parallel(daemon, rootfs):
    results = {}

    def start_one(i):
        results[i] = daemon.request("POST", "/v1/containers", {
            "id": f"p{i}", "rootfs": rootfs, "args": ["sh", "-c", f"exit {i}"]})[0]
    threads = [threading.Thread(target=start_one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results.values()) == {201}
    for i in range(6):
        daemon.ok("POST", f"/v1/containers/p{i}/start")
    assert [daemon.ok("GET", f"/v1/containers/p{i}/wait")["exit_code"]
            for i in range(6)] == list(range(6))


def test_exit_status_file_matches_state(daemon, rootfs, root):
    run(daemon, "x", rootfs, ["sh", "-c", "exit 9"])
    waited = daemon.ok("GET", "/v1/containers/x/wait")
    on_disk = layout.read_exit_status(os.path.join(root, "containers", "x", "init"))
    assert (waited["exit_code"], waited["exited_at"]) == (9, on_disk["exited_at"])


def decode_lines(records):
    """Join the data of log records (NDJSON objects) into bytes."""
    return b"".join(base64.b64decode(r["data"]) for r in records if "data" in r)


def test_logs_follow_across_rotation(daemon, rootfs, root):
    script = "while [ ! -e /dev/shm/go ]; do sleep 0.05; done; " \
             "i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; " \
             "i=$((i+1)); done; exit 1"
    run(daemon, "rot", rootfs, ["sh", "-c", script], log_max_size=2000, log_max_files=50)
    conn, resp = daemon.stream("/v1/containers/rot/logs?follow=1")
    try:
        daemon.ok("POST", "/v1/containers/rot/exec", {"args": ["touch", "/dev/shm/go"]})
        records = read_ndjson(resp, 302)
    finally:
        conn.close()
    expected = b"".join(b"line-%d-xxxxxxxxxxxxxxxxxxxxxxxx\n" % i for i in range(300))
    assert decode_lines(records) == expected and records[-1] == {"exit_code": 1}
    assert len([n for n in os.listdir(os.path.join(root, "containers", "rot", "init"))
                if n.startswith("output.log.")]) > 3
    conn, resp = daemon.stream("/v1/containers/rot/logs")
    try:
        assert decode_lines(read_ndjson(resp, 400)) == expected
    finally:
        conn.close()


def test_native_runtime(daemon, tmp):
    created = daemon.ok("POST", "/v1/containers", {
        "id": "host", "rootfs": tmp, "runtime": "native",
        "args": ["sh", "-c", "echo native $$; exit 4"]})
    assert created["status"] == "created" and created["runtime"] == "native"
    daemon.ok("POST", "/v1/containers/host/start")
    assert daemon.ok("GET", "/v1/containers/host/wait")["exit_code"] == 4
    out = daemon.ok("GET", "/v1/containers/host/logs")
    assert base64.b64decode(out["data"]) == b"native %d\n" % created["pid"]


def test_native_runtime_pause_and_kill(daemon, tmp):
    daemon.ok("POST", "/v1/containers", {"id": "hp", "rootfs": tmp, "runtime": "native",
                                         "args": ["sleep", "1000"]})
    pid = daemon.ok("POST", "/v1/containers/hp/start")["pid"]
    assert daemon.ok("POST", "/v1/containers/hp/pause")["status"] == "paused"

    def proc_state():
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    helpers.wait_until(lambda: proc_state() == "T", 5, what="native process stopped")
    daemon.ok("POST", "/v1/containers/hp/resume")
    daemon.ok("POST", "/v1/containers/hp/kill", {"signal": "TERM"})
    assert daemon.ok("GET", "/v1/containers/hp/wait")["exit_code"] == 143


def test_exit_reported_while_the_shim_still_drains_output(daemon, rootfs):
    # A background child keeps the exec's stdout open, so its shim lives on:
    # the exit must come from inotify on exitStatus, not from the shim's death.
    run(daemon, "bg", rootfs, ["sleep", "1000"])
    proc = daemon.ok("POST", "/v1/containers/bg/exec",
                     {"args": ["sh", "-c", "sleep 1000 & exit 3"]})
    assert daemon.ok("GET", "/v1/containers/bg/wait?exec_id=exec-1")["exit_code"] == 3
    assert helpers.pid_alive(proc["shim_pid"])
    assert daemon.state("bg")["processes"][0]["status"] == "stopped"


def test_force_delete_paused_container_with_a_running_exec(daemon, rootfs, root):
    started = run(daemon, "pd", rootfs, ["sleep", "1000"])
    proc = daemon.ok("POST", "/v1/containers/pd/exec", {"args": ["sleep", "1000"]})
    daemon.ok("POST", "/v1/containers/pd/pause")
    daemon.ok("DELETE", "/v1/containers/pd?force=1")
    for pid in (started["pid"], proc["pid"], started["shim_pid"], proc["shim_pid"]):
        helpers.wait_until(lambda: not helpers.pid_alive(pid), 10, what=f"pid {pid} gone")
    assert helpers.runc_list(os.path.join(root, "runc")) == []
    assert os.listdir(os.path.join(root, "containers")) == []


def read_pid(path):
    """Return the pid written in PATH, or None while it is not (fully) written."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def test_a_hanging_runtime_blocks_only_its_own_container(daemon, rootfs, tmp, root):
    fake = os.path.join(tmp, "hang-runc")
    pid_file = os.path.join(tmp, "hang.pid")
    with open(fake, "w") as f:
        f.write(f'#!/bin/sh\ncase "$*" in *" create "*) echo $$ > {pid_file}; exec sleep 1000;; esac\n'
                'exit 0\n')
    os.chmod(fake, 0o755)
    answer = {}

    def create_hanging():
        answer["hang"] = daemon.request("POST", "/v1/containers", {
            "id": "hang", "rootfs": rootfs, "args": ["true"], "runtime": fake}, timeout=60)
    thread = threading.Thread(target=create_hanging)
    thread.start()
    try:
        hung_pid = helpers.wait_until(lambda: read_pid(pid_file), 10, what="the fake runtime runs")
        run(daemon, "fine", rootfs, ["sh", "-c", "exit 5"])
        assert daemon.ok("GET", "/v1/containers/fine/wait")["exit_code"] == 5
        assert daemon.ok("GET", "/v1/health") == {"ok": True}
    finally:
        hung_pid = read_pid(pid_file)
        if hung_pid:
            helpers.kill_if_alive(hung_pid)
        thread.join(60)
    code, body = answer["hang"]
    assert code == 502 and body["exit_code"] == 125, body
    assert not os.path.exists(os.path.join(root, "containers", "hang"))


def test_exit_during_start_is_published_after_start_once(daemon, rootfs):
    # containerd#7111 / #9719: an exit that races the start must be neither lost,
    # doubled nor published before the start.
    conn, resp = daemon.stream("/v1/events")
    try:
        for i in range(5):
            run(daemon, f"q{i}", rootfs, ["true"])
        for i in range(5):
            assert daemon.ok("GET", f"/v1/containers/q{i}/wait")["exit_code"] == 0
        daemon.ok("POST", "/v1/containers", {"id": "end", "rootfs": rootfs, "args": ["true"]})
        got = read_ndjson(resp, 16)
    finally:
        conn.close()
    for i in range(5):
        assert [e["type"] for e in got if e["id"] == f"q{i}"] == ["create", "start", "exit"]
    assert got[-1]["id"] == "end"
