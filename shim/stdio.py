"""Move the container's bytes: its output to output.log and the FIFOs, stdin to it.

The container never waits for a reader: the shim always drains its pipes, and
writes to an output FIFO only while someone holds it open (O_NONBLOCK open;
ENXIO means no reader), keeping at most PENDING_MAX bytes for a slow reader.
"""

import errno
import os

PENDING_MAX = 1 << 20
CHUNK = 1 << 18
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = 1031  # <linux/fcntl.h>


def grow_pipe(fd):
    """Ask for a 1 MiB pipe buffer: fewer wake-ups and bigger reads (best effort)."""
    import fcntl
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # over /proc/sys/fs/pipe-max-size for an unprivileged user: keep the default


def make_fifo(path):
    """Create the FIFO PATH with mode 0600."""
    os.mkfifo(path, 0o600)
    os.chmod(path, 0o600)


def open_held_fifo(path):
    """Open FIFO PATH for reading without blocking, plus a write end we hold."""
    # Holding a writer means the read end never sees EOF when the last outside
    # writer goes away, so writers may come and go.
    read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    write_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    return read_fd, write_fd


class FifoWriter:
    """Copy output to an output FIFO while a reader holds it open."""

    def __init__(self, loop, path, log):
        self.loop = loop
        self.path = path
        self.fd = None
        self.pending = bytearray()
        self.dropped_bytes = 0
        self._log = log

    def _connect(self):
        """Open our end if a reader holds the FIFO."""
        # Tried for every chunk, never throttled: a reader must see all output
        # written after it opened the FIFO.
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as err:
            if err.errno != errno.ENXIO:  # ENXIO: nobody reads; anything else is worth a line
                self._log("warning", f"open {self.path}: {err.strerror}")
            return False
        return True

    def write(self, data):
        """Send DATA to the reader, if there is one; queue what it cannot take yet."""
        if self.fd is None and not self._connect():
            return
        if self.pending:
            self._queue(data)
            return
        sent = self._send(data)
        if sent is not None and sent < len(data):
            self._queue(memoryview(data)[sent:])
            self.loop.add_writer(self.fd, self._flush)

    def _send(self, data):
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0
        except OSError as err:  # EPIPE: the reader went away
            self.disconnect(err)
            return None

    def _queue(self, data):
        room = PENDING_MAX - len(self.pending)
        if len(data) > room:
            self.dropped_bytes += len(data) - room
            data = data[:room]
        self.pending += data

    def _flush(self):
        sent = self._send(self.pending)
        if sent is None:
            return
        del self.pending[:sent]
        if not self.pending:
            self.loop.remove_writer(self.fd)

    def disconnect(self, err=None):
        """Close our end and forget queued output (the reader is gone)."""
        if self.fd is None:
            return
        if self.dropped_bytes:
            self._log("warning", f"write {self.path}: reader fell behind",
                      dropped_bytes=self.dropped_bytes)
            self.dropped_bytes = 0
        self.loop.forget_fd(self.fd)
        os.close(self.fd)
        self.fd = None
        self.pending.clear()

    def has_pending(self):
        """Return True while queued output waits for a connected reader."""
        return self.fd is not None and bool(self.pending)


class OutputPump:
    """Read one container stream until EOF; log every byte and copy it to the FIFO."""

    def __init__(self, loop, stream, src_fd, log_writer, fifo):
        self.loop = loop
        self.stream = stream
        self.src_fd = src_fd
        self.log_writer = log_writer
        self.fifo = fifo
        self.bytes_read = 0
        os.set_blocking(src_fd, False)
        loop.add_reader(src_fd, self.read_output)

    @property
    def open(self):
        """Return True until EOF (or EIO from a PTY master whose worker side is closed)."""
        return self.src_fd is not None

    def read_output(self):
        """Read what is there now."""
        try:
            data = os.read(self.src_fd, CHUNK)
        except BlockingIOError:
            return
        except OSError as err:
            if err.errno != errno.EIO:
                raise
            data = b""  # EIO on a PTY master: every worker fd is closed
        if not data:
            self.close()
            return
        self.bytes_read += len(data)
        self.log_writer.write_chunk(self.stream, data)
        if self.fifo is not None:
            self.fifo.write(data)

    def close(self):
        """Stop reading and close the source."""
        if self.src_fd is not None:
            self.loop.forget_fd(self.src_fd)
            os.close(self.src_fd)
            self.src_fd = None


class StdinPump:
    """Copy the stdin FIFO to the container's stdin (a pipe or the PTY master)."""

    def __init__(self, loop, fifo_path, target_fd, log, tty=False, owns_target=True):
        self.loop = loop
        self.target_fd = target_fd
        self.tty = tty
        self.owns_target = owns_target
        self.pending = bytearray()
        self.closing = False
        self._log = log
        self.fifo_fd, self.hold_fd = open_held_fifo(fifo_path)
        os.set_blocking(target_fd, False)
        loop.add_reader(self.fifo_fd, self.read_input)

    def read_input(self):
        """Take input from the FIFO; stop taking it while PENDING_MAX bytes wait."""
        try:
            data = os.read(self.fifo_fd, CHUNK)
        except BlockingIOError:
            return
        self.pending += data
        if len(self.pending) >= PENDING_MAX:
            self.loop.remove_reader(self.fifo_fd)  # backpressure: the writer blocks
        self.loop.add_writer(self.target_fd, self._flush)

    def _flush(self):
        try:
            sent = os.write(self.target_fd, self.pending)
        except BlockingIOError:
            return
        except OSError as err:  # EPIPE: the process closed its stdin or exited
            self._log("info", f"write container stdin: {err.strerror}; input discarded")
            self.pending.clear()
            sent = 0
        del self.pending[:sent]
        if self.pending:
            return
        self.loop.remove_writer(self.target_fd)
        if self.closing:
            self._close_target()
        elif self.fifo_fd is not None:
            self.loop.add_reader(self.fifo_fd, self.read_input)

    def close_stdin(self):
        """Send EOF to the container once queued input is written."""
        if self.closing:
            return
        self.closing = True
        self._close_fifo()
        if not self.pending:
            self._close_target()

    def _close_fifo(self):
        if self.fifo_fd is not None:
            self.loop.forget_fd(self.fifo_fd)
            os.close(self.fifo_fd)
            os.close(self.hold_fd)
            self.fifo_fd = self.hold_fd = None

    def _close_target(self):
        if self.target_fd is None:
            return
        if self.tty:
            # A PTY has no half-close: EOF is the terminal's EOF character (^D).
            try:
                os.write(self.target_fd, b"\x04")
            except OSError as err:
                self._log("info", f"write EOF to the terminal: {err.strerror}")
        self._release_target()

    def _release_target(self):
        # With a tty the target is the PTY master, which the output pump still reads.
        self.loop.remove_writer(self.target_fd)
        if self.owns_target:
            os.close(self.target_fd)
        self.target_fd = None

    def close(self):
        """Close everything (the process is gone)."""
        self.pending.clear()
        self._close_fifo()
        if self.target_fd is not None:
            self._release_target()
