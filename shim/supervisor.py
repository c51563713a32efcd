"""The shim's life: prepare the files, create and start the process, serve it, exit.

One thread, one selectors loop; every child (runtime invocations, the
container process, orphans) is reaped by one Reaper on SIGCHLD.
"""

import os

from shim import control, crilog, loop, reaper, signals, spawn, stdio
from shim import procdir
from shim.contract import layout
from shim.signals import signal  # the C module: `signal` costs ~0.8 MB (signals.py)
from shim.spawn import StartError

RUNTIME_TIMEOUT = 120.0  # seconds a runtime invocation may take at start-up
CONSOLE_TIMEOUT = 10.0
DRAIN_IDLE = 2.0  # after the exit, give up on output that stays open but silent this long
DEFAULT_CONSOLE_SIZE = (80, 24)


def set_winsize(fd, cols, rows):
    """Set the terminal size of the PTY master FD."""
    from shim import console
    console.set_winsize(fd, cols, rows)


_LIBC = []  # libc through ctypes, loaded once: the zygote shim loads it ahead of need


def load_libc():
    """Return libc through ctypes (the stdlib has no prctl)."""
    if not _LIBC:
        import ctypes
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def become_subreaper():
    """Make orphaned descendants (the container process) our children (PR_SET_CHILD_SUBREAPER)."""
    # Called before the re-exec into the lean interpreter: the setting survives execve.
    if load_libc().prctl(36, 1, 0, 0, 0) != 0:
        import ctypes
        err = ctypes.get_errno()
        raise OSError(err, f"prctl PR_SET_CHILD_SUBREAPER: {os.strerror(err)}")


def reader_gone(fd):
    """Return True if nobody holds the read end of the pipe FD any more."""
    import select
    poller = select.poll()
    poller.register(fd, 0)  # POLLERR is reported even when not asked for
    return any(events & select.POLLERR for _fd, events in poller.poll(0))


