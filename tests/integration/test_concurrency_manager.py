"""Concurrency: parallel clients doing lifecycles, many containers alive at once.

The default suite keeps 50 containers alive; the long run keeps 200:
    CONCURRENCY_ALIVE=200 .venv/bin/python -m pytest -s \
        tests/integration/test_concurrency_manager.py
The `list` latency measured during each storm is printed, never asserted
against a tight bound (machines are noisy): it must answer, that is all.
"""

import base64
import concurrent.futures
import os
import threading
import time

import pytest

import daemonutil
import helpers
from manager.client import Client

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


class ListProbe(threading.Thread):
    """Time `GET /v1/containers` over and over until stopped."""

    def __init__(self, socket_path):
        super().__init__(daemon=True)
        self.client = Client(socket_path, timeout=60)
        self.latencies = []
        self.stop = threading.Event()
        self.errors = []

    def run(self):
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                self.client.list()
            except Exception as err:  # reported by the test, which fails on any
                self.errors.append(repr(err))
                return
            self.latencies.append(time.monotonic() - started)
            self.stop.wait(0.05)  # a probe every 50 ms, not a synchronisation

    def report(self, what):
        self.stop.set()
        self.join(60)
        lat = sorted(self.latencies) or [float("nan")]
        print(f"{what}: {len(self.latencies)} lists, median {lat[len(lat) // 2] * 1000:.1f} ms, "
              f"max {lat[-1] * 1000:.1f} ms")
        return lat


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
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda n: lifecycle(daemon.socket, rootfs, n), range(CLIENTS)))
    latencies = probe.report(f"{CLIENTS} parallel lifecycles")
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
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        pids = list(pool.map(lambda n: start_sleeper(client, rootfs, n), range(ALIVE)))
    print(f"{ALIVE} containers started in {time.monotonic() - started:.1f} s")
    listed = client.list()
    assert len(listed) == ALIVE and {c["status"] for c in listed} == {"running"}
    assert all(helpers.pid_alive(pid) for pid in pids)
    latencies = probe.report(f"{ALIVE} alive")
    assert probe.errors == [] and latencies
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda c: client.kill(c["id"], "KILL"), listed))
        codes = list(pool.map(lambda c: client.wait(c["id"])["exit_code"], listed))
        list(pool.map(lambda c: client.delete(c["id"]), listed))
    assert codes == [137] * ALIVE
    assert client.list() == [] and os.listdir(os.path.join(root, "containers")) == []
