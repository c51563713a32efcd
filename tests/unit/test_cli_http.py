"""The client's HTTP/1.1 over a unix socket: answers read right however they are split,
and a malformed or truncated answer is one ClientError line, never a traceback."""

import os
import socket
import subprocess
import sys
import threading
import urllib.parse

import pytest

from manager.client import transport
from manager.client.methods import ApiError, Client, ClientError

OK_JSON = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"
CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           b"1\r\n[\r\n3;ext=1\r\n{}]\r\n0\r\n\r\n")
TO_CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[{}]"
WITH_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n" + OK_JSON


class CannedManager:
    """A unix socket that answers every request with ANSWER, then closes the connection."""

    def __init__(self, path, answer):
        self.path, self.answer, self.requests = path, answer, []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        """Answer connections until the listening socket is shut down."""
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.requests.append(read_request(conn))
                conn.sendall(self.answer)

    def client(self):
        """Return a Client of this manager."""
        return Client(self.path, timeout=10)

    def close(self):
        """Stop serving (shutdown wakes the blocked accept on Linux)."""
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)


def read_request(conn):
    """Read one request, body included (closing on unread bytes would reset the client)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture
def canned(tmp):
    """Return a factory: canned(answer) -> a CannedManager that always answers ANSWER."""
    servers = []

    def start(answer):
        servers.append(CannedManager(os.path.join(tmp, f"m{len(servers)}.sock"), answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def read_from(data, read_size):
    """Return (status, headers, body) of DATA read READ_SIZE bytes at a time."""
    left, right = socket.socketpair()
    with left, right:
        left.sendall(data)
        left.shutdown(socket.SHUT_WR)
        reader = transport.Reader(right, "GET /v1/x", read_size)
        status, headers = transport.read_answer_head(reader)
        return status, headers, transport.read_body(reader, status, headers, 1 << 20)


@pytest.mark.parametrize("read_size", [1, 2, 3, 7, 65536])
@pytest.mark.parametrize("data,body", [
    (OK_JSON, b"[]"), (CHUNKED, b"[{}]"), (TO_CLOSE, b"[{}]"), (WITH_CONTINUE, b"[]"),
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", b""),
])
def test_bodies_are_read_however_the_answer_is_split(data, body, read_size):
    status, headers, got = read_from(data, read_size)
    assert (status, got) == (204 if b" 204 " in data else 200, body)
    assert headers.get("transfer-encoding", "chunked") == "chunked"


def test_parse_head():
    status, headers = transport.parse_head(b"HTTP/1.1 101 Switching Protocols\r\n"
                                          b"Upgrade: tether-attach\r\nConnection: Upgrade")
    assert status == 101 and headers["upgrade"] == "tether-attach"
    for head in (b"garbage", b"HTTP/1.1 2000 OK", b"HTTP/1.1 200 OK\r\nno colon"):
        with pytest.raises(ClientError, match="malformed"):
            transport.parse_head(head)


@pytest.mark.parametrize("pieces", [[b'{"a":1}\n{"b":2}\n'], [b'{"a"', b":1}\n{", b'"b":2}'],
                                    [b'{"a":1}\n', b"", b'{"b":2}\n']])
def test_lines_across_pieces(pieces):
    assert list(transport.iter_lines(pieces, 100, "x")) == [b'{"a":1}', b'{"b":2}']


@pytest.mark.parametrize("value", ["c1", "a b/c?d&e=f", "2026-11-23T00:33:29+01:00", "é", 7])
def test_quoting_matches_urllib(value):
    assert transport.quote(value) == urllib.parse.quote(str(value), safe="")
    query = transport.encode_query({"since": value, "follow": True, "tail": None, "all": False})
    assert urllib.parse.parse_qsl(query[1:]) == [("since", str(value)), ("follow", "1")]


def test_requests_are_http_1_1_with_a_json_body(canned):
    server = canned(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    server.client().kill("c1", 9, exec_id="e1")
    head, _, body = server.requests[-1].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/containers/c1/kill HTTP/1.1"
    assert b"Content-Type: application/json" in lines
    assert b"Content-Length: %d" % len(body) in lines
    assert body == b'{"signal":9,"all":false,"exec_id":"e1"}'


@pytest.mark.parametrize("answer,match", [
    (b"", "closed the connection before answering"),
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "malformed answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[1,", r"in the middle of the answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Len", "closed the connection in the middle of the answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "malformed Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1", "middle of the answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n[1,", "malformed JSON answer"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"x" * (70 << 10), "over 65536 bytes"),
])
def test_a_bad_answer_is_one_client_error_line(canned, answer, match):
    with pytest.raises(ClientError, match=match) as info:
        canned(answer).client().list()
    assert not isinstance(info.value, ApiError)
    assert info.value.message.startswith("GET /v1/containers: ")
    assert "\n" not in info.value.message


@pytest.mark.parametrize("answer,status,message", [
    (b'HTTP/1.1 404 Not Found\r\nContent-Length: 27\r\n\r\n{"error": "no container x"}',
     404, "no container x"),
    (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 99\r\n\r\n<ht",
     500, "GET /v1/containers: HTTP 500"),
])
def test_error_answers_are_api_errors(canned, answer, status, message):
    with pytest.raises(ApiError) as info:
        canned(answer).client().list()
    assert (info.value.status, info.value.message) == (status, message)


def test_streams_yield_records_and_raise_the_managers_error(canned):
    lines = [b'{"stream":"stdout","data":"aGkK"}\n', b'{"error": "read log: gone"}\n']
    body = b"".join(b"%x\r\n%s\r\n" % (len(line), line) for line in lines) + b"0\r\n\r\n"
    server = canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    records = server.client().logs("c1")
    assert next(records).data == b"hi\n"
    with pytest.raises(ApiError, match="^read log: gone$"):
        next(records)


def test_cli_reports_a_bad_answer_in_one_line(canned, tmp):
    server = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[")
    probe = "import sys; from manager.cli import main as cli; sys.exit(cli.main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", probe, "--socket", server.path, "list"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 125
    assert proc.stderr.startswith("tether: GET /v1/containers: the manager closed the connection")
    assert proc.stderr.count("\n") == 1 and not proc.stdout


@pytest.mark.parametrize("body", [b"{}", b"[1]", b'[{"processes": [7]}]', b'[{"labels": 3}]'])
def test_an_answer_of_the_wrong_shape_is_a_client_error(canned, body):
    server = canned(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    with pytest.raises(ClientError, match="^GET /v1/containers: malformed answer"):
        server.client().list()


def test_a_log_record_of_the_wrong_shape_is_a_client_error(canned):
    line = b'{"stream":"stdout","data":"not base64!"}\n'
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(line), line)
    server = canned(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    with pytest.raises(ClientError, match="^GET /v1/containers/c1/logs: malformed answer"):
        list(server.client().logs("c1"))
