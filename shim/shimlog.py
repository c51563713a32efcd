"""The shim's own diagnostics: JSON lines in shim.log (no `logging`: it costs ~1.4 MB)."""

import os
import sys

from shim.contract import layout


class ShimLog:
    """Append {"time", "level", "msg", ...} lines to shim.log, and to stderr in the foreground."""

    def __init__(self, to_stderr=False):
        self.fd = None
        self.to_stderr = to_stderr
        self.failed_writes = 0

    def open(self, path):
        """Start writing to PATH (appending)."""
        # O_NOFOLLOW: a symlink planted in the state dir must not redirect our writes.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        self.fd = os.open(path, flags, 0o600)

    def __call__(self, level, msg, **fields):
        """Write one record; a failing write (disk full) is counted, never raised."""
        record = {"time": layout.format_time(layout.now_ns()), "level": level, "msg": msg}
        record.update(fields)
        line = layout.dump_json(record)
        if self.to_stderr:
            sys.stderr.write(line.decode())
            sys.stderr.flush()
        if self.fd is None:
            return
        try:
            os.write(self.fd, line)
        except OSError:
            self.failed_writes += 1

    def close(self):
        """Close shim.log."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
