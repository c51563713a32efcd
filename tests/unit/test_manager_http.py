"""HTTP request parsing and encoding of the manager's server."""

import pytest

from manager.server import routes, http
from manager.server.http import HttpError, body_length, encode_chunk, parse_head


def test_parse_head():
    method, target, version, headers = parse_head(
        b"POST /v1/containers?x=1 HTTP/1.1\r\nHost: tether\r\nContent-Length: 12\r\n"
        b"X-A: 1\r\nx-a: 2")
    assert (method, target, version) == ("POST", "/v1/containers?x=1", "HTTP/1.1")
    assert headers == {"host": "tether", "content-length": "12", "x-a": "1, 2"}


@pytest.mark.parametrize("head, status", [
    (b"", 400),
    (b"GET /v1/version", 400),
    (b"GET  /v1/version HTTP/1.1", 400),
    (b"GET v1/version HTTP/1.1", 400),
    (b"G\x00T /v1 HTTP/1.1", 400),
    (b"GET /v1/\xff HTTP/1.1", 400),
    (b"GET /v1 HTTP/2.0", 505),
    (b"GET /v1 FOO/1.1", 400),
    (b"GET /v1 HTTP/1.1\r\nno colon here", 400),
    (b"GET /v1 HTTP/1.1\r\n folded: x", 400),
    (b"GET /v1 HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2", 400),
])
def test_parse_head_refuses(head, status):
    with pytest.raises(HttpError) as info:
        parse_head(head)
    assert info.value.status == status


@pytest.mark.parametrize("headers, expected", [
    ({}, 0),
    ({"content-length": "10"}, 10),
    ({"content-length": str(1 << 20)}, 1 << 20),
])
def test_body_length(headers, expected):
    assert body_length(headers) == expected


@pytest.mark.parametrize("headers, status", [
    ({"content-length": str((1 << 20) + 1)}, 413),
    ({"content-length": "-1"}, 400),
    ({"content-length": "1e3"}, 400),
    ({"content-length": "9" * 40}, 400),
    ({"transfer-encoding": "chunked"}, 411),
])
def test_body_length_refuses(headers, status):
    with pytest.raises(HttpError) as info:
        body_length(headers)
    assert info.value.status == status


def test_request_query_and_json():
    req = http.Request("GET", "/v1/x?follow=1&tail=&a=%2F", "HTTP/1.1", {}, b'{"k": 1}')
    assert req.path == "/v1/x"
    assert req.query == {"follow": "1", "tail": "", "a": "/"}
    assert req.json() == {"k": 1}


@pytest.mark.parametrize("body", [b"[1]", b"{", b"\xff", b'"s"'])
def test_request_json_refuses(body):
    with pytest.raises(HttpError) as info:
        http.Request("POST", "/", "HTTP/1.1", {}, body).json()
    assert info.value.status == 400


def test_wants_upgrade():
    req = http.Request("GET", "/", "HTTP/1.1",
                       {"connection": "keep-alive, Upgrade", "upgrade": "tether-attach"})
    assert req.wants_upgrade("tether-attach")
    assert not http.Request("GET", "/", "HTTP/1.1", {"upgrade": "tether-attach"}) \
        .wants_upgrade("tether-attach")


def test_encode_chunk():
    assert encode_chunk({"a": 1}) == b'8\r\n{"a":1}\n\r\n'


def test_encode_json_no_content():
    data = http.encode_json(204, None, True)
    assert data.startswith(b"HTTP/1.1 204 No Content\r\n") and data.endswith(b"\r\n\r\n")
    assert b"Content-Length: 0" in data


def test_match_route():
    compiled = routes.compile_routes(routes.ROUTES)
    assert routes.match_route(compiled, "GET", "/v1/containers/web") == ("get_container",
                                                                       {"id": "web"})
    assert routes.match_route(compiled, "POST", "/v1/containers/web/exec")[0] == "exec_container"
    with pytest.raises(HttpError) as info:
        routes.match_route(compiled, "PUT", "/v1/containers/web")
    assert info.value.status == 405
    with pytest.raises(HttpError) as info:
        routes.match_route(compiled, "GET", "/v1/containers/web/nope")
    assert info.value.status == 404
