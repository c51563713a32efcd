"""Fuzz the HTTP API from its own OpenAPI document with schemathesis.

schemathesis speaks HTTP over TCP (requests); the manager listens on a unix
socket, so a small TCP-to-unix proxy on 127.0.0.1 sits between them. Every
case is checked: no 5xx (a 502 is counted apart: the runtime refused a
generated process), a rejected request (4xx) changes nothing (the container
list and the state directory are the same before and after it), and every
answer is what the document says: a documented status code, content type and
headers, and a body that its schema validates (schemathesis's response
checks, CONFORMANCE).
"""

import os
import socket
import threading

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from shim.contract import layout
from fuzz import conformance

SKIPPED = {("GET", "/v1/events")}  # an endless stream: fuzzed through its query in unit tests
# Host paths a generated body must not reach, and host commands it must not run.
HOST_KEYS = ("mounts", "bundle", "image_path", "exit_command", "checkpoint")


class UnixProxy:
    """Forward TCP connections on 127.0.0.1 to a unix socket (one thread per direction)."""

    def __init__(self, socket_path):
        self.socket_path = socket_path
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.socket_path)
            except OSError:
                client.close()
                upstream.close()
                continue
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(src, dst), daemon=True).start()

    def close(self):
        """Stop accepting."""
        self.closed = True
        self.listener.close()


def pipe(src, dst):
    """Copy SRC to DST until EOF, then close both."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class Result:
    """Counts and failures of a fuzzing run."""

    def __init__(self):
        self.requests = 0
        self.by_status = {}
        self.failures = []

    def summary(self):
        """Return one line."""
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(self.by_status.items()))
        return (f"fuzz: {self.requests} requests, {len(self.failures)} failures "
                f"(statuses {statuses})")


class Fuzzer:
    """Run schemathesis cases against a started manager (tests/integration/daemonutil)."""

    def __init__(self, daemon, rootfs):
        self.daemon = daemon
        self.rootfs = rootfs
        self.result = Result()
        self.schema = schemathesis.openapi.from_dict(daemon.ok("GET", "/v1/openapi.json"))
        self.operations = [r.ok() for r in self.schema.get_all_operations()]
        self.operations = [op for op in self.operations
                           if (op.method.upper(), op.path) not in SKIPPED]

    def snapshot(self):
        """Return what a rejected request must not change."""
        listed = [(c["id"], c["status"], len(c["processes"]))
                  for c in self.daemon.ok("GET", "/v1/containers")]
        return listed, sorted(os.listdir(layout.containers_dir(self.daemon.root)))

    def sanitize(self, case):
        """Keep generated bodies off the host: our rootfs instead of host directories."""
        body = case.body
        if isinstance(body, dict):
            for key in HOST_KEYS:
                body.pop(key, None)
            if isinstance(body.get("rootfs"), str):
                body["rootfs"] = self.rootfs

    def check(self, case, session, base_url):
        """Send one case and check its answer."""
        self.sanitize(case)
        before = self.snapshot()
        response = case.call(base_url=base_url, session=session, timeout=30)
        code = response.status_code
        self.result.requests += 1
        self.result.by_status[code] = self.result.by_status.get(code, 0) + 1
        what = f"{case.method} {case.formatted_path} {str(case.body)[:120]}"
        if code >= 500 and code != 502:
            self.result.failures.append(f"{code} for {what}: {response.text[:200]}")
        if 400 <= code < 500 and self.snapshot() != before:
            self.result.failures.append(f"state changed by a rejected {what}")
        self.check_conformance(case, response, what)
        if code < 300:
            self.daemon.delete_all()  # an accepted create: leave a clean slate

    def check_conformance(self, case, response, what):
        """Record how the answer differs from the document (status, type, headers, body)."""
        for failure in conformance.failures_of(case, response):
            self.result.failures.append(f"{response.status_code} for {what} does not conform: "
                                        f"{failure}")

    def run(self, total, seed=0):
        """Send at least TOTAL requests, spread over every operation and both modes."""
        proxy = UnixProxy(self.daemon.socket)
        base_url = f"http://127.0.0.1:{proxy.port}"
        import requests
        session = requests.Session()
        try:
            round_number = 0
            while self.result.requests < total:
                before = self.result.requests
                for op in self.operations:
                    for mode in schemathesis.GenerationMode:
                        self.fuzz_operation(op, mode, session, base_url,
                                            max(1, total // (2 * len(self.operations))),
                                            seed + round_number)
                round_number += 1
                if self.result.requests == before:
                    break
        finally:
            session.close()
            proxy.close()
        return self.result

    def fuzz_operation(self, op, mode, session, base_url, count, seed):
        """Run up to COUNT cases of one operation in one generation mode."""
        @settings(max_examples=count, deadline=None, database=None, derandomize=False,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(op.as_strategy(generation_mode=mode))
        def one(case):
            self.check(case, session, base_url)
        one._hypothesis_internal_use_seed = seed
        try:
            one()
        except Unsatisfiable:
            pass  # nothing can be made invalid in this operation (no parameters, no body)
