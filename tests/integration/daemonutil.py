"""Start a real manager process on a test root, and talk HTTP (and attach frames) to it."""

import json
import signal
import socket

from shim.contract import frames

import managerfixture
# The names the HTTP tests import from here (the manager fixture is managerfixture's).
from managerfixture import PYTHON, REPO, UnixConnection  # noqa: F401


class Daemon(managerfixture.ManagerProcess):
    """A manager on ROOT (OPTIONS: run()'s keywords, as daemon flags); restartable, killable."""

    def state(self, cid):
        """Return the state object of CID."""
        return self.ok("GET", f"/v1/containers/{cid}")


def read_ndjson(resp, count):
    """Read COUNT NDJSON objects from a streaming response."""
    out = []
    while len(out) < count:
        line = resp.readline()
        if not line:
            break
        out.append(json.loads(line))
    return out


def raw_request(socket_path, data, timeout=10):
    """Send raw bytes on a new connection; return everything the server answers."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    return b"".join(chunks)


def send_upgrade(socket_path, request_line, body=b"", timeout=30):
    """Send an attach-upgrade request; return (socket, the answer's head)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(socket_path)
    length = b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body) \
        if body else b""
    sock.sendall(request_line.encode() + b" HTTP/1.1\r\nHost: tether\r\nConnection: Upgrade"
                 b"\r\nUpgrade: tether-attach\r\n" + length + b"\r\n" + body)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return sock, head


def open_attach(socket_path, cid, query="logs=1", timeout=30):
    """Open an attach stream; return the socket after the 101 answer."""
    sock, head = send_upgrade(socket_path, f"GET /v1/containers/{cid}/attach?{query}",
                              timeout=timeout)
    if not head.startswith(b"HTTP/1.1 101 "):
        sock.close()
        raise AssertionError(f"attach {cid}: {head!r}")
    return sock


def recv_exact(sock, n):
    """Receive exactly N bytes (fewer only at EOF)."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def recv_frame(sock):
    """Return the next (type, payload) from an attach stream, or None at EOF."""
    header = recv_exact(sock, frames.HEADER.size)
    if len(header) < frames.HEADER.size:
        return None
    kind, length = frames.decode_header(header)
    return kind, recv_exact(sock, length)


def send_frame(sock, kind, payload=b""):
    """Send one attach frame (KIND: a frames type, e.g. frames.STDIN)."""
    sock.sendall(frames.encode_frame(kind, payload))


def attach_and_send(socket_path, cid, data, query=""):
    """Attach to CID, send DATA as one stdin frame, collect until the stream ends."""
    sock = open_attach(socket_path, cid, query=query)
    try:
        send_frame(sock, frames.STDIN, data)
        return collect_frames(sock)
    finally:
        sock.close()


def collect_frames(sock):
    """Read frames until the stream ends; return (stdout, stderr, exit obj, errors)."""
    out, err, exit_obj, errors = b"", b"", None, []
    while True:
        frame = recv_frame(sock)
        if frame is None:
            return out, err, exit_obj, errors
        kind, payload = frame
        if kind == frames.STDOUT:
            out += payload
        elif kind == frames.STDERR:
            err += payload
        elif kind == frames.EXIT:
            exit_obj = json.loads(payload)
        elif kind == frames.ERROR:
            errors.append(payload.decode())


def daemon_fixture(root, env=None):
    """Yield a started manager on ROOT (ENV: more environment); afterwards delete every
    container and stop it."""
    yield from managerfixture.run_manager(Daemon(root, env=env), signal.SIGTERM)


# The manager as it was before re-adoption (docs/durability.md): a shim's death
# leaves its process `unknown`; the shim-lost path stays tested this way.
WITHOUT_READOPTION = {"TETHER_READOPT": "0"}
