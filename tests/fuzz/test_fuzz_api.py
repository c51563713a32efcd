"""A short schemathesis run in the default suite (the long one: python -m tests.fuzz)."""

import os

import pytest

import daemonutil
from fuzz.fuzzer import Fuzzer

REQUESTS = int(os.environ.get("FUZZ_REQUESTS", "600"))


@pytest.fixture
def daemon(root):
    yield from daemonutil.daemon_fixture(root)


def test_fuzzed_requests_get_no_5xx_and_change_nothing_when_rejected(daemon, rootfs):
    result = Fuzzer(daemon, rootfs).run(REQUESTS)
    print(result.summary())
    assert result.requests >= REQUESTS
    assert result.failures == []
    assert daemon.proc.poll() is None and daemon.ok("GET", "/v1/health") == {"ok": True}
