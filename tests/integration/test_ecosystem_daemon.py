"""The manager in its ecosystem: sd_notify readiness, JSON-lines logs, Prometheus metrics."""

import json
import os
import socket

import pytest

import helpers
from cliutil import manager, run_tether, socket_answers, tether  # noqa: F401
from managerfixture import ManagerProcess
from manager.client.methods import Client


def start_daemon(root, log_path, *flags, env=None):
    """Start `tether daemon FLAGS` on ROOT with its stderr in LOG_PATH; return its Popen."""
    return ManagerProcess(root, log_path, flags, env or {}).start(wait=False).proc


def stop_daemon(proc):
    """SIGTERM the daemon and reap it; return its exit status."""
    if proc.poll() is None:
        proc.terminate()
    return proc.wait(10)


@pytest.fixture
def notify_socket(tmp, request):
    """A datagram socket standing in for systemd's: (NOTIFY_SOCKET value, socket)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "abstract":
        value = f"@tether-test-{os.getpid()}-{os.path.basename(tmp)}"
        sock.bind("\0" + value[1:])
    else:
        value = os.path.join(tmp, "notify")
        sock.bind(value)
    sock.settimeout(20)
    yield value, sock
    sock.close()


@pytest.mark.parametrize("notify_socket", ["path", "abstract"], indirect=True)
def test_ready_is_notified_once_the_socket_answers(root, tmp, notify_socket):
    value, sock = notify_socket
    proc = start_daemon(root, f"{tmp}/manager.log", env={"NOTIFY_SOCKET": value})
    try:
        message = sock.recv(4096).decode()
        # READY=1 comes after the socket listens: a client may connect at once.
        assert socket_answers(os.path.join(root, "tether.sock"))
        fields = dict(line.split("=", 1) for line in message.splitlines())
        assert fields["READY"] == "1" and fields["MAINPID"] == str(proc.pid)
        proc.terminate()
        assert sock.recv(4096) == b"STOPPING=1"
    finally:
        assert stop_daemon(proc) == 0


def test_unusable_notify_socket_is_logged_and_not_fatal(root, tmp):
    proc = start_daemon(root, f"{tmp}/manager.log", env={"NOTIFY_SOCKET": f"{tmp}/absent"})
    try:
        helpers.wait_until(lambda: socket_answers(os.path.join(root, "tether.sock")), 15,
                           what="the manager's socket")
        assert Client(os.path.join(root, "tether.sock")).health() == {"ok": True}
    finally:
        assert stop_daemon(proc) == 0
    records = [json.loads(line) for line in open(f"{tmp}/manager.log")]
    assert any(r["level"] == "warning" and f"{tmp}/absent" in r["msg"] for r in records)


def test_log_is_json_lines_with_container_ids(tether, manager, make_bundle):
    assert tether("run", "--rm", "logged", "--bundle", make_bundle(["true"])) == (0, "", "")

    def logged():
        """Return the records once the removal (after the CLI returned) is logged."""
        records = [json.loads(line) for line in manager.log().splitlines()]
        done = any(r["msg"] == "event delete logged" for r in records)
        return records if done else None
    records = helpers.wait_until(logged, what="the removal logged")
    assert all({"time", "level", "logger", "msg"} <= set(r) for r in records)
    mine = [r["msg"] for r in records if r.get("container") == "logged"]
    assert mine == ["event create logged", "event start logged", "event exit logged",
                    "event delete logged"]


def test_log_level_warning_drops_info(root, tmp):
    proc = start_daemon(root, f"{tmp}/manager.log", "--log-level", "warning")
    try:
        helpers.wait_until(lambda: socket_answers(os.path.join(root, "tether.sock")), 15,
                           what="the manager's socket")
    finally:
        assert stop_daemon(proc) == 0
    with open(f"{tmp}/manager.log") as f:
        assert f.read() == ""
    assert run_tether(root, "daemon", "--log-level", "loud")[0] == 125


def metric_values(text):
    """Return {sample name with labels: value} of a Prometheus exposition TEXT."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_metrics_count_containers_exits_and_requests(tether, manager, make_bundle):
    client = Client(manager.socket)
    assert tether("run", "-d", "m1", "--bundle", make_bundle(["sleep", "1000"])) == (0, "m1\n", "")
    assert tether("run", "m2", "--bundle", make_bundle(["sh", "-c", "exit 3"]))[0] == 3
    assert tether("state", "nope")[0] == 125
    values = metric_values(client.metrics())
    assert values['tether_containers{status="running"}'] == 1
    assert values['tether_containers{status="stopped"}'] == 1
    assert values["tether_shims_alive"] == 1
    assert values["tether_exits_total"] == 1
    assert values['tether_events_total{type="create"}'] == 2
    assert values['tether_api_requests_total{method="GET",route="/v1/containers/{id}",'
                  'code="404"}'] == 1
    # run -d is a create (201); the attached run an upgraded create (101).
    assert values['tether_api_requests_total{method="POST",route="/v1/containers",'
                  'code="201"}'] == 1
    assert values['tether_api_requests_total{method="POST",route="/v1/containers",'
                  'code="101"}'] == 1
    count = values['tether_api_request_duration_seconds_count{method="POST",'
                   'route="/v1/containers"}']
    assert values['tether_api_request_duration_seconds_bucket{method="POST",'
                  'route="/v1/containers",le="+Inf"}'] == count == 2


def test_metrics_report_reattached_processes_after_a_restart(tether, manager, make_bundle):
    assert tether("run", "-d", "r1", "--bundle", make_bundle(["sleep", "1000"]))[0] == 0
    before = metric_values(Client(manager.socket).metrics())
    manager.kill()
    manager.start()
    after = metric_values(Client(manager.socket).metrics())
    assert before["tether_reattached_processes"] == 0
    assert after["tether_reattached_processes"] == 1
    assert after["tether_manager_start_time_seconds"] > before["tether_manager_start_time_seconds"]
    assert after["tether_shims_alive"] == 1
