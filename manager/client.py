"""A synchronous client of the manager's API (HTTP/1.1 + JSON over a unix socket).

Stdlib only and no asyncio, so that the CLI starts fast. See docs/api.md.
"""

import http.client
import json
import socket
import urllib.parse

from manager.results import ContainerState, Event, ExitResult, LogRecord, ProcessState, Version

API = "/v1"
# Bodies of ordinary answers are small; refuse to buffer a runaway one.
MAX_BODY = 16 << 20


class ClientError(Exception):
    """A request could not be made or answered; str() is one line for the user."""

    def __init__(self, message, status=None, exit_code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.exit_code = exit_code


class ApiError(ClientError):
    """The manager answered with an error status and message."""


class UnreachableError(ClientError):
    """The manager's socket could not be connected."""


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection whose transport is a unix stream socket."""

    def __init__(self, socket_path, timeout=None):
        super().__init__("tether", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        """Connect to the unix socket instead of a TCP host."""
        self.sock = connect_unix(self.socket_path, self.timeout)


def connect_unix(socket_path, timeout=None):
    """Return a stream socket connected to SOCKET_PATH, or raise UnreachableError."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
    except (ConnectionRefusedError, FileNotFoundError) as err:
        sock.close()
        raise UnreachableError(
            f"cannot reach the manager at {socket_path}: is 'tether daemon' running?") from err
    except OSError as err:
        sock.close()
        raise UnreachableError(f"connect to {socket_path}: {err.strerror or err}") from err
    return sock


def error_from_body(status, body, what):
    """Build an ApiError from an error answer's body ({"error": ..., "exit_code": N})."""
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("error"), str):
        message = obj["error"].strip().splitlines()[0] if obj["error"].strip() else what
        exit_code = obj.get("exit_code") if isinstance(obj.get("exit_code"), int) else None
        return ApiError(message, status, exit_code)
    text = body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
    return ApiError(f"{what}: HTTP {status} {text}".rstrip(), status)


def quote_id(value):
    """Quote an id for a URL path (ids are validated before, this is defence in depth)."""
    return urllib.parse.quote(value, safe="")


def build_path(path, query=None):
    """Return API + PATH with the non-None QUERY items encoded."""
    items = {k: v for k, v in (query or {}).items() if v is not None and v is not False}
    items = {k: (1 if v is True else v) for k, v in items.items()}
    return API + path + ("?" + urllib.parse.urlencode(items) if items else "")


class Client:
    """One method per API operation; each call uses its own connection.

    Answers are typed records (manager.results); errors raise ApiError with the
    manager's one-line message, its HTTP status and, for create/exec, the exit
    code the CLI uses (127 not found, 126 not executable).
    """

    def __init__(self, socket_path, timeout=None):
        self.socket_path = socket_path
        self.timeout = timeout

    def open(self, method, path, body=None, query=None):
        """Send a request; return (connection, response) with the status checked."""
        conn = UnixHTTPConnection(self.socket_path, self.timeout)
        headers = {"Host": "tether"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        what = f"{method} {API}{path}"
        try:
            conn.request(method, build_path(path, query), body=data, headers=headers)
            resp = conn.getresponse()
        except ClientError:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise ClientError(f"{what}: {err}: the manager closed the connection") from err
        if resp.status >= 400:
            body = resp.read(MAX_BODY)
            conn.close()
            raise error_from_body(resp.status, body, what)
        return conn, resp

    def call(self, method, path, body=None, query=None):
        """Send a request and return the decoded JSON answer (None for no content)."""
        conn, resp = self.open(method, path, body, query)
        try:
            data = resp.read(MAX_BODY)
        except (OSError, http.client.HTTPException) as err:
            raise ClientError(f"{method} {API}{path}: read answer: {err}") from err
        finally:
            conn.close()
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError as err:
            raise ClientError(f"{method} {API}{path}: malformed JSON answer") from err

    def stream(self, path, query=None):
        """Yield one decoded JSON object per NDJSON line of a streaming answer."""
        conn, resp = self.open("GET", path, query=query)
        try:
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException) as err:
                    raise ClientError(f"GET {API}{path}: stream broken: {err}") from err
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()

    # -- operations --------------------------------------------------------

    def version(self):
        """Return the manager's Version."""
        return Version(self.call("GET", "/version"))

    def health(self):
        """Return the manager's health object."""
        return self.call("GET", "/health")

    def openapi(self):
        """Return the OpenAPI document of the API."""
        return self.call("GET", "/openapi.json")

    def metrics(self):
        """Return the metrics text (Prometheus format)."""
        conn, resp = self.open("GET", "/metrics")
        try:
            return resp.read(MAX_BODY).decode()
        except (OSError, http.client.HTTPException) as err:
            raise ClientError(f"GET {API}/metrics: read answer: {err}") from err
        finally:
            conn.close()

    def list(self):
        """Return the ContainerState of every container, sorted by id."""
        return [ContainerState(s) for s in self.call("GET", "/containers")]

    def create(self, body):
        """Create a container from a create body (docs/api.md); return its ContainerState."""
        return ContainerState(self.call("POST", "/containers", body))

    def state(self, cid):
        """Return the ContainerState of CID."""
        return ContainerState(self.call("GET", f"/containers/{quote_id(cid)}"))

    def start(self, cid):
        """Start the init process of CID; return its ContainerState."""
        return ContainerState(self.call("POST", f"/containers/{quote_id(cid)}/start"))

    def kill(self, cid, signal, all_processes=False, exec_id=None):
        """Send SIGNAL to CID's init process (or to an exec)."""
        body = {"signal": signal, "all": all_processes, "exec_id": exec_id}
        self.call("POST", f"/containers/{quote_id(cid)}/kill", body)

    def pause(self, cid):
        """Freeze CID; return its ContainerState."""
        return ContainerState(self.call("POST", f"/containers/{quote_id(cid)}/pause"))

    def resume(self, cid):
        """Thaw CID; return its ContainerState."""
        return ContainerState(self.call("POST", f"/containers/{quote_id(cid)}/resume"))

    def delete(self, cid, force=False):
        """Delete CID and its state (kill it first with FORCE)."""
        self.call("DELETE", f"/containers/{quote_id(cid)}", query={"force": force})

    def exec(self, cid, body):
        """Start an exec process from an exec body; return its ProcessState."""
        return ProcessState(self.call("POST", f"/containers/{quote_id(cid)}/exec", body))

    def wait(self, cid, exec_id=None):
        """Block until the process exits; return its ExitResult."""
        return ExitResult(self.call("GET", f"/containers/{quote_id(cid)}/wait",
                                    query={"exec_id": exec_id}))

    def resize(self, cid, cols, rows, exec_id=None):
        """Set the terminal size of CID's init process (or of an exec)."""
        body = {"cols": cols, "rows": rows, "exec_id": exec_id}
        self.call("POST", f"/containers/{quote_id(cid)}/resize", body)

    def logs(self, cid, exec_id=None, follow=False, since=None, tail=None):
        """Yield LogRecords; following ends with one whose exit_code is set (stream None)."""
        query = {"exec_id": exec_id, "follow": follow, "since": since, "tail": tail}
        return (LogRecord(r) for r in self.stream(f"/containers/{quote_id(cid)}/logs", query))

    def events(self, since=None):
        """Yield lifecycle Events as they happen (SINCE: replay recent ones first)."""
        return (Event(e) for e in self.stream("/events", {"since": since}))
