"""Move the container's bytes: its output to output.log and the FIFOs, stdin to it.

The container never waits for a reader: the shim always drains its pipes, and
writes to an output FIFO only while someone holds it open (O_NONBLOCK open;
ENXIO means no reader), keeping at most PENDING_MAX bytes for a slow reader.
"""

import errno
import os
import time

PENDING_MAX = 1 << 20
# One read. Private memory a shim keeps after 64 MiB of lines (glibc's heap,
# keep_chunks_on_heap): 128 KiB reads +0 kB but more CPU per GiB, 256 KiB
# +450 kB, 1 MiB +1.9 MB for little less CPU.
CHUNK = 1 << 18
READ_TARGET = 1 << 19  # bytes one wake-up of streaming output aims at (at most half the pipe)
LINGER_FROM = 1 << 10  # a wake-up that found this much means output is streaming
LINGER_MAX = 0.01  # seconds between wake-ups of streaming output, at most
HEAP_BLOCK = 1 << 20  # glibc serves blocks up to this size from the heap (keep_chunks_on_heap)
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = 1031  # <linux/fcntl.h>
F_GETPIPE_SZ = 1032


def grow_pipe(fd):
    """Ask for a 1 MiB pipe buffer: fewer wake-ups and bigger reads (best effort)."""
    import fcntl
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # over /proc/sys/fs/pipe-max-size for an unprivileged user: keep the default


def pipe_capacity(fd):
    """Return the buffer size of the pipe or FIFO FD, or None if FD is something else."""
    import fcntl
    try:
        return fcntl.fcntl(fd, F_GETPIPE_SZ)
    except OSError:
        return None  # a PTY master: the tty layer hands out at most 4 KiB a read


def keep_chunks_on_heap():
    """Have glibc's malloc serve chunk-sized blocks from the heap and reuse them."""
    # Over 128 KiB malloc uses mmap: every read buffer and framed chunk then costs
    # an mmap, a page fault per 4 KiB and a munmap (a third of the shim's CPU for
    # streaming lines). Freeing an mmap()ed block raises the threshold to its
    # size and the heap's trim threshold to twice that (mallopt(3), M_MMAP_THRESHOLD),
    # so one calloc'ed block (untouched zero pages) freed at once is enough.
    bytes(HEAP_BLOCK)
    return True


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
        grow_pipe(self.fd)  # room for a whole chunk: a reader that keeps up loses nothing
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


class KeptPipe:
    """Take a pipe's output so that a SIGKILL at any instant loses no byte (shim.contract.outkeep).

    Each chunk is tee'd into a private staging pipe and read from there; the
    container's pipe gives it up (splice into the keep FIFO) only once it is
    in output.log. tee(2) is not in os: it is called through _ctypes (84 kB;
    the ctypes package costs 330).
    """

    def __init__(self, src_fd, proc_dir, stream, log_writer):
        from shim.contract import outkeep
        self._outkeep = outkeep
        self.src_fd = src_fd
        self.log_writer = log_writer
        self.record = outkeep.Record(proc_dir, stream.decode())
        self.fifo_fd = outkeep.open_fifo(proc_dir, stream.decode(), create=True)
        grow_pipe(self.fifo_fd)
        self.stage_r, self.stage_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        grow_pipe(self.stage_r)
        self.null_fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        # One chunk must fit the staging pipe and the FIFO whole.
        self.limit = min(CHUNK, pipe_capacity(self.stage_r), pipe_capacity(self.fifo_fd))
        self.pending = 0
        self._tee = _libc_tee()

    def read(self):
        """Return the bytes waiting (b"" at EOF, None if none); consumed by logged()."""
        n = self._tee(self.src_fd, self.stage_w, self.limit, SPLICE_F_NONBLOCK)
        if n < 0:
            return None  # EAGAIN: the pipe is empty
        if n == 0:
            return b""
        data = os.read(self.stage_r, n)  # the staging pipe holds exactly N bytes
        self.pending = n
        self.record.writing(self.log_writer.inode, self.log_writer.size, n)
        return data

    def logged(self):
        """The chunk is in output.log: consume it from the pipe (steps 3-4)."""
        outkeep = self._outkeep
        self.record.set_phase(outkeep.CONSUME)
        outkeep.discard(self.src_fd, self.pending, self.fifo_fd)
        self.record.set_phase(outkeep.IDLE)
        outkeep.empty(self.fifo_fd, self.null_fd)
        self.pending = 0

    def close(self):
        """Close the staging pipe, the FIFO and the record."""
        for fd in (self.stage_r, self.stage_w, self.fifo_fd, self.null_fd):
            os.close(fd)
        self.record.close()


SPLICE_F_NONBLOCK = 2
_TEE = []


