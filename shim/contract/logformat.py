"""output.log's format (the CRI log format) and the names of its rotated files.

A record is `TIMESTAMP STREAM TAG TEXT\\n`: TIMESTAMP as layout.format_time
writes it, STREAM `stdout` or `stderr`, TAG `F` for a record that ends a line
of output (its newline is the record's) or `P` for a partial line (a chunk
that did not end with a newline). The shim writes records (shim/crilog.py),
the manager reads and follows them (manager/core/output.py).

Rotation renames output.log to output.log.N, N counting up from 1, and never
renames a rotated file again: the file written after output.log.N is
output.log.N+1, or output.log itself.
"""

import os

from shim.contract import layout

STREAMS = (b"stdout", b"stderr")
FULL = b"F"
PARTIAL = b"P"


class Record:
    """One CRI log record: time (RFC 3339), stream, partial flag and bytes."""

    __slots__ = ("time", "stream", "partial", "data")

    def __init__(self, time, stream, partial, data):
        self.time = time
        self.stream = stream
        self.partial = partial
        self.data = data

    def payload(self):
        """Return the bytes the process wrote (a full record ends with a newline)."""
        return self.data if self.partial else self.data + b"\n"


def parse_record(line):
    """Parse one log line (without its newline) `TIME STREAM F|P TEXT`; None if malformed."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    time, stream, tag = parts[0], parts[1], parts[2]
    if stream not in STREAMS or tag not in (FULL, PARTIAL):
        return None
    try:
        text = time.decode("ascii")
        layout.parse_time(text)
    except ValueError:
        return None
    data = parts[3] if len(parts) == 4 else b""
    return Record(text, stream.decode(), tag == PARTIAL, data)


def rotated_name(path, number):
    """Return the name of rotated file NUMBER of the log PATH (PATH.NUMBER)."""
    return f"{path}.{number}"


def rotated_number(name, base=layout.OUTPUT_LOG):
    """Return N if NAME (a basename) is the rotated log BASE.N, else None."""
    prefix = base + "."
    suffix = name[len(prefix):]
    return int(suffix) if name.startswith(prefix) and suffix.isdigit() else None


def rotated_paths(proc_dir):
    """Return the rotated logs, oldest first (output.log.1, output.log.2, ...)."""
    numbered = []
    try:
        names = os.listdir(proc_dir)
    except FileNotFoundError:
        return []
    for name in names:
        number = rotated_number(name)
        if number is not None:
            numbered.append((number, os.path.join(proc_dir, name)))
    return [path for _n, path in sorted(numbered)]
