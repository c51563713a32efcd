"""The client side of attach: the upgraded stream, its frames, and the terminal.

Protocol (docs/api.md, "Attach stream"): 1. send the Upgrade request on a raw
unix socket; 2. read the `101 Switching Protocols` head; 3. exchange frames of
shim/contract/frames.py (type byte, big-endian length, payload) until the manager sends an
exit (3) or error (5) frame, or the user detaches with ctrl-p ctrl-q.
"""

import _signal
import os
import select

from manager.client.methods import (ApiError, ClientError, build_path, connect_unix, exchange, quote_id,
                            read_error)
from manager.client.transport import encode_request
from shim.contract import cjson, frames

DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q, as docker and podman
READ_SIZE = 64 << 10
# Signals the attached client passes on to the process, as `docker run` does.
# _signal and select.poll rather than signal and selectors: those import enum
# and collections, ~10 ms of every attached `tether run` (bench/CHANGES.md).
PROXIED_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT)
DETACHED = None


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


def open_attach(socket_path, cid, exec_id=None, logs=False):
    """Open an attach stream; return (socket, bytes already received after the head)."""
    path = build_path(f"/containers/{quote_id(cid)}/attach", {"exec_id": exec_id, "logs": logs})
    return open_upgraded(socket_path, f"attach {cid}", "GET", path)


def open_run(socket_path, body):
    """Create and start a container and attach to it in one request (docs/api.md)."""
    return open_upgraded(socket_path, f"run {body.get('id')}", "POST",
                         build_path("/containers"), cjson.dumps(body).encode())


def open_upgraded(socket_path, what, method, path, body=None):
    """Send an attach-upgrade request; return (socket, bytes received after the 101 head)."""
    request = encode_request(method, path, body, headers=("Connection: Upgrade",
                                                          "Upgrade: tether-attach"))
    sock = connect_unix(socket_path)
    try:
        answer = exchange(sock, what, request)
        if answer.status != 101:
            raise read_error(answer, what)
    except ClientError:
        sock.close()
        raise
    # The frames the manager sent right behind its 101 head are the stream's first bytes.
    return sock, answer.reader.take(len(answer.reader.buf))


def write_all(fd, data):
    """Write all of DATA to FD."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class SignalPipe:
    """Deliver signals to the loop as bytes (a no-op handler plus set_wakeup_fd)."""

    def __init__(self, signals):
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.old_wakeup = _signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        self.old_handlers = {sig: _signal.signal(sig, lambda *_: None) for sig in signals}

    def read(self):
        """Return the signal numbers received since the last call."""
        try:
            return list(os.read(self.read_fd, 256))
        except BlockingIOError:
            return []

    def close(self):
        """Restore the previous handlers and wakeup fd."""
        for sig, handler in self.old_handlers.items():
            _signal.signal(sig, handler)
        _signal.set_wakeup_fd(self.old_wakeup)
        os.close(self.read_fd)
        os.close(self.write_fd)


class AttachSession:
    """Pump frames between an attach socket and this process's stdio."""

    def __init__(self, client, cid, exec_id, sock, rest, tty, stdin_fd=None):
        self.client, self.cid, self.exec_id = client, cid, exec_id
        self.sock, self.tty, self.stdin_fd = sock, tty, stdin_fd
        self.frames = frames.FrameReader()
        self.pending = rest
        self.scanner = DetachScanner() if tty else None

    def run(self):
        """Pump until the process exits (return its code) or the user detaches (None)."""
        sigpipe = SignalPipe(PROXIED_SIGNALS + ((_signal.SIGWINCH,) if self.tty else ()))
        poller = select.poll()  # poll, not epoll: stdin may be a regular file
        sources = {self.sock.fileno(): "sock", sigpipe.read_fd: "signal"}
        if self.stdin_fd is not None:
            sources[self.stdin_fd] = "stdin"
        try:
            for fd in sources:
                poller.register(fd, select.POLLIN)
            return self.pump(poller, sources, sigpipe)
        finally:
            sigpipe.close()
            self.sock.close()

    def pump(self, poller, sources, sigpipe):
        """Run the loop; see run(). Any event on an fd (hang-up, error too) means: read it."""
        result = self.handle_output(self.pending)
        while result is False:
            for fd, _ in poller.poll():
                if sources[fd] == "sock":
                    result = self.handle_output(self.recv())
                elif sources[fd] == "stdin":
                    result = self.handle_input(poller)
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
            if kind == frames.STDOUT:
                write_all(1, payload)
            elif kind == frames.STDERR:
                write_all(2, payload)
            elif kind == frames.EXIT:
                return parse_exit(payload)
            elif kind == frames.ERROR:
                message = payload.decode("utf-8", "replace").strip() or "attach failed"
                raise ApiError(message.splitlines()[0])
        return False

    def handle_input(self, poller):
        """Forward stdin as frames; return None on detach, False to go on."""
        data = os.read(self.stdin_fd, READ_SIZE)
        if not data:
            poller.unregister(self.stdin_fd)
            self.send(frames.encode_frame(frames.CLOSE_STDIN))
            return False
        detached = False
        if self.scanner:
            data, detached = self.scanner.feed(data)
        if data:
            self.send(frames.encode_frame(frames.STDIN, data))
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
                if signum == _signal.SIGWINCH:
                    send_terminal_size(self.client, self.cid, self.exec_id, self.stdin_fd or 0)
                else:
                    self.client.kill(self.cid, signum, exec_id=self.exec_id)
            except ApiError:
                pass  # the process has just ended: its exit frame follows


def parse_exit(payload):
    """Return the exit code of an exit frame's JSON payload."""
    try:
        return frames.decode_exit(payload)
    except ValueError as err:
        raise ClientError(f"attach: {err}") from err


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
