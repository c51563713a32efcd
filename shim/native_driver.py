"""The native driver: fork the process on the host, held until start (native.py's child side).

The shim's side of native.py's 3 steps: it keeps the start pipe and the
error pipe, writes the start byte, and reads the exec outcome.
"""

import os

from shim import native, process_io
from shim.contract import layout
from shim.spawn import StartError


class HeldProcess:
    """A forked native child waiting for its start byte."""

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


class NativeDriver:
    """Drive one process forked by the shim itself: no runtime, no container."""

    def __init__(self, cfg, process, loop, reaper, log, files, io):
        self.cfg = cfg
        self.process = process
        self.loop = loop
        self.reaper = reaper
        self.log = log
        self.files = files
        self.io = io
        self.pid = None  # set as soon as the child is forked: a failed start-up kills it
        self.held = None

    def control_handlers(self):
        """Return the control commands this driver adds: start the held child."""
        return {"start": self.start_held}

    def create(self):
        """Fork the process on the host, held until start; set self.pid."""
        worker_fd = None
        if self.cfg.tty:
            main_fd, worker_fd = os.openpty()
            size = self.io.initial_console_size() or process_io.DEFAULT_CONSOLE_SIZE
            process_io.set_winsize(main_fd, *size)
            self.io.attach_terminal(main_fd)
            container_fds = (worker_fd,)
        else:
            container_fds = self.io.make_pipes()
        try:
            self.pid, start_w, error_r = native.fork_native(
                self.process, self.cfg.bundle, container_fds if worker_fd is None else None,
                worker_fd)
        finally:
            for fd in container_fds:
                os.close(fd)
        self.held = HeldProcess(self.loop, self.log, self.pid, start_w, error_r)
        self.files.write_file(layout.PID, b"%d" % self.pid)

    def watch(self):
        """Nothing to watch: the process has no cgroup of its own."""

    def start(self):
        """Write the start byte; raise StartError if the exec failed."""
        self.held.start()
        self.loop.run_until(lambda: self.held.result is not None)
        code, message = self.held.result
        if message:
            raise StartError(message, code)

    def start_held(self, argument=None):
        """Start the held child (control line {"start": true})."""
        if self.held is None:
            self.log("warning", "start: there is no held process")
            return
        self.held.start(argument)

    def oom_killed(self):
        """Return False: nothing here reports OOM kills of a host process."""
        return False

    def collect_after_exit(self):
        """Read the exec outcome to its end (the child is gone)."""
        if self.held is not None:
            self.held.collect_after_exit()

    def undo(self):
        """Nothing to undo beyond the kill: no runtime state exists."""

    def close(self):
        """Close the start and error pipes."""
        if self.held is not None:
            self.held.close()
