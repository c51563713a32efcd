"""A synchronous client of the manager's API (HTTP/1.1 + JSON over a unix socket).

No asyncio, http.client, json or socket, so that the CLI starts fast:
manager.unixhttp speaks the HTTP and shim.cjson the JSON (CPython's C scanner
and encoder, already loaded with shim.state; orjson would import dataclasses,
inspect, uuid and json: ~22 ms). See docs/api.md.
"""

from manager.client.results import (ContainerState, Event, ExitResult, LogRecord, ProcessState,
                                    Stats, Top, Version)
from manager.client.transport import (ClientError, Reader, UnreachableError, connect_unix, encode_query,
                              encode_request, iter_body, iter_lines, quote, read_answer_head,
                              read_body)
from shim.contract import cjson

__all__ = ["API", "ApiError", "Client", "ClientError", "UnreachableError", "build_path",
           "connect_unix", "error_from_body", "quote_id"]

API = "/v1"
# Bodies of ordinary answers are small; refuse to buffer a runaway one.
MAX_BODY = 16 << 20
MAX_ERROR_BODY = 64 << 10


class ApiError(ClientError):
    """The manager answered with an error status and message."""


def decode_json(data, what, part="answer"):
    """Return the JSON value of DATA; ClientError naming WHAT if malformed."""
    try:
        return cjson.loads(data)
    except (ValueError, RecursionError) as err:
        raise ClientError(f"{what}: malformed JSON {part} from the manager") from err


def error_from_body(status, body, what):
    """Build an ApiError from an error answer's body ({"error": ..., "exit_code": N})."""
    try:
        obj = cjson.loads(body)
    except (ValueError, RecursionError):
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("error"), str):
        message = obj["error"].strip().splitlines()[0] if obj["error"].strip() else what
        exit_code = obj.get("exit_code") if isinstance(obj.get("exit_code"), int) else None
        return ApiError(message, status, exit_code)
    text = body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
    return ApiError(f"{what}: HTTP {status} {text}".rstrip(), status)


def quote_id(value):
    """Quote an id for a URL path (ids are validated before, this is defence in depth)."""
    return quote(value)


def build_path(path, query=None):
    """Return API + PATH with the non-None QUERY items encoded."""
    return API + path + encode_query(query)


class Answer:
    """An answer whose head is read: status, headers, and the reader at its body."""

    def __init__(self, reader, status, headers):
        self.reader = reader
        self.status = status
        self.headers = headers

    def body(self, limit=MAX_BODY):
        """Return the whole body."""
        return read_body(self.reader, self.status, self.headers, limit)

    def pieces(self):
        """Yield the body's bytes as they arrive."""
        return iter_body(self.reader, self.status, self.headers)

    def close(self):
        """Close the connection."""
        self.reader.sock.close()


def exchange(sock, what, request):
    """Send REQUEST on SOCK and read the answer's head; return the Answer."""
    reader = Reader(sock, what)
    try:
        sock.sendall(request)
    except OSError as err:
        # The manager may have answered before it closed (413 for a body over its
        # limit, then it stops reading): that answer says more than EPIPE.
        try:
            return Answer(reader, *read_answer_head(reader))
        except ClientError:
            raise ClientError(f"{what}: send request: {err.strerror or err}: the manager "
                              "closed the connection") from err
    return Answer(reader, *read_answer_head(reader))


def read_error(answer, what):
    """Return the ApiError of an error answer (its body cut short is still an error)."""
    try:
        body = answer.body(MAX_ERROR_BODY)
    except ClientError:
        body = b""
    return error_from_body(answer.status, body, what)


def stream_object(line, what):
    """Decode one NDJSON line; an {"error": ...} line is the manager's error."""
    obj = decode_json(line, what, "line in the stream")
    if isinstance(obj, dict) and obj.keys() == {"error"} and isinstance(obj["error"], str):
        raise ApiError(obj["error"].strip().splitlines()[0] if obj["error"].strip() else what)
    return obj


