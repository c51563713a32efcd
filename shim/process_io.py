"""The process's stdio as the shim wires it: pipes or a terminal, pumped to the log and FIFOs.

Both drivers hand the container side of these pipes (or the PTY) to their
process; the shim side stays here: the output pumps, the stdin pump, the PTY
master for resizes, and the drain after the exit.
"""

import os

from shim import crilog, stdin, stdio
from shim.contract import layout

DRAIN_IDLE = 2.0  # after the exit, give up on output that stays open but silent this long
DEFAULT_CONSOLE_SIZE = (80, 24)


def set_winsize(fd, cols, rows):
    """Set the terminal size of the PTY master FD."""
    from shim import console
    console.set_winsize(fd, cols, rows)


class ProcessIo:
    """Own the shim's ends of the process's stdio, from the pipes to the output log."""

    def __init__(self, cfg, process, loop, log, fifos):
        self.cfg = cfg
        self.process = process
        self.loop = loop
        self.log = log
        self.fifos = fifos  # FIFO name -> path, filled by the shim's prepare
        self.output_log = None
        self.pumps = []
        self.stdin = None
        self.main_fd = None

    def open_output_log(self, path):
        """Open output.log (CRI format, rotated) at PATH."""
        self.output_log = crilog.LogWriter(
            path, self.log, self.cfg.log_max_size, self.cfg.log_max_files or 1,
            dropped_path=os.path.join(os.path.dirname(path), crilog.DROPPED))

    def _add_output(self, stream, fd, fifo_name):
        # Read only once the process is created and recorded (begin()): with
        # `runc run -d` the container writes at once, and on a nearly full disk
        # its output must not take the blocks the pid and starttime files need.
        fifo = stdio.FifoWriter(self.loop, self.fifos[fifo_name], self.log)
        # Kept (shim.contract.outkeep): the chunk in hand outlives a SIGKILL of the shim.
        keep_dir = os.path.dirname(self.fifos[fifo_name])
        self.pumps.append(stdio.OutputPump(self.loop, stream, fd, self.output_log, fifo,
                                           start=False, keep_dir=keep_dir))

    def make_pipes(self):
        """Create the container's stdio pipes; return the fds the container side gets."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        stdio.grow_pipe(out_r)
        stdio.grow_pipe(err_r)
        self._add_output(b"stdout", out_r, layout.STDOUT)
        self._add_output(b"stderr", err_r, layout.STDERR)
        if self.cfg.stdin:
            in_r, in_w = os.pipe()
            self.stdin = stdin.StdinPump(self.loop, self.fifos[layout.STDIN], in_w, self.log)
        else:
            in_r = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        return in_r, out_w, err_w

    def attach_terminal(self, main_fd):
        """Read output from (and feed stdin to) the PTY master."""
        self.main_fd = main_fd
        os.set_blocking(main_fd, False)
        self.pumps.append(stdio.OutputPump(
            self.loop, b"stdout", os.dup(main_fd), self.output_log,
            stdio.FifoWriter(self.loop, self.fifos[layout.STDOUT], self.log)))
        if self.cfg.stdin:
            self.stdin = stdin.StdinPump(self.loop, self.fifos[layout.STDIN], main_fd, self.log,
                                         tty=True, owns_target=False)

    def initial_console_size(self):
        """Return --console-size, or None if the spec sets one, else 80x24 (never 0x0)."""
        if self.cfg.console_size:
            return self.cfg.console_size
        return None if self.process.get("consoleSize") else DEFAULT_CONSOLE_SIZE

    def begin(self):
        """Start reading the output (it waited in the pipes until the process was recorded)."""
        for pump in self.pumps:
            pump.begin()

    # -- control -----------------------------------------------------------

    def resize(self, size):
        """Set the terminal size (control line {"resize": [cols, rows]})."""
        if self.main_fd is None:
            self.log("warning", "resize: the process has no terminal")
            return
        set_winsize(self.main_fd, *size)

    def close_stdin(self, _argument=None):
        """Give the process EOF on its stdin (control line {"close_stdin": true})."""
        if self.stdin is None:
            self.log("warning", "close_stdin: the process has no stdin FIFO")
            return
        self.stdin.close_stdin()

    # -- after the exit ------------------------------------------------------

    def _progress(self):
        return (sum(p.bytes_read for p in self.pumps),
                sum(len(w.pending) for w in self._fifo_writers()))

    def _fifo_writers(self):
        return [p.fifo for p in self.pumps if p.fifo is not None]

    def _output_busy(self):
        return (any(p.open for p in self.pumps)
                or any(w.has_pending() for w in self._fifo_writers()))

    def drain(self):
        """Read the output to EOF and hand queued bytes to attached readers."""
        # A descendant of an exec process may keep the pipe open forever: stop
        # once nothing moved for DRAIN_IDLE seconds.
        if self.stdin is not None:
            self.stdin.close()
        while self._output_busy():
            before = self._progress()
            if self.loop.run_until(lambda: not self._output_busy(), DRAIN_IDLE):
                break
            if self._progress() == before:
                self.log("warning", "output still open after the exit; not waiting for it")
                break

    def close_streams(self):
        """Close the pumps and the stdin pump (their readers see EOF)."""
        for pump in self.pumps:
            pump.close()
            if pump.fifo is not None:
                pump.fifo.disconnect()
        if self.stdin is not None:
            self.stdin.close()

    def close(self):
        """Close the PTY master and output.log."""
        if self.main_fd is not None:
            os.close(self.main_fd)
            self.main_fd = None
        if self.output_log is not None:
            self.output_log.close()
