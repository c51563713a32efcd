"""The client side of attach: the upgraded stream, its frames, and the terminal.

Protocol (docs/api.md, "Attach stream"): 1. send the Upgrade request on a raw
unix socket; 2. read the `101 Switching Protocols` head; 3. exchange frames of
`1 byte type, 4 bytes big-endian length, payload` until the manager sends an
exit (3) or error (5) frame, or the user detaches with ctrl-p ctrl-q.
"""

import json
import os
import selectors
import signal
import struct

from manager.client import (ApiError, ClientError, build_path, connect_unix, error_from_body,
                            quote_id)

FRAME_STDIN, FRAME_STDOUT, FRAME_STDERR, FRAME_EXIT, FRAME_CLOSE_STDIN, FRAME_ERROR = range(6)
HEADER = struct.Struct(">BI")
DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q, as docker and podman
MAX_HEAD = 64 << 10
READ_SIZE = 64 << 10
# Signals the attached client passes on to the process, as `docker run` does.
PROXIED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
DETACHED = None


def encode_frame(kind, payload=b""):
    """Return one frame: type byte, big-endian length, payload."""
    return HEADER.pack(kind, len(payload)) + payload


class FrameReader:
    """Split a byte stream into (type, payload) frames."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        """Add DATA; return the frames it completed."""
        self.buf += data
        frames = []
        while len(self.buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.buf)
            end = HEADER.size + length
            if len(self.buf) < end:
                break
            frames.append((kind, bytes(self.buf[HEADER.size:end])))
            del self.buf[:end]
        return frames


class DetachScanner:
    """Find the detach keys in keyboard input, holding back a partial match."""

    def __init__(self, keys=DETACH_KEYS):
        self.keys = keys
        self.matched = 0

    def feed(self, data):
        """Return (bytes to forward, detached) for DATA."""
        out = bytearray()
        for byte in data:
            if byte == self.keys[self.matched]:
                self.matched += 1
                if self.matched == len(self.keys):
                    self.matched = 0
                    return bytes(out), True
                continue
            # A broken sequence is ordinary input: give back what was held.
            out += self.keys[:self.matched]
            self.matched = 0
            if byte == self.keys[0]:
                self.matched = 1
            else:
                out.append(byte)
        return bytes(out), False


def parse_head(head):
    """Parse an HTTP response head into (status, {lower-case name: value})."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ClientError(f"attach: malformed answer from the manager: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


def read_head(sock):
    """Read up to the end of the response head; return (head, bytes after it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(READ_SIZE)
        if not chunk or len(data) > MAX_HEAD:
            raise ClientError("attach: the manager closed the connection before answering")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def dechunk(data):
    """Decode a chunked transfer-encoded body (as much of it as DATA holds)."""
    out = bytearray()
    while data:
        size_line, sep, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16) if sep else 0
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return bytes(out)


def read_error_body(sock, headers, rest):
    """Read the body of an error answer (Content-Length, chunked or until close)."""
    sock.settimeout(10)
    data = bytearray(rest)
    length = headers.get("content-length", "")
    length = int(length) if length.isdigit() else None
    chunked = "chunked" in headers.get("transfer-encoding", "")
    while len(data) < MAX_HEAD:
        if length is not None and len(data) >= length:
            break
        if chunked and data.endswith(b"0\r\n\r\n"):
            break
        chunk = sock.recv(READ_SIZE)
        if not chunk:
            break
        data += chunk
    return dechunk(bytes(data)) if chunked else bytes(data[:length])


def open_attach(socket_path, cid, exec_id=None, logs=False):
    """Open an attach stream; return (socket, bytes already received after the head)."""
    path = build_path(f"/containers/{quote_id(cid)}/attach", {"exec_id": exec_id, "logs": logs})
    sock = connect_unix(socket_path)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: tether\r\nConnection: Upgrade\r\n"
                     "Upgrade: tether-attach\r\n\r\n".encode())
        head, rest = read_head(sock)
        status, headers = parse_head(head)
        if status != 101:
            raise error_from_body(status, read_error_body(sock, headers, rest), f"attach {cid}")
    except OSError as err:
        sock.close()
        raise ClientError(f"attach {cid}: {err.strerror or err}") from err
    except ClientError:
        sock.close()
        raise
    return sock, rest


def write_all(fd, data):
    """Write all of DATA to FD."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class SignalPipe:
    """Deliver signals to the loop as bytes (a no-op handler plus set_wakeup_fd)."""

    def __init__(self, signals):
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.old_wakeup = signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        self.old_handlers = {sig: signal.signal(sig, lambda *_: None) for sig in signals}

    def read(self):
        """Return the signal numbers received since the last call."""
        try:
            return list(os.read(self.read_fd, 256))
        except BlockingIOError:
            return []

    def close(self):
        """Restore the previous handlers and wakeup fd."""
        for sig, handler in self.old_handlers.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self.old_wakeup)
        os.close(self.read_fd)
        os.close(self.write_fd)


