"""Unit tests of the attach client's framing and detach keys (HTTP: test_cli_http.py)."""

import pytest

from manager.client import attach_client as ac
from manager.client.methods import ClientError, error_from_body
from shim.contract import frames as wire


def test_frames_round_trip_across_arbitrary_splits():
    stream = (wire.encode_frame(wire.STDOUT, b"hello") + wire.encode_frame(wire.STDERR, b"")
              + wire.encode_frame(wire.EXIT, b'{"exit_code": 3}'))
    for split in range(len(stream) + 1):
        reader = wire.FrameReader()
        frames = reader.feed(stream[:split]) + reader.feed(stream[split:])
        assert frames == [(1, b"hello"), (2, b""), (3, b'{"exit_code": 3}')]
        assert not reader.buf


@pytest.mark.parametrize("chunks,forwarded,detached", [
    ([b"ls\r"], b"ls\r", False),
    ([b"a\x10\x11b"], b"a", True),
    ([b"a\x10", b"\x11"], b"a", True),
    ([b"\x10x"], b"\x10x", False),
    ([b"\x10\x10\x11"], b"\x10", True),
    ([b"\x10", b"z"], b"\x10z", False),
    ([b"\x11\x10"], b"\x11", False),
])
def test_detach_scanner(chunks, forwarded, detached):
    scanner = ac.DetachScanner()
    out, seen = b"", False
    for chunk in chunks:
        data, seen = scanner.feed(chunk)
        out += data
        if seen:
            break
    assert (out, seen) == (forwarded, detached)


def test_parse_exit():
    assert ac.parse_exit(b'{"exit_code": 137}') == 137
    with pytest.raises(ClientError):
        ac.parse_exit(b'{"code": 1}')


def test_error_from_body_keeps_the_exit_code_and_one_line():
    err = error_from_body(400, b'{"error": "exec: not found\\nmore", "exit_code": 127}', "x")
    assert (err.message, err.status, err.exit_code) == ("exec: not found", 400, 127)
    err = error_from_body(500, b"<html>oops</html>", "GET /v1/x")
    assert err.message == "GET /v1/x: HTTP 500 <html>oops</html>" and err.exit_code is None
