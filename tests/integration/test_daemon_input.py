"""Bad input to the manager: one clear error, nothing written, the server survives."""

import json
import os

import pytest

import daemonutil
from daemonutil import raw_request


@pytest.fixture
def daemon(root):
    yield from daemonutil.daemon_fixture(root)


def error_of(answer):
    assert isinstance(answer, dict) and isinstance(answer.get("error"), str), answer
    assert "\n" not in answer["error"]
    return answer["error"]


@pytest.mark.parametrize("cid", ["../evil", "a/b", "", "-x", "x" * 65, ".hidden", 7])
def test_malformed_id_writes_nothing(daemon, rootfs, root, cid):
    code, answer = daemon.request("POST", "/v1/containers",
                                  {"id": cid, "rootfs": rootfs, "args": ["true"]})
    assert code == 400 and "invalid id" in error_of(answer)
    assert os.listdir(os.path.join(root, "containers")) == []


@pytest.mark.parametrize("path", ["/v1/containers/..%2F..%2Fetc", "/v1/containers/a%00b",
                                  "/v1/containers/%2e%2e/start"])
def test_malformed_id_in_path(daemon, path):
    method = "POST" if path.endswith("start") else "GET"
    code, answer = daemon.request(method, path)
    assert code == 400, answer


def test_unknown_signal_duplicate_id_and_wrong_state(daemon, rootfs):
    daemon.ok("POST", "/v1/containers", {"id": "c", "rootfs": rootfs, "args": ["sleep", "100"]})
    code, answer = daemon.request("POST", "/v1/containers",
                                  {"id": "c", "rootfs": rootfs, "args": ["true"]})
    assert code == 409 and "exists" in error_of(answer)
    code, answer = daemon.request("POST", "/v1/containers/c/kill", {"signal": "SIGNOPE"})
    assert code == 400 and "signal" in error_of(answer)
    assert daemon.request("POST", "/v1/containers/c/resume")[0] == 409
    assert daemon.request("POST", "/v1/containers/c/exec", {"args": ["true"]})[0] == 409
    code, answer = daemon.request("DELETE", "/v1/containers/c")
    assert code == 409 and "force" in error_of(answer)
    daemon.ok("POST", "/v1/containers/c/start")
    assert daemon.request("POST", "/v1/containers/c/start")[0] == 409
    assert daemon.request("GET", "/v1/containers/c/wait?exec_id=nope")[0] == 404
    assert daemon.request("GET", "/v1/containers/missing")[0] == 404


@pytest.mark.parametrize("body", [
    b"{", b"[]", b'{"id": "x"}', b'{"id": "x", "rootfs": "relative"}',
    b'{"id": "x", "bundle": "/nonexistent"}',
])
def test_bad_create_bodies(daemon, root, body):
    code, answer = daemon.request("POST", "/v1/containers", body)
    assert code == 400, answer
    error_of(answer)
    assert os.listdir(os.path.join(root, "containers")) == []


def test_bundle_refuses_args(daemon, make_bundle):
    bundle = make_bundle(["true"])
    code, answer = daemon.request("POST", "/v1/containers",
                                  {"id": "b", "bundle": bundle, "args": ["sh"]})
    assert code == 400 and "bundle" in error_of(answer)


def test_body_over_one_mib_is_refused(daemon, root):
    body = json.dumps({"id": "big", "labels": {"x": "y" * (1 << 20)}}).encode()
    code, answer = daemon.request("POST", "/v1/containers", body)
    assert code == 413 and "limit" in error_of(answer)
    assert os.listdir(os.path.join(root, "containers")) == []


@pytest.mark.parametrize("data, status", [
    (b"\x00\xff\xfe garbage\r\n\r\n", b"400"),
    (b"GET /v1/health HTTP/1.1\r\nbroken header\r\n\r\n", b"400"),
    (b"GET /v1/health HTTP/9.9\r\n\r\n", b"505"),
    (b"POST /v1/containers HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"411"),
    (b"POST /v1/containers HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"400"),
    (b"GET /v1/health HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
    (b"GET /v1/containers/x/attach HTTP/1.1\r\n\r\n", b"40"),
])
def test_garbage_requests_get_an_error_and_the_server_survives(daemon, data, status):
    answer = raw_request(daemon.socket, data)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert daemon.ok("GET", "/v1/health") == {"ok": True}


def test_truncated_request_and_keep_alive(daemon):
    assert raw_request(daemon.socket, b"GET /v1/hea").startswith(b"HTTP/1.1 400 ")
    answer = raw_request(daemon.socket, b"GET /v1/health HTTP/1.1\r\n\r\n"
                                        b"GET /v1/version HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200 OK") == 2 and b'"api":"v1"' in answer
    assert daemon.request("PUT", "/v1/containers")[0] == 405
