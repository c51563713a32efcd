"""ttrpc over a unix socket, on asyncio: a server (the Task service) and a client (events).

The protocol (containerd/ttrpc's PROTOCOL.md):
1. Every message is a 10-byte big-endian header, `length u32 | stream id u32 |
   type u8 | flags u8`, then `length` bytes (at most 4 MiB).
2. A client sends a Request (type 1) on a new odd stream id: a protobuf
   `Request{service, method, payload, timeout_nano, metadata}`.
3. The server answers on the same stream id with a Response (type 2):
   `Response{status (google.rpc.Status), payload}`; a non-zero status code is
   a gRPC code (NotFound 5, ...), and then the payload is empty.
Requests on one connection are served concurrently (Wait blocks for as long as
the process runs); each answer is written whole, so answers never interleave.
Data messages (type 3, ttrpc >= 1.2 streaming) are not used by containerd's
shim API 1.6/1.7, and are ignored.
"""

import asyncio
import logging
import os
import struct
import time

from . import messages
from .wire import WireError

log = logging.getLogger("tether.containerd.ttrpc")

HEADER = struct.Struct(">IIBB")
MAX_LENGTH = 4 << 20
TYPE_REQUEST, TYPE_RESPONSE = 1, 2

# gRPC codes (google.golang.org/grpc/codes)
OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS = range(7)
PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED = 7, 8, 9, 10
UNIMPLEMENTED, INTERNAL, UNAVAILABLE = 12, 13, 14


class RpcError(Exception):
    """A call that failed with a gRPC status code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self):
        return f"rpc error: code = {self.code} desc = {self.message}"


class Closed(ConnectionError):
    """The connection ended before the answer came."""


def frame(stream_id, mtype, body):
    """Return the bytes of one message: header, then BODY."""
    return HEADER.pack(len(body), stream_id, mtype, 0) + body


async def read_message(reader):
    """Return (stream id, type, body) of the next message; Closed at EOF."""
    try:
        header = await reader.readexactly(HEADER.size)
        length, stream_id, mtype, _flags = HEADER.unpack(header)
        if length > MAX_LENGTH:
            raise Closed(f"message length {length} exceeds the maximum of {MAX_LENGTH}")
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError as err:
        raise Closed("connection closed") from err
    return stream_id, mtype, body


class Server:
    """Serve ttrpc methods on a unix socket.

    HANDLERS maps (service, method) to `async fn(payload bytes, conn) -> bytes`;
    a handler raises RpcError for a gRPC status. ON_DISCONNECT(conn) is called
    when a client goes. A call in progress when its client goes runs to its
    end (its answer is dropped): a Create or Start cut at an await would leave
    half a change that nobody knows of (containerd SIGKILLed during `ctr run`
    left a task created, its Start cancelled after the exits were held back,
    that no kill could stop). Only the calls of WAITS, which change nothing,
    are cancelled.
    """

    def __init__(self, handlers, on_disconnect=None, waits=()):
        self.handlers = handlers
        self.on_disconnect = on_disconnect
        self.waits = frozenset(waits)
        self.calls = set()  # the calls in progress, of every connection
        self.server = None
        self.connections = set()

    async def listen(self, path, mode=0o600):
        """Listen on PATH (removing a stale socket first)."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        old = os.umask(0o177)
        try:
            self.server = await asyncio.start_unix_server(self._serve, path)
        finally:
            os.umask(old)
        os.chmod(path, mode)

    async def listen_fd(self, sock):
        """Serve on the listening socket SOCK (already bound)."""
        self.server = await asyncio.start_unix_server(self._serve, sock=sock)

    async def close(self):
        """Stop listening and drop every connection."""
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.writer.close()

    async def _serve(self, reader, writer):
        conn = Connection(reader, writer)
        self.connections.add(conn)
        try:
            while True:
                stream_id, mtype, body = await read_message(reader)
                if mtype != TYPE_REQUEST:
                    continue
                task = asyncio.ensure_future(self._answer(conn, stream_id, body))
                self.calls.add(task)  # held here: it may outlive its connection
                task.add_done_callback(self.calls.discard)
        except (Closed, ConnectionError) as err:
            log.debug("connection ended: %s", err)
        finally:
            self.connections.discard(conn)
            for task in list(conn.waiting):
                task.cancel()
            writer.close()
            if self.on_disconnect is not None:
                self.on_disconnect(conn)

    async def _answer(self, conn, stream_id, body):
        started = time.monotonic()
        request = {"method": "?"}
        try:
            request = messages.REQUEST.decode(body)
            key = (request["service"], request["method"])
            handler = self.handlers.get(key)
            if key in self.waits:
                waiter = asyncio.current_task()
                conn.waiting.add(waiter)
                waiter.add_done_callback(conn.waiting.discard)
            if handler is None:
                raise RpcError(UNIMPLEMENTED, f"{request['service']}/{request['method']}"
                               " is not implemented")
            payload = await handler(request["payload"], conn)
            response = {"payload": payload}
        except RpcError as err:
            response = {"status": {"code": err.code, "message": err.message}}
        except WireError as err:
            response = {"status": {"code": INVALID_ARGUMENT, "message": f"decode: {err}"}}
        except asyncio.CancelledError:
            raise
        except Exception as err:  # one failed call must not end the connection
            log.exception("ttrpc handler failed")
            response = {"status": {"code": UNKNOWN, "message": str(err)}}
        try:
            conn.writer.write(frame(stream_id, TYPE_RESPONSE, messages.RESPONSE.encode(response)))
            await conn.writer.drain()
        except ConnectionError:
            pass
        log.debug("%s: %.1f ms", request["method"], (time.monotonic() - started) * 1e3)


class Connection:
    """One client connection of the server."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.waiting = set()  # those of them cancelled if the client goes (Server.waits)


class Client:
    """A ttrpc client on one unix socket connection."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.next_id = 1
        self.pending = {}
        self.reading = asyncio.ensure_future(self._read_answers())

    @classmethod
    async def connect(cls, path):
        """Return a Client connected to the unix socket PATH."""
        reader, writer = await asyncio.open_unix_connection(path)
        return cls(reader, writer)

    async def call(self, service, method, payload, timeout=None):
        """Return the answer's payload to SERVICE/METHOD(PAYLOAD); RpcError, Closed."""
        if self.reading.done():
            raise Closed("connection closed")
        stream_id = self.next_id
        self.next_id += 2
        future = asyncio.get_running_loop().create_future()
        self.pending[stream_id] = future
        request = {"service": service, "method": method, "payload": payload}
        if timeout:
            request["timeout_nano"] = int(timeout * 1e9)
        try:
            self.writer.write(frame(stream_id, TYPE_REQUEST, messages.REQUEST.encode(request)))
            await self.writer.drain()
            response = await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(stream_id, None)
        status = response["status"]
        if status is not None and status["code"] != OK:
            raise RpcError(status["code"], status["message"])
        return response["payload"]

    async def _read_answers(self):
        error = Closed("connection closed")
        try:
            while True:
                stream_id, mtype, body = await read_message(self.reader)
                future = self.pending.get(stream_id)
                if mtype == TYPE_RESPONSE and future is not None and not future.done():
                    future.set_result(messages.RESPONSE.decode(body))
        except (Closed, ConnectionError, WireError) as err:
            error = Closed(str(err))
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(error)

    def close(self):
        """Close the connection."""
        self.reading.cancel()
        self.writer.close()
