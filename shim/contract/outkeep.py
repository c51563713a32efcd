"""The record that lets a pipe's output survive its shim's SIGKILL (docs/durability.md).

Per output pipe the shim keeps, in the process directory, a 32-byte record
(`.keep-STREAM`, mmap'd: a store is in the page cache at once and outlives
the process) and a FIFO (`.keep-STREAM.fifo`, held open by the manager's fd
store) that receives the bytes the shim consumes from the container's pipe.
One chunk is taken in four steps, each a single store of the phase byte
after the fields it needs:

1. tee(2) the pipe into a private staging pipe and read it (nothing consumed);
2. WRITE with (inode, size) of output.log before the write, and the count N;
   append the chunk's records;
3. CONSUME: splice(2) N bytes from the pipe into the FIFO (consumed);
4. IDLE; empty the FIFO.

The adopting shim (reconcile) reads the phase: WRITE: cut output.log back
to the recorded size (a torn or whole record of a chunk still in the pipe);
CONSUME: consume N minus what the FIFO holds (its count says whether step
3 ran); then empty the FIFO. No instant of a SIGKILL loses or repeats a byte.
Stdlib only: the manager imports the names.
"""

import errno
import mmap
import os
import struct

IDLE, WRITE, CONSUME = 0, 1, 2
SIZE = 32
_FIELDS = struct.Struct("=QQQ")  # at 8: output.log's inode, its size before the write, N
STREAMS = ("stdout", "stderr")


def record_name(stream):
    """Return the record's file name for STREAM ("stdout" or "stderr")."""
    return f".keep-{stream}"


def fifo_name(stream):
    """Return the FIFO's file name for STREAM."""
    return f".keep-{stream}.fifo"


def store_name(stream):
    """Return the fd store's name of STREAM's FIFO."""
    return f"keep-{stream}"


def open_fifo(proc_dir, stream, create=False):
    """Open (creating it if CREATE) STREAM's FIFO read-write and non-blocking; None if absent."""
    path = os.path.join(proc_dir, fifo_name(stream))
    if create:
        try:
            os.mkfifo(path, 0o600)
        except FileExistsError:
            pass
    try:
        return os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None


class Record:
    """The mmap'd record of one stream."""

    def __init__(self, proc_dir, stream):
        path = os.path.join(proc_dir, record_name(stream))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            if os.fstat(fd).st_size < SIZE:
                # Written, not ftruncate'd: the block is allocated now. A store into
                # a hole of a full filesystem's file is a SIGBUS.
                os.pwrite(fd, bytes(SIZE), 0)
            self.map = mmap.mmap(fd, SIZE)
        finally:
            os.close(fd)

    @property
    def phase(self):
        """Return the phase byte."""
        return self.map[0]

    def fields(self):
        """Return (inode, size before the write, N)."""
        return _FIELDS.unpack_from(self.map, 8)

    def writing(self, inode, size, count):
        """Step 2: the chunk of COUNT bytes goes to output.log (INODE) at SIZE."""
        _FIELDS.pack_into(self.map, 8, inode, size, count)
        self.map[0] = WRITE  # one byte: a SIGKILL sees the old phase or the new

    def set_phase(self, phase):
        """Store PHASE (CONSUME or IDLE): its fields are those of the last writing()."""
        self.map[0] = phase

    def close(self):
        """Unmap."""
        self.map.close()


def queued(fd):
    """Return the bytes waiting in the pipe or FIFO FD (FIONREAD)."""
    import fcntl
    import termios
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def discard(src_fd, count, sink_fd):
    """Consume COUNT bytes of the pipe SRC_FD into SINK_FD (a pipe or /dev/null); return them."""
    moved = 0
    while moved < count:
        try:
            n = os.splice(src_fd, sink_fd, count - moved, flags=SPLICE_F_NONBLOCK)
        except BlockingIOError:
            break
        if not n:
            break
        moved += n
    return moved


def empty(fifo_fd, null_fd):
    """Throw away whatever FIFO_FD holds."""
    while True:
        try:
            if not os.splice(fifo_fd, null_fd, 1 << 20, flags=SPLICE_F_NONBLOCK):
                return
        except BlockingIOError:
            return
        except OSError as err:
            if err.errno != errno.EINVAL:
                raise
            os.read(fifo_fd, 1 << 20)  # a sink that takes no splice


SPLICE_F_NONBLOCK = 2


def cut_log(log_path, inode, size):
    """Cut output.log (or the rotated file that is INODE) back to SIZE; drop newer files."""
    directory, base = os.path.split(log_path)
    names = [n for n in os.listdir(directory or ".") if n == base or n.startswith(base + ".")]
    found = None
    for name in names:
        path = os.path.join(directory, name)
        try:
            if os.stat(path).st_ino == inode:
                found = path
        except FileNotFoundError:
            continue
    if found is None:
        return False
    os.truncate(found, size)
    if found != log_path:
        # Rotated during the write: every record after SIZE belongs to the chunk.
        suffix = int(found.rsplit(".", 1)[1])
        for name in names:
            tail = name[len(base) + 1:]
            if tail.isdigit() and int(tail) > suffix:
                os.unlink(os.path.join(directory, name))
        if os.path.exists(log_path):
            os.truncate(log_path, 0)
    return True


def reconcile(proc_dir, stream, src_fd, log_path):
    """Finish or undo the chunk a dead shim was taking from SRC_FD; return what was done."""
    path = os.path.join(proc_dir, record_name(stream))
    if not os.path.exists(path):
        return None
    record = Record(proc_dir, stream)
    fifo_fd = open_fifo(proc_dir, stream)
    null_fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        phase = record.phase
        inode, size, count = record.fields()
        done = "idle"
        if phase == WRITE:
            cut_log(log_path, inode, size)
            done = f"cut output.log back to {size} bytes; the chunk is read again"
        elif phase == CONSUME:
            held = queued(fifo_fd) if fifo_fd is not None else 0
            consumed = discard(src_fd, count - held, null_fd) if count > held else 0
            done = f"consumed {consumed} logged bytes ({held} were)"
        if fifo_fd is not None:
            empty(fifo_fd, null_fd)
        record.set_phase(IDLE)
        return done
    finally:
        record.close()
        os.close(null_fd)
        if fifo_fd is not None:
            os.close(fifo_fd)
