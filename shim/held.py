"""The shim's side of a held native child: release it, learn whether its exec worked."""

import os

from shim import native


class HeldProcess:
    """A forked native child waiting for its start byte (see native.py's 3 steps)."""

    def __init__(self, loop, log, pid, start_w, error_r):
        self.loop = loop
        self.pid = pid
        self._log = log
        self.start_w = start_w
        self.error_r = error_r
        self.chunks = []
        self.result = None  # (exit code, message or None) once the exec outcome is known

    def start(self, _argument=None):
        """Release the child; its exec error (if any) arrives on the error pipe."""
        if self.start_w is None:
            self._log("warning", "start: the process was already started")
            return
        try:
            os.write(self.start_w, b"\x01")
        except BrokenPipeError:
            self._log("warning", "start: the held process is gone")
        os.close(self.start_w)
        self.start_w = None
        self.loop.add_reader(self.error_r, self.read_error)

    def read_error(self):
        """Collect the exec error; EOF ends it (EOF alone: the exec worked)."""
        data = os.read(self.error_r, 4096)
        if data:
            self.chunks.append(data)
            return
        self._close_error_pipe()
        self.result = self._outcome(b"".join(self.chunks))

    def _outcome(self, data):
        if not data:
            self._log("info", "process started")
            return 0, None
        code, message = native.read_exec_error(data)
        self._log("error", f"start process: {message}", exit_code=code)
        return code, message

    def collect_after_exit(self):
        """Read the whole exec outcome once the child is gone (EOF is certain then)."""
        if self.start_w is None and self.error_r is not None:
            os.set_blocking(self.error_r, True)
            while self.error_r is not None:
                self.read_error()

    def _close_error_pipe(self):
        if self.error_r is not None:
            self.loop.forget_fd(self.error_r)
            os.close(self.error_r)
            self.error_r = None

    def close(self):
        """Close both pipes (a child still held then sees EOF and exits)."""
        if self.start_w is not None:
            os.close(self.start_w)
            self.start_w = None
        self._close_error_pipe()
