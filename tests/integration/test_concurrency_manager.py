"""Concurrency: parallel clients doing lifecycles, many containers alive at once.

The default suite keeps 50 containers alive; the long run keeps 200:
    CONCURRENCY_ALIVE=200 .venv/bin/python -m pytest -s \
        tests/integration/test_concurrency_manager.py
The `list` latency measured during each storm is printed, never asserted
against a tight bound (machines are noisy): it must answer, that is all.
"""

import base64
import concurrent.futures
import json
import os
import subprocess
import sys
import time

import pytest

import daemonutil
import helpers
from manager.client.methods import Client

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENTS = int(os.environ.get("CONCURRENCY_CLIENTS", "50"))
ALIVE = int(os.environ.get("CONCURRENCY_ALIVE", "50"))


@pytest.fixture
def daemon(root):
    yield from daemonutil.daemon_fixture(root)


def numbered(count):
    return b"".join(b"%d\n" % i for i in range(1, count + 1))


def stdout_of(client, cid):
    return b"".join(base64.b64decode(r["data"]) for r in client.logs(cid)
                    if r.get("stream") == "stdout")


# The probe runs in a process of its own: in this one, 50 client threads would
# make it wait for the GIL, and that is not the manager's latency.
PROBE = """
import json, select, sys, time
from manager.client.methods import Client
client, latencies, errors = Client(sys.argv[1], timeout=60), [], []
while not select.select([sys.stdin], [], [], 0.05)[0]:  # a list every 50 ms until told
    started = time.monotonic()
    try:
        client.list()
    except Exception as err:
        errors.append(repr(err))
        break
    latencies.append(time.monotonic() - started)
print(json.dumps({"latencies": latencies, "errors": errors}))
"""


class ListProbe:
    """Time `GET /v1/containers` over and over from another process until stopped."""

    def __init__(self, socket_path):
        self.socket_path = socket_path
        self.proc = None
        self.errors = []

    def start(self):
        self.proc = subprocess.Popen([sys.executable, "-c", PROBE, self.socket_path],
                                     cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def report(self, what):
        out, _err = self.proc.communicate(b"stop\n", timeout=120)
        found = json.loads(out)
        self.errors = found["errors"]
        lat = sorted(found["latencies"]) or [float("nan")]
        print(f"{what}: {len(found['latencies'])} lists, median {lat[len(lat) // 2] * 1000:.1f} "
              f"ms, max {lat[-1] * 1000:.1f} ms")
        return found["latencies"]

    def close(self):
        """Kill the probe if a failure left it running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def lifecycle(socket_path, rootfs, n):
    """Create, start, wait, read the log and delete one container; return what it saw."""
    client = Client(socket_path, timeout=120)
    cid, code, lines = f"p{n:03d}", n % 100, 50 + n
    client.create({"id": cid, "rootfs": rootfs,
                   "args": ["sh", "-c", f"seq 1 {lines}; exit {code}"]})
    client.start(cid)
    got = client.wait(cid)["exit_code"]
    out = stdout_of(client, cid)
    client.delete(cid)
    return cid, got == code, out == numbered(lines)


def test_fifty_parallel_clients_lose_nothing(daemon, rootfs, root):
    probe = ListProbe(daemon.socket)
    probe.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(lambda n: lifecycle(daemon.socket, rootfs, n),
                                    range(CLIENTS)))
        latencies = probe.report(f"{CLIENTS} parallel lifecycles")
    finally:
        probe.close()
    assert probe.errors == [] and latencies
    assert [r for r in results if not (r[1] and r[2])] == []
    assert daemon.ok("GET", "/v1/containers") == []
    assert os.listdir(os.path.join(root, "containers")) == []


def start_sleeper(client, rootfs, n):
    cid = f"s{n:03d}"
    client.create({"id": cid, "rootfs": rootfs, "args": ["sleep", "100000"]})
    return client.start(cid)["pid"]


def test_many_containers_alive_at_once(daemon, rootfs, root):
    client = Client(daemon.socket, timeout=120)
    probe = ListProbe(daemon.socket)
    probe.start()
    try:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            pids = list(pool.map(lambda n: start_sleeper(client, rootfs, n), range(ALIVE)))
        print(f"{ALIVE} containers started in {time.monotonic() - started:.1f} s")
        listed = client.list()
        assert len(listed) == ALIVE and {c["status"] for c in listed} == {"running"}
        assert all(helpers.pid_alive(pid) for pid in pids)
        latencies = probe.report(f"{ALIVE} alive")
    finally:
        probe.close()
    assert probe.errors == [] and latencies
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda c: client.kill(c["id"], "KILL"), listed))
        codes = list(pool.map(lambda c: client.wait(c["id"])["exit_code"], listed))
        list(pool.map(lambda c: client.delete(c["id"]), listed))
    assert codes == [137] * ALIVE
    assert client.list() == [] and os.listdir(os.path.join(root, "containers")) == []
