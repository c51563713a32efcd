"""A small asyncio HTTP/1.1 server for the API socket.

Request line, headers and a Content-Length body; JSON answers, chunked NDJSON
streams, and `Connection: Upgrade` handing the raw stream to a handler (attach).
Anything malformed gets 400 and the connection is closed; the server survives.
"""

import asyncio
import logging
import re
import urllib.parse

import orjson

log = logging.getLogger("tether.http")

MAX_BODY = 1 << 20
MAX_HEAD = 64 * 1024
REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created",
    204: "No Content", 400: "Bad Request", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 411: "Length Required",
    413: "Content Too Large", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 502: "Bad Gateway", 505: "HTTP Version Not Supported",
}
_TOKEN_RE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TARGET_RE = re.compile(rb"/[\x21-\x7e]*")


class HttpError(Exception):
    """An error answered with STATUS and {"error": message}."""

    def __init__(self, status, message, **extra):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


class Request:
    """A parsed request: method, path, query, headers and body."""

    def __init__(self, method, target, version, headers, body=b""):
        self.method = method
        self.version = version
        self.headers = headers
        self.body = body
        path, _, query = target.partition("?")
        self.path = path
        self.query = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))

    def json(self):
        """Return the body as a JSON object ({} when empty); 400 if it is not one."""
        if not self.body.strip():
            return {}
        try:
            obj = orjson.loads(self.body)
        except ValueError as err:  # orjson.JSONDecodeError; also its depth limit
            raise HttpError(400, f"parse request body: malformed JSON ({err})") from err
        if not isinstance(obj, dict):
            raise HttpError(400, "parse request body: expected a JSON object")
        return obj

    def wants_upgrade(self, protocol):
        """Return True if the request asks to switch to PROTOCOL."""
        tokens = [t.strip().lower() for t in self.headers.get("connection", "").split(",")]
        return "upgrade" in tokens and self.headers.get("upgrade", "").lower() == protocol


class Response:
    """A JSON answer (or an empty one for 204)."""

    def __init__(self, status=200, body=None):
        self.status = status
        self.body = body


class TextResponse(Response):
    """A plain-text answer (the Prometheus metrics)."""

    def __init__(self, text, content_type="text/plain; charset=utf-8", status=200):
        super().__init__(status, text)
        self.content_type = content_type


class StreamResponse:
    """An NDJSON answer sent chunked: one line per object from an async iterator."""

    def __init__(self, objects):
        self.objects = objects


class UpgradeResponse:
    """A 101 answer, then HANDLER(reader, writer) owns the connection.

    ABANDON() is called instead of HANDLER when the 101 could not be sent.
    """

    def __init__(self, protocol, handler, abandon=None):
        self.protocol = protocol
        self.handler = handler
        self.abandon = abandon


def parse_head(head):
    """Parse a request head (bytes up to the blank line) into (method, target, version, headers)."""
    lines = head.split(b"\r\n")
    while lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise HttpError(400, "parse request: empty request line")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise HttpError(400, "parse request: malformed request line")
    method, target, version = parts
    if not _TOKEN_RE.fullmatch(method) or not _TARGET_RE.fullmatch(target):
        raise HttpError(400, "parse request: malformed method or target")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise HttpError(505 if version.startswith(b"HTTP/") else 400,
                        "parse request: unsupported HTTP version")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN_RE.fullmatch(name):
            raise HttpError(400, "parse request: malformed header line")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key in headers and key == "content-length" and headers[key] != text:
            raise HttpError(400, "parse request: conflicting Content-Length headers")
        headers[key] = f"{headers[key]}, {text}" if key in headers and key != "content-length" \
            else text
    return method.decode("ascii"), target.decode("ascii"), version.decode("ascii"), headers


def body_length(headers):
    """Return the Content-Length of a request; 411 for chunked bodies, 413 over 1 MiB."""
    if "transfer-encoding" in headers:
        raise HttpError(411, "read request body: chunked bodies are not supported; "
                             "send Content-Length")
    text = headers.get("content-length", "0")
    # isascii: "\xb2" (superscript two) is a digit to str.isdigit, not to int().
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise HttpError(400, "read request body: malformed Content-Length")
    length = int(text)
    if length > MAX_BODY:
        raise HttpError(413, f"read request body: {length} bytes is over the limit of {MAX_BODY}")
    return length