class Shim:
    """Own one container process: its runtime calls, stdio, log and exit status."""

    def __init__(self, cfg, process, log):
        self.cfg = cfg
        self.process = process
        self.log = log
        self.loop = loop.Loop(log)
        self.reaper = reaper.Reaper()
        self.files = procdir.ProcessDir(cfg)
        self.runtime_name = os.path.basename(cfg.runtime_path or "native")
        self.pid = None
        self.exit = None  # (wait status, exited_at_ns)
        self.runtime_created = False
        self.runtime_started = False  # `runc run --detach` did create and start
        self.output_log = None
        self.pumps = []
        self.fifos = {}
        self.stdin = None
        self.control = None
        self.console = None
        self.main_fd = None
        self.oom = None
        self.held = None  # the native child (held.HeldProcess)
        self.exit_fd = None

    # -- prepare ---------------------------------------------------------

    def prepare(self):
        """Create the process directory and every file the runtime needs."""
        files = self.files
        if self.cfg.sync_fd is not None and reader_gone(self.cfg.sync_fd):
            # Our manager died before we recorded ourselves: the manager that
            # replaces it may already have scanned (and removed) our directory.
            raise StartError("start-up abandoned: the process that started the shim is gone")
        files.make_dir()
        files.write_shim_pid()
        os.chdir(files.path)  # the console socket is bound by a short relative name
        self.log.open(files.join(layout.SHIM_LOG))
        files.remember(files.join(layout.SHIM_LOG))
        self.log("info", "shim starting", pid=os.getpid(), id=self.cfg.id,
                 runtime=self.cfg.runtime, exec=bool(self.cfg.exec))
        if not self.cfg.exec:
            files.write_container_json()
        files.write_process_json(self.process)
        self._make_fifos()
        signals.install_signals(self.loop, self.on_signal)
        files.remember(files.join(layout.OUTPUT_LOG))
        self.output_log = crilog.LogWriter(files.join(layout.OUTPUT_LOG), self.log,
                                           self.cfg.log_max_size, self.cfg.log_max_files or 1)
        files.remember(files.join(layout.PID))
        files.remember(files.join(layout.STARTTIME))
        files.remember(files.join(layout.RUNTIME_LOG))

    def _make_fifos(self):
        files = self.files
        names = [layout.STDOUT, layout.CONTROL, layout.EXIT_FIFO]
        if not self.cfg.tty:
            names.append(layout.STDERR)
        if self.cfg.stdin:
            names.append(layout.STDIN)
        for name in names:
            self.fifos[name] = files.make_fifo(name)
        # Held open (O_RDWR never blocks on a FIFO) until the shim exits: a reader
        # of `exit` sees hang-up when the shim is gone.
        self.exit_fd = os.open(self.fifos[layout.EXIT_FIFO],
                               os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        handlers = {"resize": self.resize, "close_stdin": self.close_stdin}
        if self.cfg.runtime == "native":
            handlers["start"] = self.start_held
        self.control = control.ControlFifo(self.loop, self.fifos[layout.CONTROL], handlers,
                                           self.log)

    def on_signal(self, signum):
        """Reap on SIGCHLD; log and ignore anything else."""
        if signum == signal.SIGCHLD:
            self.reaper.reap_children()
        else:
            self.log("info", f"ignored signal {signum}: signal the container, not its shim")

    # -- stdio -----------------------------------------------------------

    def _add_output(self, stream, fd, fifo_name):
        # Read only once the process is created and recorded (create()): with
        # `runc run -d` the container writes at once, and on a nearly full disk
        # its output must not take the blocks the pid and starttime files need.
        fifo = stdio.FifoWriter(self.loop, self.fifos[fifo_name], self.log)
        self.pumps.append(stdio.OutputPump(self.loop, stream, fd, self.output_log, fifo,
                                           start=False))

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
            self.stdin = stdio.StdinPump(self.loop, self.fifos[layout.STDIN], in_w, self.log)
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
            self.stdin = stdio.StdinPump(self.loop, self.fifos[layout.STDIN], main_fd, self.log,
                                         tty=True, owns_target=False)

    def initial_console_size(self):
        """Return --console-size, or None if the spec sets one, else 80x24 (never 0x0)."""
        if self.cfg.console_size:
            return self.cfg.console_size
        return None if self.process.get("consoleSize") else DEFAULT_CONSOLE_SIZE

    # -- runtime ---------------------------------------------------------

    def run_runtime(self, verb, argv, stdio_fds=None, timeout=RUNTIME_TIMEOUT):
        """Run one runtime command to its end through the loop; raise StartError on failure."""
        log_path = self.files.join(layout.RUNTIME_LOG)
        offset = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        dir_fd = os.open(self.files.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            pid = spawn.spawn_process(argv, *(stdio_fds or (devnull,) * 3), dir_fd=dir_fd)
        finally:
            os.close(devnull)
            os.close(dir_fd)
        done = []
        self.reaper.watch(pid, lambda _pid, status, _ns: done.append(status))
        self.log("info", f"run {self.runtime_name} {verb}", pid=pid)
        if not self.loop.run_until(lambda: done, timeout):
            os.kill(pid, signal.SIGKILL)
            self.loop.run_until(lambda: done, 5.0)
            raise StartError(f"{self.runtime_name} {verb}: no answer after {timeout:.0f}s")
        if done[0] != 0:
            message = spawn.read_runtime_error(log_path, offset)
            raise StartError(spawn.describe_failure(self.runtime_name, verb, done[0], message),
                             spawn.exit_code_for_error(message))

    def create(self):
        """Create the process (held for an init process without --start)."""
        if self.cfg.runtime == "native":
            self.create_native()
        else:
            self.create_runc()
        self.log("info", "process created", pid=self.pid)
        starttime = layout.proc_starttime(self.pid)
        if starttime is not None:
            self.files.write_file(layout.STARTTIME, b"%d\n" % starttime)
        for pump in self.pumps:
            pump.begin()
        self.reaper.watch(self.pid, self.on_exit)
        if self.cfg.runtime != "native" and self.exit is None:
            from shim import oom
            self.oom = oom.OomWatcher(self.loop, self.pid, self.log)

    def create_runc(self):
        """`runc create` (init) or `runc exec -d` (exec); read the pid file."""
        cfg = self.cfg
        socket_path = None
        if cfg.tty:
            from shim import console  # socket costs memory: only with a terminal
            self.console = console.ConsoleSocket(self.loop, cfg.proc_dir, self.log)
            socket_path = spawn.CONSOLE_SOCKET_ARG
            self.files.remember(self.console.path)
            container_fds = None
        else:
            container_fds = self.make_pipes()
        try:
            if cfg.exec:
                self._run_exec(socket_path, container_fds)
            else:
                # With a terminal the size is set on the PTY before the process
                # runs: that needs `create` and then `start`.
                run = cfg.start and not cfg.tty
                # A `run` that fails may leave a created container: undo it then.
                self.runtime_created = run
                self.run_runtime("run" if run else "create",
                                 spawn.create_argv(cfg, socket_path, run), container_fds)
                self.runtime_created, self.runtime_started = True, run
        finally:
            for fd in container_fds or ():
                os.close(fd)  # the container holds them now; EOF comes when it is done
        if cfg.tty:
            self._receive_terminal()
        self.pid = layout.read_int(self.files.join(layout.PID))

    def _run_exec(self, socket_path, container_fds):
        path = self.files.join(".runtime-process.json")
        layout.atomic_write(path, layout.dump_json(self.process), 0o600)
        try:
            self.run_runtime("exec", spawn.exec_argv(self.cfg, path, socket_path),
                             container_fds)
        finally:
            os.unlink(path)

    def _receive_terminal(self):
        sock = self.console
        self.loop.run_until(lambda: sock.main_fd is not None or sock.error, CONSOLE_TIMEOUT)
        sock.close()
        if sock.main_fd is None:
            raise StartError(sock.error or f"receive terminal from {self.runtime_name}: "
                             f"nothing arrived on {sock.path}")
        size = self.initial_console_size()
        if size:
            set_winsize(sock.main_fd, *size)
        self.attach_terminal(sock.main_fd)

    def create_native(self):
        """Fork the process on the host, held until start."""
        from shim import held, native
        worker_fd = None
        if self.cfg.tty:
            main_fd, worker_fd = os.openpty()
            set_winsize(main_fd, *(self.initial_console_size() or DEFAULT_CONSOLE_SIZE))
            self.attach_terminal(main_fd)
            container_fds = (worker_fd,)
        else:
            container_fds = self.make_pipes()
        try:
            self.pid, start_w, error_r = native.fork_native(
                self.process, self.cfg.bundle, container_fds if worker_fd is None else None,
                worker_fd)
        finally:
            for fd in container_fds:
                os.close(fd)
        self.held = held.HeldProcess(self.loop, self.log, self.pid, start_w, error_r)
        self.files.write_file(layout.PID, b"%d" % self.pid)

    # -- start -----------------------------------------------------------

    def start(self):
        """Start the created process (runc start, or the native start byte)."""
        if self.held is None:
            # `runc exec -d` and `runc run -d` already started the process.
            if not (self.cfg.exec or self.runtime_started):
                self.run_runtime("start", spawn.start_argv(self.cfg))
            return
        self.held.start()
        self.loop.run_until(lambda: self.held.result is not None)
        code, message = self.held.result
        if message:
            raise StartError(message, code)

    def start_held(self, argument=None):
        """Start the held native child (control line {"start": true})."""
        if self.held is None:
            self.log("warning", "start: there is no held process")
            return
        self.held.start(argument)

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

    # -- exit --------------------------------------------------------------

    def on_exit(self, _pid, status, exited_at_ns):
        """Remember the process's exit (the reaper calls this)."""
        self.exit = (status, exited_at_ns)

    def serve(self):
        """Run until the process exits; write exitStatus first, then drain and close."""
        try:
            self.loop.run_until(lambda: self.exit is not None)
        finally:
            if self.exit is not None:
                self.write_exit()
        if self.held is not None:
            self.held.collect_after_exit()
        self.drain_output()
        self.close()
        self.log("info", "shim exiting")
        return layout.exit_code_from_wait(self.exit[0])[0]

    def write_exit(self):
        """Write exitStatus (the commit point of the exit) exactly once."""
        status, exited_at_ns = self.exit
        code, sig = layout.exit_code_from_wait(status)
        oom_killed = self.oom.oom_killed() if self.oom else False
        try:
            layout.write_exit_status(self.cfg.proc_dir, code, sig, exited_at_ns, oom_killed)
        except OSError as err:
            # Without exitStatus the manager reports the process as unknown: honest,
            # and better than a shim that never exits.
            self.log("error", f"write {layout.EXIT_STATUS} in {self.cfg.proc_dir}: "
                     f"{err.strerror}", exit_code=code)
        self.log("info", "process exited", exit_code=code, signal=sig, oom_killed=oom_killed)

    def _progress(self):
        return (sum(p.bytes_read for p in self.pumps),
                sum(len(w.pending) for w in self._fifo_writers()))

    def _fifo_writers(self):
        return [p.fifo for p in self.pumps if p.fifo is not None]

    def _output_busy(self):
        return (any(p.open for p in self.pumps)
                or any(w.has_pending() for w in self._fifo_writers()))

    def drain_output(self):
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

    def close(self):
        """Close every fd the shim holds (exit FIFO last: its hang-up means we are gone)."""
        for pump in self.pumps:
            pump.close()
            if pump.fifo is not None:
                pump.fifo.disconnect()
        if self.stdin is not None:
            self.stdin.close()
        if self.control is not None:
            self.control.close()
        if self.console is not None:
            self.console.close()
        if self.oom is not None:
            self.oom.close()
        if self.main_fd is not None:
            os.close(self.main_fd)
            self.main_fd = None
        if self.held is not None:
            self.held.close()
        if self.output_log is not None:
            self.output_log.close()
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None

    def abort(self):
        """Undo a failed start-up: stop what we started, remove what we created."""
        if self.pid is not None and self.exit is None:
            self.reaper.watch(self.pid, self.on_exit)  # the failure may precede create's watch
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.loop.run_until(lambda: self.exit is not None, 5.0)
        if self.runtime_created:
            try:
                self.run_runtime("delete", spawn.delete_argv(self.cfg), timeout=30.0)
            except StartError as err:
                self.log("error", f"undo create: {err}")
        self.close()
        self.files.remove_created()