def typed(kind, obj, what):
    """Return KIND(OBJ), a manager.results record; ClientError if OBJ is not its JSON shape."""
    if not isinstance(obj, dict):
        raise ClientError(f"{what}: malformed answer from the manager: expected a JSON object")
    try:
        return kind(obj)
    except (TypeError, ValueError) as err:
        raise ClientError(f"{what}: malformed answer from the manager: {err}") from err


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
        """Send a request; return its Answer with the status checked."""
        what = f"{method} {API}{path}"
        data = None if body is None else cjson.dumps(body).encode("ascii")
        request = encode_request(method, build_path(path, query), data, ("Connection: close",))
        sock = connect_unix(self.socket_path, self.timeout)
        try:
            answer = exchange(sock, what, request)
            if answer.status >= 400:
                raise read_error(answer, what)
        except BaseException:
            sock.close()
            raise
        return answer

    def call(self, method, path, body=None, query=None):
        """Send a request and return the decoded JSON answer (None for no content)."""
        answer = self.open(method, path, body, query)
        try:
            data = answer.body()
        finally:
            answer.close()
        if not data.strip():
            return None
        return decode_json(data, f"{method} {API}{path}")

    def stream(self, path, query=None):
        """Yield one decoded JSON object per NDJSON line of a streaming answer."""
        what = f"GET {API}{path}"
        answer = self.open("GET", path, query=query)
        try:
            for line in iter_lines(answer.pieces(), MAX_BODY, what):
                if line.strip():
                    yield stream_object(line, what)
        finally:
            answer.close()

    def record(self, kind, method, path, body=None, query=None):
        """Send a request; return its JSON object answer as a KIND record."""
        return typed(kind, self.call(method, path, body, query), f"{method} {API}{path}")

    # -- operations --------------------------------------------------------

    def version(self):
        """Return the manager's Version."""
        return self.record(Version, "GET", "/version")

    def health(self):
        """Return the manager's health object."""
        return self.call("GET", "/health")

    def openapi(self):
        """Return the OpenAPI document of the API."""
        return self.call("GET", "/openapi.json")

    def metrics(self):
        """Return the metrics text (Prometheus format)."""
        answer = self.open("GET", "/metrics")
        try:
            return answer.body().decode("utf-8", "replace")
        finally:
            answer.close()

    def list(self):
        """Return the ContainerState of every container, sorted by id."""
        what = f"GET {API}/containers"
        states = self.call("GET", "/containers")
        if not isinstance(states, list):
            raise ClientError(f"{what}: malformed answer from the manager: expected a JSON array")
        return [typed(ContainerState, s, what) for s in states]

    def create(self, body):
        """Create a container from a create body (docs/api.md); return its ContainerState."""
        return self.record(ContainerState, "POST", "/containers", body)

    def state(self, cid):
        """Return the ContainerState of CID."""
        return self.record(ContainerState, "GET", f"/containers/{quote_id(cid)}")

    def start(self, cid):
        """Start the init process of CID; return its ContainerState."""
        return self.record(ContainerState, "POST", f"/containers/{quote_id(cid)}/start")

    def kill(self, cid, signal, all_processes=False, exec_id=None):
        """Send SIGNAL to CID's init process (or to an exec)."""
        body = {"signal": signal, "all": all_processes, "exec_id": exec_id}
        self.call("POST", f"/containers/{quote_id(cid)}/kill", body)

    def pause(self, cid):
        """Freeze CID; return its ContainerState."""
        return self.record(ContainerState, "POST", f"/containers/{quote_id(cid)}/pause")

    def resume(self, cid):
        """Thaw CID; return its ContainerState."""
        return self.record(ContainerState, "POST", f"/containers/{quote_id(cid)}/resume")

    def delete(self, cid, force=False):
        """Delete CID and its state (kill it first with FORCE)."""
        self.call("DELETE", f"/containers/{quote_id(cid)}", query={"force": force})

    def exec(self, cid, body):
        """Start an exec process from an exec body; return its ProcessState."""
        return self.record(ProcessState, "POST", f"/containers/{quote_id(cid)}/exec", body)

    def wait(self, cid, exec_id=None):
        """Block until the process exits; return its ExitResult."""
        return self.record(ExitResult, "GET", f"/containers/{quote_id(cid)}/wait",
                           query={"exec_id": exec_id})

    def resize(self, cid, cols, rows, exec_id=None):
        """Set the terminal size of CID's init process (or of an exec)."""
        body = {"cols": cols, "rows": rows, "exec_id": exec_id}
        self.call("POST", f"/containers/{quote_id(cid)}/resize", body)

    def logs(self, cid, exec_id=None, follow=False, since=None, tail=None):
        """Yield LogRecords; following ends with one whose exit_code is set (stream None)."""
        path = f"/containers/{quote_id(cid)}/logs"
        query = {"exec_id": exec_id, "follow": follow, "since": since, "tail": tail}
        return (typed(LogRecord, r, f"GET {API}{path}") for r in self.stream(path, query))

    def stats(self, cid):
        """Return one Stats sample of CID's cgroup."""
        return self.record(Stats, "GET", f"/containers/{quote_id(cid)}/stats")

    def stats_stream(self, cid):
        """Yield a Stats sample of CID every second until it stops."""
        path = f"/containers/{quote_id(cid)}/stats"
        return (typed(Stats, s, f"GET {API}{path}") for s in self.stream(path, {"stream": True}))

    def top(self, cid):
        """Return the processes of CID (Top)."""
        return self.record(Top, "GET", f"/containers/{quote_id(cid)}/top")

    def update(self, cid, memory=None, cpus=None, pids_limit=None):
        """Change CID's limits (bytes, cores, count; None: unchanged); return its ContainerState."""
        body = {k: v for k, v in (("memory", memory), ("cpus", cpus),
                                  ("pids_limit", pids_limit)) if v is not None}
        return self.record(ContainerState, "POST", f"/containers/{quote_id(cid)}/update", body)

    def checkpoint(self, cid, image_path, leave_running=False):
        """Dump CID with CRIU into IMAGE_PATH (absolute); return its ContainerState."""
        body = {"image_path": image_path, "leave_running": leave_running}
        return self.record(ContainerState, "POST", f"/containers/{quote_id(cid)}/checkpoint",
                           body)

    def events(self, since=None, after=None):
        """Yield lifecycle Events as they happen, after a replay since SINCE or seq AFTER."""
        events = self.stream("/events", {"since": since, "after": after})
        return (typed(Event, e, f"GET {API}/events") for e in events)
