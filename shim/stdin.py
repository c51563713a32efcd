"""Stdin: the stdin FIFO's bytes into the container's pipe or terminal.

Input is taken from the FIFO only while fewer than PENDING_MAX bytes wait for
the container (shim.stdio's limits): a container that does not read its stdin
holds back the writer, never the shim's memory.
"""

import os

from shim.contract import layout
from shim.stdio import CHUNK, PENDING_MAX, open_held_fifo


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
        self.fifo_path = fifo_path
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
        # Said first: a manager that (re)collects this process's fds then keeps
        # no copy of the pipe's write end, which would hold back the EOF.
        try:
            layout.atomic_write(os.path.join(os.path.dirname(self.fifo_path),
                                             layout.STDIN_CLOSED), b"", durable=False)
        except OSError as err:
            self._log("warning", f"write {layout.STDIN_CLOSED}: {err.strerror}")
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
