"""manager.client.methods against a real manager: answers, errors and streams."""

import pytest

from cliutil import manager  # noqa: F401
from manager.client.methods import ApiError, Client, UnreachableError


def test_client_operations_and_errors(manager, make_bundle):
    client = Client(manager.socket)
    assert client.version()["api"] == "v1"
    assert client.health() == {"ok": True}
    assert "/v1/containers" in client.openapi()["paths"]
    assert client.list() == []
    with pytest.raises(ApiError) as info:
        client.state("nope")
    assert info.value.status == 404 and "nope" in info.value.message
    with pytest.raises(ApiError) as info:
        client.create({"id": "bad/id", "bundle": make_bundle(["true"])})
    assert info.value.status == 400

    created = client.create({"id": "c1", "bundle": make_bundle(["sh", "-c", "echo hi"])})
    assert created["status"] == "created"
    assert client.start("c1")["status"] in ("running", "stopped")
    assert client.wait("c1")["exit_code"] == 0
    records = list(client.logs("c1"))
    assert [(r["stream"], r["data"]) for r in records if "stream" in r] == [("stdout", "aGkK")]
    client.delete("c1")
    assert client.list() == []


def test_client_unreachable_names_the_socket(tmp):
    with pytest.raises(UnreachableError, match=f"cannot reach the manager at {tmp}/x.sock"):
        Client(f"{tmp}/x.sock").list()
