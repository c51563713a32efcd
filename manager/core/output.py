"""Read and follow a process's output.log (shim.contract.logformat, with rotated files)."""

import asyncio
import collections
import os

from shim.contract import layout, logformat
from shim.contract.logformat import parse_record

READ_SIZE = 1 << 16


def split_lines(buffer):
    """Return (records, rest): parse the complete lines of BUFFER, keep the partial tail."""
    *lines, rest = buffer.split(b"\n")
    records = [r for r in map(parse_record, lines) if r is not None]
    return records, rest


def select_records(records, since_ns=None, tail=None):
    """Keep records at or after SINCE_NS, then only the last TAIL of them."""
    if since_ns is not None:
        records = [r for r in records if layout.parse_time(r.time) >= since_ns]
    if tail is not None:
        records = records[-tail:] if tail > 0 else []
    return records


def _open_existing(path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


class LogCursor:
    """A position in a process's log that survives rotation (it keeps its file open).

    The shim rotates by renaming output.log to output.log.N with N counting
    up, and never renames a rotated file again: the file written after
    output.log.N is output.log.N+1, or output.log if there is none yet.
    """

    def __init__(self, proc_dir):
        self.dir = proc_dir
        self.path = os.path.join(proc_dir, layout.OUTPUT_LOG)
        self.file = None
        self.rest = b""

    def open(self, at_end):
        """Open output.log (at its end, or at its start); False if it does not exist yet."""
        self.file = _open_existing(self.path)
        if self.file is not None and at_end:
            self.file.seek(0, os.SEEK_END)
        return self.file is not None

    def open_oldest(self):
        """Open the oldest log file (rotated ones first); False if there is none yet."""
        for path in logformat.rotated_paths(self.dir) + [self.path]:
            self.file = _open_existing(path)  # the oldest may expire meanwhile: try the next
            if self.file is not None:
                return True
        return False

    def read_new(self, limit=1 << 20):
        """Return (records, at_end) from at most LIMIT bytes, following rotation."""
        records = []
        drained = False
        while limit > 0:
            if self.file is None and not self.open_oldest():
                return records, True
            data = self.file.read(min(READ_SIZE, limit))
            if data:
                limit -= len(data)
                found, self.rest = split_lines(self.rest + data)
                records += found
                continue
            if not self._rotated_away():
                return records, True
            # Bytes written before the rename may have landed after our EOF:
            # read once more after seeing the rotation; then the file is done.
            if not drained:
                drained = True
                continue
            if not self._open_successor():
                return records, True
            drained = False
        return records, False

    def _rotated_away(self):
        """Return True if our file is no longer output.log (the shim rotated it)."""
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            return True
        return current != os.fstat(self.file.fileno()).st_ino

    def _number_of_mine(self):
        """Return N of the rotated file output.log.N that is our file, or None if it expired."""
        mine = os.fstat(self.file.fileno()).st_ino
        with os.scandir(self.dir) as entries:
            for entry in entries:
                number = logformat.rotated_number(entry.name)
                if number is not None and entry.inode() == mine:
                    return number
        return None

    def _open_successor(self):
        """Switch to the file written after ours; False if it does not exist yet."""
        number = self._number_of_mine()
        if number is None:  # ours fell out of the kept files: go on with the oldest left
            self.file.close()
            self.file, self.rest = None, b""
            return self.open_oldest()
        following = logformat.rotated_name(self.path, number + 1)
        new_file = _open_existing(following) or _open_existing(self.path)
        if new_file is None:
            return False
        if new_file.name == self.path:
            # output.log may have been rotated to N+1 between the two opens: then
            # N+1 (not the newer output.log) is the file to read next.
            again = _open_existing(following)
            if again is not None:
                new_file.close()
                new_file = again
        self.file.close()
        self.file, self.rest = new_file, b""
        return True

    def close(self):
        """Close the open log file."""
        if self.file is not None:
            self.file.close()
            self.file = None


async def follow_log(proc_dir, from_start, is_complete, wait_change, since_ns=None, tail=None):
    """Yield records (history first when FROM_START) until IS_COMPLETE() and the log is drained."""
    cursor = LogCursor(proc_dir)
    window = collections.deque(maxlen=tail) if tail is not None and from_start else None
    try:
        if from_start:
            cursor.open_oldest()
        else:
            cursor.open(at_end=True)
        while True:
            # Check completion before reading: what was written before the shim
            # exited is then surely read by the read below.
            complete = is_complete()
            records, at_end = cursor.read_new()
            records = select_records(records, since_ns)
            if window is not None:
                # Only the last TAIL records of the history: keep a bounded window.
                window.extend(records)
                records = []
                if at_end:
                    records, window = list(window), None
            for record in records:
                yield record
            if not at_end:
                await asyncio.sleep(0)  # a long history must not hold the loop
            elif complete:
                return
            else:
                await wait_change()
    finally:
        cursor.close()


async def process_records(changes, proc, follow, from_start=True, since_ns=None, tail=None):
    """Yield the log records of PROC; with FOLLOW, until its shim is gone and the log drained."""
    if not follow:
        async for record in follow_log(proc.dir, True, lambda: True, None, since_ns, tail):
            yield record
        return
    event = changes.subscribe(proc.dir)
    try:
        async for record in follow_log(proc.dir, from_start,
                                       lambda: proc.finished and proc.shim_gone,
                                       lambda: changes.wait(event), since_ns, tail):
            yield record
    finally:
        changes.unsubscribe(proc.dir)
