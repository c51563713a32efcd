"""Write output.log in the CRI log format (shim.contract.logformat), with optional rotation.

Records are never split: rotation happens between records, and a failed
write is truncated back to the last record boundary, so a full disk drops
output but never corrupts the file.
"""

import os

from shim import headroom
from shim.contract import layout, logformat

# The drop count beside output.log, rewritten in place at each drop (its block
# allocated at the start: a full disk needs no new one), so an adopting shim
# goes on from a SIGKILLed shim's count (docs/durability.md, full disk).
DROPPED = layout.DROPPED
_FULL = b" " + logformat.FULL + b" "
_PARTIAL = b" " + logformat.PARTIAL + b" "


def frame_records(stream, data, timestamp):
    """Split one chunk of STREAM output into CRI records (bytes, each ending in \\n)."""
    head = timestamp + b" " + stream
    lines = data.split(b"\n")
    records = [head + _FULL + line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        records.append(head + _PARTIAL + lines[-1] + b"\n")
    return records


def frame_chunk(stream, data, timestamp):
    """Return the CRI records of one chunk as a list of buffers (frame_records, joined)."""
    # One bytes.replace does the per-line work in C, and the buffers (views of
    # its result, no copies) go to writev: the shim's CPU per byte depends on both.
    head = timestamp + b" " + stream
    full_head = head + _FULL
    framed = data.replace(b"\n", b"\n" + full_head)
    # FRAMED is DATA with full_head after each newline; the last one heads the tail.
    # (replace returns DATA itself when it has no newline: spare a second scan.)
    tail = 0 if framed is data else framed.rfind(b"\n") + 1
    if not tail:  # no newline: one partial record
        return [head + _PARTIAL, data, b"\n"] if data else []
    view = memoryview(framed)
    parts = [full_head, view[:tail]]
    if tail + len(full_head) < len(framed):
        parts += [head + _PARTIAL, view[tail + len(full_head):], b"\n"]
    return parts


def last_rotation(path):
    """Return the highest N of the rotated logs PATH.N that exist (0 if none)."""
    names = os.listdir(os.path.dirname(path) or ".")
    base = os.path.basename(path)
    return max((n for n in (logformat.rotated_number(name, base) for name in names) if n),
               default=0)


def rotation_plan(path, number, max_files):
    """Return (new_name, expired_name) of rotation NUMBER, keeping MAX_FILES old files.

    Rotated files are numbered upwards (output.log.1 is the oldest) and are
    never renamed again: one rotation is one rename of output.log, so a reader
    that follows the log always finds the file written after its own at N+1.
    """
    expired = logformat.rotated_name(path, number - max_files) if number > max_files else None
    return logformat.rotated_name(path, number), expired


class LogWriter:
    """Append CRI records to one file; rotate at MAX_SIZE keeping MAX_FILES old files."""

    def __init__(self, path, log, max_size=None, max_files=1, dropped_path=None):
        """DROPPED_PATH: keep the drop count there too (a process directory's DROPPED)."""
        self.path = path
        self.max_size = max_size
        self.max_files = max_files
        self._log = log
        self._dropped_path = dropped_path
        self.dropped_bytes = self._load_dropped() if dropped_path else 0
        self._drops_logged = 0
        self._dropping = False
        self.fd = None
        self.size = 0
        self.inode = 0  # with size, where the next record goes (shim.contract.outkeep)
        self._stamp_secs = None
        self._stamp_head = b""
        self.rotations = last_rotation(path) if max_size is not None else 0
        # The log leaves the filesystem's last space to the contract (exitStatus,
        # an exec's directory, the manager's journal): shim/headroom.py.
        self.headroom = headroom.Headroom(os.path.dirname(path) or ".")
        self._open()

    def _load_dropped(self):
        """Return the count a previous shim of this log left, creating the file if none."""
        try:
            return layout.read_dropped(self._dropped_path)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as err:
            self._log("warning", f"read {self._dropped_path}: {err}; counting from 0")
            return 0
        self._store_dropped(0, os.O_CREAT)
        return 0

    def _store_dropped(self, count, flags=0):
        if not self._dropped_path:
            return
        try:
            fd = os.open(self._dropped_path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW | flags,
                         0o600)
            try:
                os.pwrite(fd, b"%-*d\n" % (layout.DROPPED_WIDTH, count), 0)
            finally:
                os.close(fd)
        except OSError:
            pass  # the count stays in memory (and in exitStatus)

    def _open(self):
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        self.fd = os.open(self.path, flags, 0o600)
        st = os.fstat(self.fd)
        self.size, self.inode = st.st_size, st.st_ino

    def write_chunk(self, stream, data, now_ns=None):
        """Frame DATA (output of STREAM, b"stdout" or b"stderr") and append it."""
        stamp = self._timestamp(layout.now_ns() if now_ns is None else now_ns)
        parts = frame_chunk(stream, data, stamp)
        if self.max_size is None or self.size + sum(map(len, parts)) <= self.max_size:
            self._append(parts)
        else:
            self._append_rotating(b"".join(parts))

    def _append_rotating(self, framed):
        """Append the records FRAMED, rotating before one would pass max_size."""
        # Every newline in framed output ends a record (a line's own newline ends
        # it), so the last one in the room left is where to cut.
        start = 0
        while start < len(framed):
            room = max(self.max_size - self.size, 0)
            if len(framed) - start <= room:
                end = len(framed)
            else:
                end = framed.rfind(b"\n", start, start + room) + 1
            if end <= start:  # not one whole record fits: rotate, then write the next
                if self.size:
                    self.rotate()
                end = framed.index(b"\n", start) + 1  # over max_size: in a file of its own
            self._append([memoryview(framed)[start:end]])
            start = end

    def _timestamp(self, ns):
        """Return format_time(NS) as bytes; strftime runs once per second, not per chunk."""
        secs, frac = divmod(ns, 1_000_000_000)
        if secs != self._stamp_secs:
            # "YYYY-MM-DDTHH:MM:SS" of format_time, without ".NNNNNNNNNZ" (11 bytes).
            self._stamp_secs = secs
            self._stamp_head = layout.format_time(secs * 1_000_000_000)[:-11].encode()
        return self._stamp_head + b".%09dZ" % frac

    def _append(self, parts):
        """Append PARTS (whole records) with writev; on failure cut back to the last record."""
        total = sum(map(len, parts))
        if not self.headroom.allows(total):
            self._drop(total, None, "the disk is nearly full")
            return
        if self.fd is None and not self._reopen():
            self._drop(total, None)
            return
        try:
            written = os.writev(self.fd, parts)
            if written < total:  # a short write: finish it the simple way
                view = memoryview(b"".join(parts))[written:]
                while view:
                    view = view[os.write(self.fd, view):]
        except OSError as err:
            self._drop(total, err)
            return
        self.size += total
        if self._dropping:
            # The drop record itself was likely lost (shim.log shares the full
            # disk): say so now that writes succeed again.
            self._dropping = False
            self._log("warning", f"write {self.path}: recovered after dropping output",
                      dropped_bytes=self.dropped_bytes)

    def _reopen(self):
        try:
            self._open()
        except OSError as err:
            self._log("error", f"open {self.path}: {err.strerror}")
            self.fd = None
        return self.fd is not None

    def _drop(self, count, err, why="log file not open"):
        if self.fd is not None:
            # Cut a half-written record off so the next record starts on a line.
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                self.size = os.fstat(self.fd).st_size
        self.dropped_bytes += count
        self._store_dropped(self.dropped_bytes)
        self._dropping = True
        # Log the first drop, then every 1000th, so a full disk does not flood shim.log.
        if self._drops_logged % 1000 == 0:
            reason = err.strerror if err else why
            self._log("error", f"write {self.path}: {reason}; output dropped",
                      dropped_bytes=self.dropped_bytes)
        self._drops_logged += 1

    def rotate(self):
        """Rename output.log to output.log.N+1, drop the oldest beyond max_files, start anew."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.rotations += 1
        new_name, expired = rotation_plan(self.path, self.rotations, self.max_files)
        try:
            os.rename(self.path, new_name)
            if expired:
                os.unlink(expired)
        except FileNotFoundError:
            pass
        self._reopen()

    def close(self):
        """Close the log; report dropped output."""
        if self.dropped_bytes:
            self._log("error", f"write {self.path}: dropped output",
                      dropped_bytes=self.dropped_bytes)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
