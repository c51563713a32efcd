"""Start a real manager process on a test root, and talk HTTP to it over its socket."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys

import helpers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The interpreter running the tests: contrib/check-pythons runs the suite
# under other Python versions, and the manager must run under the same one.
PYTHON = sys.executable


class UnixConnection(http.client.HTTPConnection):
    """http.client over a unix socket."""

    def __init__(self, path, timeout=30):
        super().__init__("tether", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class Daemon:
    """A manager process started with `run(root)`; restartable and killable."""

    def __init__(self, root, **options):
        self.root = root
        self.options = options
        self.socket = os.path.join(root, "tether.sock")
        self.proc = None
        self.log_path = os.path.join(os.path.dirname(root), "manager.log")

    def start(self, wait=True):
        """Start the manager and wait until its socket answers."""
        code = "import sys; from manager.server.daemon import run; " \
               f"sys.exit(run({self.root!r}, **{self.options!r}))"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([PYTHON, "-c", code], cwd=REPO, stdout=log,
                                         stderr=log, stdin=subprocess.DEVNULL)
        if wait:
            helpers.wait_until(self.answers, 20, what="manager socket answers")
        return self

    def answers(self):
        """Return True if the manager answers /v1/health."""
        if self.proc.poll() is not None:
            raise AssertionError(f"manager exited with {self.proc.returncode}: {self.log()}")
        try:
            return self.request("GET", "/v1/health")[0] == 200
        except OSError:
            return False

    def log(self):
        """Return the manager's log so far."""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def kill(self, sig=signal.SIGKILL):
        """Kill the manager and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        if self.proc is not None:
            self.proc.wait(10)

    def restart(self):
        """SIGKILL the manager and start it again."""
        self.kill()
        return self.start()

    def connection(self, timeout=30):
        """Return a new HTTP connection to the manager."""
        return UnixConnection(self.socket, timeout)

    def request(self, method, path, body=None, timeout=30, headers=None):
        """Send one request; return (status, decoded JSON body or raw bytes)."""
        conn = self.connection(timeout)
        try:
            data = body if isinstance(body, bytes) or body is None else json.dumps(body)
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw

    def ok(self, method, path, body=None, status=(200, 201, 204), timeout=30):
        """Send a request that must succeed; return its JSON body."""
        code, answer = self.request(method, path, body, timeout)
        assert code in status, f"{method} {path}: {code} {answer}"
        return answer

    def state(self, cid):
        """Return the state object of CID."""
        return self.ok("GET", f"/v1/containers/{cid}")

    def stream(self, path, timeout=30):
        """Open a streaming GET; return (connection, response) for reading NDJSON lines."""
        conn = self.connection(timeout)
        conn.request("GET", path)
        return conn, conn.getresponse()

    def delete_all(self):
        """Force-delete every container the manager knows."""
        for c in self.ok("GET", "/v1/containers"):
            self.request("DELETE", f"/v1/containers/{c['id']}?force=1")


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
    header = recv_exact(sock, 5)
    if len(header) < 5:
        return None
    length = int.from_bytes(header[1:], "big")
    return header[0], recv_exact(sock, length)


def send_frame(sock, kind, payload=b""):
    """Send one attach frame."""
    sock.sendall(bytes([kind]) + len(payload).to_bytes(4, "big") + payload)


def attach_and_send(socket_path, cid, data, query=""):
    """Attach to CID, send DATA as one stdin frame, collect until the stream ends."""
    sock = open_attach(socket_path, cid, query=query)
    try:
        send_frame(sock, 0, data)
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
        if kind == 1:
            out += payload
        elif kind == 2:
            err += payload
        elif kind == 3:
            exit_obj = json.loads(payload)
        elif kind == 5:
            errors.append(payload.decode())


def daemon_fixture(root):
    """Yield a started manager on ROOT; afterwards delete every container and stop it."""
    d = Daemon(root).start()
    try:
        yield d
    finally:
        try:
            if d.proc.poll() is None:
                d.delete_all()
        finally:
            d.kill(signal.SIGTERM)
