"""The event journal: every published event, numbered, appended to ROOT/events.log.

One line of JSON per event, written with one write(2) on an O_APPEND file: a
manager killed at any instant leaves whole lines (the page cache keeps them).
The numbering (`seq`) goes on across restarts, so a subscriber that remembers
the last seq it saw resumes with `?after=SEQ` and gets every event once.
The file is not fsynced: after a power loss the tail may be lost and events
are published again (at least once); docs/api.md says so.

A full disk must not cost the journal its lines (a restarted manager would
number from the last line kept and give a seq twice): RESERVE bytes past the
end are kept allocated (fallocate(2), FALLOC_FL_KEEP_SIZE), renewed as they
are used; appends into them need no new space.
"""

import os

import orjson

from shim.contract import layout

JOURNAL = layout.EVENTS_LOG
MAX_SIZE = 1 << 20  # then events.log becomes events.log.1 (the one before is dropped)
TAIL = 64 << 10  # how much of the end is read to find the last seq
RESERVE = 256 << 10  # kept allocated past the end (~1,000 events on a full disk)
FALLOC_FL_KEEP_SIZE = 1
_FALLOCATE = []
# The events a restarted manager must not publish twice (docs/api.md).
ONCE = ("exit", "oom", "shim-lost")


def event_key(event):
    """Return what identifies a process's end event across restarts."""
    kind = event.get("type")
    # An exit's time is the shim's (exitStatus); a shim-lost event's is the manager's.
    when = None if kind == "shim-lost" else event.get("time")
    return kind, event.get("id"), event.get("exec_id"), when


def parse_lines(data):
    """Yield the events of DATA, skipping a torn or foreign line."""
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and isinstance(event.get("seq"), int):
            yield event


def reserve(fd, offset, length):
    """Allocate LENGTH bytes of FD from OFFSET without changing its size; False if refused."""
    if not _FALLOCATE:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        _FALLOCATE.append(libc.fallocate)
    return _FALLOCATE[0](fd, FALLOC_FL_KEEP_SIZE, offset, length) == 0


def read_events(path, limit=None):
    """Return the events of the journal file PATH (its last LIMIT bytes); [] if absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return []
    try:
        size = os.fstat(fd).st_size
        start = max(0, size - limit) if limit else 0
        data = os.pread(fd, size - start, start)
    finally:
        os.close(fd)
    if start:
        data = data[data.find(b"\n") + 1:]  # the first line may be cut
    return list(parse_lines(data))


class Journal:
    """Append events to ROOT/events.log and read them back."""

    def __init__(self, root):
        self.path = os.path.join(root, JOURNAL)
        self.old_path = self.path + ".1"
        self.fd = None
        self.size = 0
        self.reserved = 0  # the end of the space kept allocated
        self.next_seq = 1
        self._once = None  # keys of ONCE events, loaded when first asked

    def open(self):
        """Open for appending; number on from the last whole line."""
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC |
                          os.O_NOFOLLOW, 0o600)
        self.size = os.fstat(self.fd).st_size
        last = read_events(self.path, TAIL) or read_events(self.old_path, TAIL)
        self.next_seq = last[-1]["seq"] + 1 if last else 1
        if self.size and not self._ends_with_newline():
            os.write(self.fd, b"\n")  # a torn last line (power loss) stays alone
            self.size += 1
        self._renew()

    def _renew(self):
        """Keep RESERVE bytes allocated past the end (best effort: a full disk refuses)."""
        if self.reserved - self.size < RESERVE // 2 and reserve(self.fd, self.size, RESERVE):
            self.reserved = self.size + RESERVE

    def _ends_with_newline(self):
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            return os.pread(fd, 1, self.size - 1) == b"\n"
        finally:
            os.close(fd)

    def append(self, event):
        """Number EVENT (it gets "seq") and append it as one line."""
        event["seq"] = self.next_seq
        self.next_seq += 1
        line = orjson.dumps(event) + b"\n"
        try:
            os.write(self.fd, line)
        except OSError as err:
            raise JournalError(f"append to {self.path}: {err.strerror}") from err
        if self._once is not None and event["type"] in ONCE:
            self._once.add(event_key(event))
        self.size += len(line)
        if self.size > MAX_SIZE:
            self._rotate()
        self._renew()

    def _rotate(self):
        os.ftruncate(self.fd, self.size)  # gives back the old file's reserve
        os.rename(self.path, self.old_path)
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC |
                          os.O_NOFOLLOW, 0o600)
        self.size = self.reserved = 0

    def events(self):
        """Return every event still kept, oldest first."""
        return read_events(self.old_path) + read_events(self.path)

    def has(self, event):
        """Return True if an exit, oom or shim-lost event like EVENT was journaled."""
        if self._once is None:
            self._once = {event_key(e) for e in self.events() if e.get("type") in ONCE}
        return event_key(event) in self._once

    def close(self):
        """Close the file."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class JournalError(Exception):
    """The journal could not be written."""

