"""The CRI container log format as kubelet reads it: `RFC3339Nano STREAM P|F CONTENT`.

A line longer than the runtime's limit is cut into P (partial) entries ended by
an F (full) one; kubelet joins them back. reassemble() does what kubelet's log
reader does, per stream.
"""

import datetime
import re

LINE = re.compile(rb"^(\S+) (stdout|stderr) ([PF]) (.*)$", re.S)
# RFC3339Nano as Go writes it: up to 9 fractional digits, trailing zeros dropped.
TIMESTAMP = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


def parse_timestamp(text):
    """Return nanoseconds since the epoch of an RFC3339Nano TEXT (bytes)."""
    match = TIMESTAMP.match(text)
    if not match:
        raise ValueError(f"not an RFC3339Nano timestamp: {text!r}")
    zone = match.group(3).decode().replace("Z", "+00:00")
    whole = datetime.datetime.fromisoformat(match.group(1).decode() + zone)
    fraction = (match.group(2) or b".")[1:].ljust(9, b"0")
    return int(whole.timestamp()) * 10**9 + int(fraction)


def parse(data):
    """Return [(ns, stream, tag, content)] of DATA's complete lines; fail on a malformed one.

    Every entry ends with a newline; a last piece without one is a write in
    progress (a reader polling the file may see it) and is left out.
    """
    entries = []
    for raw in data.split(b"\n")[:-1]:
        match = LINE.match(raw)
        if not match:
            raise ValueError(f"not a CRI log line: {raw[:120]!r}")
        stamp, stream, tag, content = match.groups()
        entries.append((parse_timestamp(stamp), stream.decode(), tag.decode(), content))
    return entries


def reassemble(entries):
    """Return {stream: [line, ...]}: partial entries joined to the full one that ends them."""
    lines, pending = {}, {}
    for _, stream, tag, content in entries:
        pending[stream] = pending.get(stream, b"") + content
        if tag == "F":
            lines.setdefault(stream, []).append(pending.pop(stream))
    for stream, rest in pending.items():
        lines.setdefault(stream, []).append(rest)
    return lines


def read(path):
    """Return the parsed entries of the log file at PATH."""
    with open(path, "rb") as f:
        return parse(f.read())
