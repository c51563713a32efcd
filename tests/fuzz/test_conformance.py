"""Every answer of a real lifecycle is what the OpenAPI document says (issue 13, item 6).

The fuzz (test_fuzz_api.py) reaches mostly the error answers; this walks the
answers of a container that lives: created with its nulls, running, paused,
stopped by a signal, its stats, top, update, exec, logs and events, and the
errors on the way (409, 400, 404, 502 with an exit code), each checked with
schemathesis's response checks (tests/fuzz/conformance.py).
"""

import pytest
import requests
import schemathesis

import daemonutil
from fuzz import conformance
from fuzz.fuzzer import UnixProxy

SLEEPER = ["sh", "-c", "echo out; echo err >&2; exec sleep 1000"]


@pytest.fixture
def daemon(root):
    yield from daemonutil.daemon_fixture(root)


class Walk:
    """Send documented requests; keep every way an answer differs from the document."""

    def __init__(self, daemon):
        self.schema = schemathesis.openapi.from_dict(daemon.ok("GET", "/v1/openapi.json"))
        self.proxy = UnixProxy(daemon.socket)
        self.base_url = f"http://127.0.0.1:{self.proxy.port}"
        self.session = requests.Session()
        self.failures = []
        self.statuses = []

    def close(self):
        self.session.close()
        self.proxy.close()

    def case(self, method, path, cid=None, query=None, body=None):
        params = {"id": cid} if cid is not None else None
        kwargs = {"media_type": "application/json", "body": body} if body is not None else {}
        return self.schema[path][method].Case(path_parameters=params, query=query, **kwargs)

    def send(self, method, path, cid=None, query=None, body=None, expect=200):
        """Send one request; check its answer against the document and EXPECT; return it."""
        case = self.case(method, path, cid, query, body)
        response = case.call(base_url=self.base_url, session=self.session, timeout=30)
        self.check(case, response, expect)
        return response

    def first_lines(self, path, count, query=None):
        """Read COUNT lines of an endless NDJSON stream, check them, close it."""
        case = self.case("GET", path, query=query)
        url = self.base_url + path + "?" + "&".join(f"{k}={v}" for k, v in (query or {}).items())
        with self.session.get(url, stream=True, timeout=30) as response:
            lines = []
            for line in response.iter_lines():
                lines.append(line)
                if len(lines) == count:
                    break
            response._content, response._content_consumed = b"\n".join(lines), True
            self.check(case, response, 200)
        return lines

    def check(self, case, response, expect):
        label = f"{case.method} {case.formatted_path}"
        self.statuses.append((label, response.status_code))
        if response.status_code != expect:
            self.failures.append(f"{label}: {response.status_code}, not {expect}: "
                                 f"{response.text[:200]}")
        for failure in conformance.failures_of(case, response):
            self.failures.append(f"{label} -> {response.status_code}: {failure}")


def test_every_answer_of_a_lifecycle_conforms_to_the_document(daemon, rootfs):
    walk = Walk(daemon)
    c, one = "st-conf", "/v1/containers/{id}"
    try:
        walk.send("GET", "/v1/version")
        walk.send("GET", "/v1/health")
        walk.send("GET", "/v1/containers")
        body = {"id": c, "rootfs": rootfs, "args": SLEEPER, "labels": {"k": "v"}}
        created = walk.send("POST", "/v1/containers", body=body, expect=201).json()
        assert created["exited_at"] is None and created["exit_code"] is None
        walk.send("POST", "/v1/containers", body=body, expect=409)
        walk.send("GET", one, c)
        walk.send("GET", "/v1/containers", query=None)
        walk.send("POST", one + "/resize", c, body={"cols": 80, "rows": 24}, expect=409)
        walk.send("POST", one + "/start", c)
        walk.send("POST", one + "/start", c, expect=409)
        walk.send("GET", one + "/stats", c)
        walk.send("GET", one + "/top", c)
        walk.send("POST", one + "/update", c, body={"memory": 64 << 20, "pids_limit": 50})
        walk.send("POST", one + "/update", c, body={}, expect=400)
        walk.send("POST", one + "/exec", c, body={"exec_id": "e1", "args": ["true"]},
                  expect=201)
        walk.send("GET", one + "/wait", c, query={"exec_id": "e1"})
        walk.send("POST", one + "/exec", c, body={"args": ["/no/such"]}, expect=502)
        walk.send("GET", one + "/logs", c)
        walk.send("POST", one + "/pause", c)
        walk.send("POST", one + "/pause", c, expect=409)
        walk.send("POST", one + "/resume", c)
        walk.send("DELETE", one, c, expect=409)
        walk.send("POST", one + "/kill", c, body={"signal": "KILL"}, expect=204)
        walk.send("GET", one + "/wait", c)
        walk.send("GET", one + "/logs", c, query={"follow": "1", "tail": "1"})
        walk.send("GET", one, c)
        walk.send("GET", one + "/stats", c, expect=409)
        walk.send("POST", one + "/kill", c, body={"signal": "TERM"}, expect=409)
        walk.first_lines("/v1/events", 3, {"after": "0"})
        walk.send("DELETE", one, c, expect=204)
        walk.send("GET", one, c, expect=404)
        walk.send("GET", one + "/top", "st-none", expect=404)
        walk.send("POST", "/v1/containers", body={"id": "st-bad", "rootfs": rootfs,
                                                  "args": ["/no/such"]}, expect=502)
        walk.send("POST", "/v1/containers", body={"id": "-bad"}, expect=400)
        native = {"id": "st-native", "rootfs": rootfs, "runtime": "native",
                  "args": ["sleep", "1000"], "start": True}
        walk.send("POST", "/v1/containers", body=native, expect=201)
        walk.send("POST", one + "/update", "st-native", body={"cpus": 1}, expect=409)
        walk.send("DELETE", one, "st-native", query={"force": "1"}, expect=204)
    finally:
        walk.close()
    assert walk.failures == [], "\n".join(walk.failures)
    assert len(walk.statuses) >= 35
