"""The client side of HTTP/1.1 over a unix socket, as the manager's API speaks it.

Built from C modules alone (_socket; no http.client, email, urllib or socket,
which import enum and selectors): every CLI command pays for its imports, and
http.client alone cost ~35 ms of `tether list` (bench/CHANGES.md).

The manager (manager/http.py) answers with 1. a body of Content-Length bytes
(JSON, metrics text, errors), 2. a chunked NDJSON stream (logs, events) that
ends with a zero chunk or a close, or 3. `101 Switching Protocols` for attach;
a body delimited by the close of the connection is read as well. Anything
malformed or cut short raises ClientError with one line naming the request.
"""

import _socket

READ_SIZE = 64 << 10
MAX_HEAD = 64 << 10
MAX_CHUNK_LINE = 1024
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset(b"0123456789abcdefABCDEF")
# Interim answers to skip; 101 is final (attach owns the stream after it).
_INTERIM = (100, 102, 103)
_NO_BODY = (204, 304)


class ClientError(Exception):
    """A request could not be made or answered; str() is one line for the user."""

    def __init__(self, message, status=None, exit_code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.exit_code = exit_code


class UnreachableError(ClientError):
    """The manager's socket could not be connected."""


def connect_unix(socket_path, timeout=None):
    """Return a stream socket connected to SOCKET_PATH, or raise UnreachableError."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
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


def quote(value):
    """Percent-encode VALUE (str() of it) for a path segment or a query value."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}"
                   for b in str(value).encode("utf-8"))


def encode_query(query):
    """Return `?k=v&...` of QUERY's items that are not None or False ('' if none)."""
    items = [(k, 1 if v is True else v) for k, v in (query or {}).items()
             if v is not None and v is not False]
    return "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in items) if items else ""


def encode_request(method, target, body=None, headers=()):
    """Return the bytes of a request with an optional JSON BODY (bytes)."""
    lines = [f"{method} {target} HTTP/1.1", "Host: tether", *headers]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    elif method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class Reader:
    """A receive buffer over a connected socket; WHAT names the request in errors."""

    def __init__(self, sock, what, read_size=READ_SIZE):
        self.sock = sock
        self.what = what
        self.read_size = read_size
        self.buf = bytearray()

    def fill(self):
        """Receive more bytes into the buffer; return False at the end of the stream."""
        try:
            data = self.sock.recv(self.read_size)
        except OSError as err:
            raise ClientError(f"{self.what}: read answer: {err.strerror or err}") from err
        self.buf += data
        return bool(data)

    def take(self, size):
        """Remove and return the first SIZE buffered bytes."""
        data = bytes(self.buf[:size])
        del self.buf[:size]
        return data

    def read_line(self, limit):
        """Return the next line with its newline (without one at the end of the stream)."""
        start = 0
        while True:
            end = self.buf.find(b"\n", start)
            if end >= 0:
                return self.take(end + 1)
            if len(self.buf) > limit:
                raise ClientError(f"{self.what}: answer line over {limit} bytes")
            start = len(self.buf)
            if not self.fill():
                return self.take(len(self.buf))

    def read_exact(self, size, part):
        """Return exactly SIZE bytes of PART of the answer."""
        while len(self.buf) < size:
            if not self.fill():
                raise ClientError(f"{self.what}: the manager closed the connection in the "
                                  f"middle of the {part} ({len(self.buf)} of {size} bytes)")
        return self.take(size)

    def read_some(self):
        """Return the buffered bytes, or the next ones received (b'' at the end)."""
        if not self.buf and not self.fill():
            return b""
        return self.take(len(self.buf))


def parse_head(head, what="read answer"):
    """Parse a response head (status line and headers) into (status, {lower name: value})."""
    lines = head.decode("latin-1").replace("\r\n", "\n").rstrip("\n").split("\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or len(parts[1]) != 3 \
            or not (parts[1].isascii() and parts[1].isdigit()):
        raise ClientError(f"{what}: malformed answer from the manager: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ClientError(f"{what}: malformed header in the manager's answer: {line[:80]!r}")
        key, value = name.strip().lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return int(parts[1]), headers


def read_head(reader):
    """Read one response head; return (status, headers)."""
    head = bytearray()
    while True:
        line = reader.read_line(MAX_HEAD)
        if not line.endswith(b"\n"):
            where = "in the middle of the answer" if head or line else "before answering"
            raise ClientError(f"{reader.what}: the manager closed the connection {where}")
        if line in (b"\r\n", b"\n"):
            return parse_head(bytes(head), reader.what)
        head += line
        if len(head) > MAX_HEAD:
            raise ClientError(f"{reader.what}: answer head over {MAX_HEAD} bytes")


def read_answer_head(reader):
    """Read response heads until a final one (interim 1xx are skipped); return it."""
    while True:
        status, headers = read_head(reader)
        if status not in _INTERIM:
            return status, headers


def content_length(headers, what):
    """Return the Content-Length header as an int, or None without one."""
    text = headers.get("content-length")
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ClientError(f"{what}: malformed Content-Length {text[:40]!r} in the answer")
    return int(text)


def iter_body(reader, status, headers):
    """Yield a body's bytes as they arrive: chunked, by Content-Length, or until close."""
    if status in _NO_BODY or status < 200:
        return
    coding = headers.get("transfer-encoding")
    if coding is not None:
        if coding.split(",")[-1].strip().lower() != "chunked":
            raise ClientError(f"{reader.what}: unsupported Transfer-Encoding {coding[:40]!r}")
        yield from iter_chunks(reader)
        return
    remaining = content_length(headers, reader.what)
    while remaining is None or remaining > 0:
        piece = reader.read_some()
        if not piece:
            if remaining is None:
                return
            raise ClientError(f"{reader.what}: the manager closed the connection in the "
                              f"middle of the answer ({remaining} bytes missing)")
        if remaining is not None:
            piece = piece[:remaining]  # bytes after the body are not ours: drop them
            remaining -= len(piece)
        yield piece


def iter_chunks(reader):
    """Yield the data of each chunk of a chunked body up to its zero chunk."""
    while True:
        line = reader.read_line(MAX_CHUNK_LINE)
        if not line.endswith(b"\n"):
            raise ClientError(f"{reader.what}: the manager closed the connection in the "
                              "middle of the answer (chunked body)")
        size_text = line.split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 15 or not set(size_text) <= _HEX:
            raise ClientError(f"{reader.what}: malformed chunk size {line[:40]!r} in the answer")
        size = int(size_text, 16)
        if size == 0:
            return  # trailers are not read: the connection is closed after the body
        data = reader.read_exact(size + 2, "answer (chunk data)")
        if data[-2:] != b"\r\n":
            raise ClientError(f"{reader.what}: malformed chunk end in the answer")
        yield data[:-2]


def read_body(reader, status, headers, limit):
    """Return the whole body of an answer; ClientError over LIMIT bytes."""
    pieces, size = [], 0
    for piece in iter_body(reader, status, headers):
        size += len(piece)
        if size > limit:
            raise ClientError(f"{reader.what}: answer over {limit} bytes")
        pieces.append(piece)
    return b"".join(pieces)


def iter_lines(pieces, limit, what):
    """Yield the lines (without newline) of a body split into PIECES anyhow."""
    pending = bytearray()
    for piece in pieces:
        pending += piece
        if b"\n" not in piece:
            if len(pending) > limit:
                raise ClientError(f"{what}: answer line over {limit} bytes")
            continue
        *lines, rest = pending.split(b"\n")
        for line in lines:
            yield bytes(line)
        pending = rest
    if pending:
        yield bytes(pending)