class AttachSession:
    """Pump frames between an attach socket and this process's stdio."""

    def __init__(self, client, cid, exec_id, sock, rest, tty, stdin_fd=None):
        self.client, self.cid, self.exec_id = client, cid, exec_id
        self.sock, self.tty, self.stdin_fd = sock, tty, stdin_fd
        self.frames = FrameReader()
        self.pending = rest
        self.scanner = DetachScanner() if tty else None

    def run(self):
        """Pump until the process exits (return its code) or the user detaches (None)."""
        signals = PROXIED_SIGNALS + ((signal.SIGWINCH,) if self.tty else ())
        sigpipe = SignalPipe(signals)
        sel = selectors.PollSelector()  # poll, not epoll: stdin may be a regular file
        try:
            sel.register(self.sock, selectors.EVENT_READ, "sock")
            sel.register(sigpipe.read_fd, selectors.EVENT_READ, "signal")
            if self.stdin_fd is not None:
                sel.register(self.stdin_fd, selectors.EVENT_READ, "stdin")
            return self.pump(sel, sigpipe)
        finally:
            sel.close()
            sigpipe.close()
            self.sock.close()

    def pump(self, sel, sigpipe):
        """Run the loop; see run()."""
        result = self.handle_output(self.pending)
        while result is False:
            for key, _ in sel.select():
                if key.data == "sock":
                    result = self.handle_output(self.recv())
                elif key.data == "stdin":
                    result = self.handle_input(sel)
                else:
                    self.handle_signals(sigpipe.read())
                if result is not False:
                    break
        return result

    def recv(self):
        """Receive from the manager; a closed stream without an exit frame is an error."""
        try:
            data = self.sock.recv(READ_SIZE)
        except OSError as err:
            raise ClientError(f"attach {self.cid}: read stream: {err.strerror or err}") from err
        if not data:
            raise ClientError(f"attach {self.cid}: the manager closed the stream "
                              "before the process exited")
        return data

    def handle_output(self, data):
        """Write output frames to stdout/stderr; return the exit code, or False to go on."""
        for kind, payload in self.frames.feed(data):
            if kind == FRAME_STDOUT:
                write_all(1, payload)
            elif kind == FRAME_STDERR:
                write_all(2, payload)
            elif kind == FRAME_EXIT:
                return parse_exit(payload)
            elif kind == FRAME_ERROR:
                message = payload.decode("utf-8", "replace").strip() or "attach failed"
                raise ApiError(message.splitlines()[0])
        return False

    def handle_input(self, sel):
        """Forward stdin as frames; return None on detach, False to go on."""
        data = os.read(self.stdin_fd, READ_SIZE)
        if not data:
            sel.unregister(self.stdin_fd)
            self.send(encode_frame(FRAME_CLOSE_STDIN))
            return False
        detached = False
        if self.scanner:
            data, detached = self.scanner.feed(data)
        if data:
            self.send(encode_frame(FRAME_STDIN, data))
        return DETACHED if detached else False

    def send(self, data):
        """Send frames to the manager."""
        try:
            self.sock.sendall(data)
        except OSError as err:
            raise ClientError(f"attach {self.cid}: write stream: {err.strerror or err}") from err

    def handle_signals(self, signums):
        """Resize on SIGWINCH; pass other signals on to the process."""
        for signum in signums:
            try:
                if signum == signal.SIGWINCH:
                    send_terminal_size(self.client, self.cid, self.exec_id, self.stdin_fd or 0)
                else:
                    self.client.kill(self.cid, signum, exec_id=self.exec_id)
            except ApiError:
                pass  # the process has just ended: its exit frame follows


def parse_exit(payload):
    """Return the exit code of an exit frame's JSON payload."""
    try:
        code = json.loads(payload)["exit_code"]
    except (ValueError, KeyError, TypeError) as err:
        raise ClientError(f"attach: malformed exit frame {payload[:80]!r}") from err
    if not isinstance(code, int):
        raise ClientError(f"attach: malformed exit frame {payload[:80]!r}")
    return code


def terminal_size(fd=0):
    """Return [cols, rows] of the terminal on FD, or None if FD is no terminal."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return [size.columns, size.lines]


def send_terminal_size(client, cid, exec_id, fd=0):
    """Tell the manager the current size of the terminal on FD."""
    size = terminal_size(fd)
    if size:
        client.resize(cid, size[0], size[1], exec_id=exec_id)


class RawTerminal:
    """Put the terminal on FD in raw mode for the duration of a with block."""

    def __init__(self, fd):
        self.fd = fd
        self.saved = None

    def __enter__(self):
        import termios
        import tty
        self.saved = termios.tcgetattr(self.fd)
        # TCSANOW, not setraw's default TCSAFLUSH: keys typed ahead must not be discarded.
        tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc):
        import termios
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
        return False
