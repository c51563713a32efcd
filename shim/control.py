"""The control FIFO: read its lines (shim.contract.controlline) and run them."""

import os

from shim import stdio
from shim.contract import controlline


class ControlFifo:
    """Read control lines from the FIFO and hand them to HANDLERS[command](argument)."""

    def __init__(self, loop, path, handlers, log):
        self.loop = loop
        self.handlers = handlers
        self._log = log
        self.buffer = b""
        self.read_fd, self.hold_fd = stdio.open_held_fifo(path)
        loop.add_reader(self.read_fd, self.read_control)

    def read_control(self):
        """Read what writers sent and run each complete line."""
        try:
            data = os.read(self.read_fd, 4096)
        except BlockingIOError:
            return
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        if len(self.buffer) > controlline.MAX_LINE:
            self._log("warning", "control line too long; discarded")
            self.buffer = b""
        for line in lines:
            if line.strip():
                self.run_line(line)

    def run_line(self, line):
        """Parse and run one control line; a bad line is logged, never fatal."""
        try:
            command, argument = controlline.decode(line)
        except ValueError as err:
            self._log("warning", f"control line {line[:200]!r} refused: {err}")
            return
        handler = self.handlers.get(command)
        if handler is None:
            self._log("warning", f"control command {command!r} not supported here")
            return
        self._log("info", f"control: {command}", argument=argument)
        handler(argument)

    def close(self):
        """Close the FIFO ends."""
        if self.read_fd is not None:
            self.loop.forget_fd(self.read_fd)
            os.close(self.read_fd)
            os.close(self.hold_fd)
            self.read_fd = self.hold_fd = None