def encode_head(status, headers):
    """Return the bytes of a response's status line and headers."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def dump_json(obj):
    """Serialize OBJ as one line of JSON (orjson: the manager's hot path for list and streams)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)


def encode_json(status, body, keep_alive):
    """Return a complete JSON response."""
    data = b"" if body is None else dump_json(body)
    headers = [("Content-Length", str(len(data))),
               ("Connection", "keep-alive" if keep_alive else "close")]
    if body is not None:
        headers.insert(0, ("Content-Type", "application/json"))
    return encode_head(status, headers) + data


def encode_text(answer, keep_alive):
    """Return a complete response of a TextResponse."""
    data = answer.body.encode()
    return encode_head(answer.status, [
        ("Content-Type", answer.content_type), ("Content-Length", str(len(data))),
        ("Connection", "keep-alive" if keep_alive else "close")]) + data


def encode_chunk(obj):
    """Return one NDJSON line as an HTTP chunk."""
    line = dump_json(obj)
    return b"%x\r\n%s\r\n" % (len(line), line)


class Server:
    """Serve HANDLER(request) -> Response | StreamResponse | UpgradeResponse on a unix socket."""

    def __init__(self, handler):
        self.handler = handler
        self.server = None
        self.tasks = set()

    async def listen(self, path):
        """Start listening on the unix socket PATH."""
        self.server = await asyncio.start_unix_server(self._serve_connection, path,
                                                      limit=MAX_HEAD)

    async def close(self):
        """Stop listening and end open connections."""
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve_connection(self, reader, writer):
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            while await self._serve_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:  # the server must survive any one connection
            log.exception("serve connection")
        finally:
            self.tasks.discard(task)
            writer.close()

    async def _read_request(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as err:
            raise HttpError(431, "parse request: head over 64 KiB") from err
        except asyncio.IncompleteReadError as err:
            if err.partial.strip():
                raise HttpError(400, "parse request: truncated request head") from err
            return None
        method, target, version, headers = parse_head(head[:-4])
        length = body_length(headers)
        if length and headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await reader.readexactly(length) if length else b""
        return Request(method, target, version, headers, body)

    async def _serve_request(self, reader, writer):
        """Read and answer one request; return True to read another on this connection."""
        try:
            request = await self._read_request(reader, writer)
        except HttpError as err:
            writer.write(encode_json(err.status, {"error": err.message}, False))
            await writer.drain()
            await linger(reader, writer)
            return False
        if request is None:
            return False
        keep_alive = request.version == "HTTP/1.1" and \
            request.headers.get("connection", "").lower() != "close"
        answer = await self._call_handler(request)
        if isinstance(answer, StreamResponse):
            await self._send_stream(answer, reader, writer)
            return False
        if isinstance(answer, UpgradeResponse):
            try:
                writer.write(encode_head(101, [("Connection", "Upgrade"),
                                               ("Upgrade", answer.protocol)]))
                await writer.drain()
            except BaseException:
                if answer.abandon is not None:
                    answer.abandon()
                raise
            await answer.handler(reader, writer)
            return False
        if isinstance(answer, TextResponse):
            writer.write(encode_text(answer, keep_alive))
        else:
            writer.write(encode_json(answer.status, answer.body, keep_alive))
        await writer.drain()
        return keep_alive

    async def _call_handler(self, request):
        try:
            return await self.handler(request)
        except HttpError as err:
            return Response(err.status, {"error": err.message, **err.extra})
        except Exception as err:  # a bug in one route must not take the manager down
            log.exception("handle %s %s", request.method, request.path)
            return Response(500, {"error": f"{request.method} {request.path}: {err}"})

    async def _send_stream(self, answer, reader, writer):
        writer.write(encode_head(200, [("Content-Type", "application/x-ndjson"),
                                       ("Transfer-Encoding", "chunked"),
                                       ("Connection", "close")]))
        pump = asyncio.ensure_future(self._pump_stream(answer.objects, writer))
        # The client hanging up is seen as EOF on the reader; it ends the stream
        # even while no object is due (an idle `events` subscriber).
        hangup = asyncio.ensure_future(wait_hangup(reader))
        try:
            await asyncio.wait({pump, hangup}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, hangup):
                task.cancel()
            await asyncio.gather(pump, hangup, return_exceptions=True)
            aclose = getattr(answer.objects, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _pump_stream(self, objects, writer):
        try:
            async for obj in objects:
                writer.write(encode_chunk(obj))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except HttpError as err:
            writer.write(encode_chunk({"error": err.message}) + b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:  # log a failing stream; the connection just ends
            log.exception("send stream")


async def linger(reader, writer, limit=16 << 20, timeout=2.0):
    """Half-close, then drop what the client still sends (bounded).

    Closing a unix socket with unread data resets the peer, which would then
    lose our error answer (a 413 sent while it still writes the body).
    """
    try:
        if writer.can_write_eof():
            writer.write_eof()
        await asyncio.wait_for(drain_input(reader, limit), timeout)
    except (ConnectionError, asyncio.TimeoutError):
        pass


async def drain_input(reader, limit):
    """Read and drop input until EOF or LIMIT bytes."""
    seen = 0
    while seen < limit:
        chunk = await reader.read(65536)
        if not chunk:
            return
        seen += len(chunk)


async def wait_hangup(reader):
    """Return when the peer has closed its side (bytes it sends meanwhile are dropped)."""
    while await reader.read(65536):
        pass