def _libc_tee():
    """Return tee(2) as fn(fd_in, fd_out, len, flags) -> int (-1: EAGAIN or an error)."""
    if not _TEE:
        import _ctypes
        address = _ctypes.dlsym(_ctypes.dlopen(None), "tee")
        _TEE.append(lambda *args: _ctypes.call_function(address, args))
    return _TEE[0]


class OutputPump:
    """Read one container stream until EOF; log every byte and copy it to the FIFO.

    While output streams in from a pipe, the pump leaves epoll and reads again
    after a pause (LINGER_MAX at most) instead of waking for every write of the
    container: a wake-up then takes about READ_TARGET bytes, so the cost of a
    wake-up (epoll, the reads, framing, writev, the FIFO open) is paid a few
    hundred times per second, not tens of thousands. A pump that is behind (the
    pipe still not empty after READ_TARGET bytes) reads on at once; little
    output (a prompt) or none (an idle stream) goes back to epoll, so
    interactive output is not held back, and EOF is seen without a pause.
    """

    def __init__(self, loop, stream, src_fd, log_writer, fifo, start=True, keep_dir=None):
        self.loop = loop
        self.stream = stream
        self.src_fd = src_fd
        self.log_writer = log_writer
        self.fifo = fifo
        self.bytes_read = 0
        self.lingering = False  # off epoll, a timer calls read_output
        self.last_read = 0.0
        self.chunks_on_heap = False
        capacity = pipe_capacity(src_fd)
        # Paced reads only from a pipe, aiming at half of it: the writer never waits.
        self.target = min(READ_TARGET, capacity // 2) if capacity else None
        self.begun = False
        os.set_blocking(src_fd, False)
        # A pipe in a process directory is kept (KeptPipe); a PTY master cannot be tee'd.
        self.kept = KeptPipe(src_fd, keep_dir, stream, log_writer) \
            if keep_dir is not None and capacity else None
        if start:
            self.begin()

    def begin(self):
        """Start reading (the output waits in the pipe until then); once."""
        if self.src_fd is not None and not self.begun:
            self.begun = True
            self.loop.add_reader(self.src_fd, self.read_output)

    @property
    def open(self):
        """Return True until EOF (or EIO from a PTY master whose worker side is closed)."""
        return self.src_fd is not None

    def read_output(self):
        """Read until the pipe is empty (or the target is met); pace the next read."""
        if self.src_fd is None:
            return  # closed while a timer was pending
        total, drained = 0, False
        while total < (self.target or 1):  # a PTY: one read a call
            data = self._read()
            if data is None:
                drained = True
                break
            if not data:  # EOF: found at once, also by a pump that was pausing
                self.close()
                return
            self._pass_on(data)
            total += len(data)
        self._pace(total, drained)

    def _pass_on(self, data):
        """Log DATA and copy it to the FIFO's reader."""
        self.bytes_read += len(data)
        self.log_writer.write_chunk(self.stream, data)
        if self.kept is not None:
            self.kept.logged()
        if self.fifo is not None:
            self.fifo.write(data)

    def _read(self):
        """Return the bytes waiting (b"" at EOF), or None if there are none."""
        if self.kept is not None:
            return self.kept.read()
        try:
            return os.read(self.src_fd, CHUNK)
        except BlockingIOError:
            return None
        except OSError as err:
            if err.errno != errno.EIO:
                raise
            return b""  # EIO on a PTY master: every worker fd is closed

    def _pace(self, count, drained):
        """Decide when to read next, after reading COUNT bytes (DRAINED: all there was)."""
        if self.target is None:
            return
        now = time.monotonic()
        elapsed, self.last_read = now - self.last_read, now
        # Not drained: we are behind, epoll calls again at once. Little: interactive.
        streaming = drained and count >= LINGER_FROM
        if count >= LINGER_FROM and not self.chunks_on_heap:
            self.chunks_on_heap = keep_chunks_on_heap()  # not before: idle shims stay lean
        self._set_lingering(streaming)
        if streaming:
            # COUNT bytes came in ELAPSED seconds: wait until about TARGET are there.
            self.loop.call_later(min(elapsed * self.target / count, LINGER_MAX),
                                 self.read_output)

    def _set_lingering(self, lingering):
        if lingering != self.lingering:
            self.lingering = lingering
            if lingering:
                self.loop.remove_reader(self.src_fd)
            else:
                self.loop.add_reader(self.src_fd, self.read_output)

    def close(self):
        """Stop reading and close the source."""
        if self.src_fd is not None:
            self.loop.forget_fd(self.src_fd)
            os.close(self.src_fd)
            self.src_fd = None
            if self.kept is not None:
                self.kept.close()

