"""The shim's life: prepare the files, create and start the process, serve it, exit.

One thread, one selectors loop; every child (runtime invocations, the
container process, orphans) is reaped by one Reaper on SIGCHLD. How the
process is created and started is its driver's (runc_driver.py,
native_driver.py), chosen once by __main__; its stdio is process_io.py's.
"""

import os

from shim import control, crilog, loop, process_io, procdir, protect, reaper, signals
from shim.contract import exitreserve, fdpass, layout, outkeep
from shim.signals import signal  # the C module: `signal` costs ~0.8 MB (signals.py)
from shim.spawn import StartError

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
    """Own one container process: its files, stdio, log and exit status; DRIVER runs it."""

    def __init__(self, cfg, process, log, driver_class):
        self.cfg = cfg
        self.log = log
        self.loop = loop.Loop(log)
        self.reaper = reaper.Reaper()
        self.files = procdir.ProcessDir(cfg)
        self.fifos = {}
        self.io = process_io.ProcessIo(cfg, process, self.loop, log, self.fifos)
        self.driver = driver_class(cfg, process, self.loop, self.reaper, log, self.files,
                                   self.io)
        self.process = process
        self.exit = None  # (wait status, exited_at_ns)
        self.control = None
        self.exit_fd = None

    @property
    def pid(self):
        """Return the process's pid (None until the driver created it)."""
        return self.driver.pid

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
        # The runtime does not need it: written in the loop's first turn after the
        # runtime's spawn, while it runs; create() waits for it (run_deferred).
        self.loop.defer(lambda: files.write_process_json(self.process))
        self._reserve_exit_status()
        self._make_fifos()  # the output pumps and stdin's are built on them before the spawn
        signals.install_signals(self.loop, self.on_signal)
        files.remember(files.join(layout.OUTPUT_LOG))
        for name in [crilog.DROPPED] + [n(s) for s in outkeep.STREAMS
                                        for n in (outkeep.record_name, outkeep.fifo_name)]:
            files.remember(files.join(name))  # made by the output's pumps (KeptPipe)
        self.io.open_output_log(files.join(layout.OUTPUT_LOG))
        files.remember(files.join(layout.PID))
        files.remember(files.join(layout.STARTTIME))
        files.remember(files.join(layout.RUNTIME_LOG))

    def _reserve_exit_status(self):
        """Take exitStatus's blocks and make runtime.log (0600) before the runtime runs."""
        files = self.files
        try:
            # On a full disk the exit status must still be written (issue 14).
            files.remember(exitreserve.make_reserve(files.path))
            runtime_log = files.join(layout.RUNTIME_LOG)
            os.close(os.open(runtime_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND |
                             os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
        except OSError as err:
            raise StartError(f"reserve {layout.EXIT_STATUS} in {files.path}: "
                             f"{err.strerror}") from err

    def _make_fifos(self):
        names = [layout.STDOUT, layout.CONTROL, layout.EXIT_FIFO]
        if not self.cfg.tty:
            names.append(layout.STDERR)
        if self.cfg.stdin:
            names.append(layout.STDIN)
        for name in names:
            self.fifos[name] = self.files.make_fifo(name)
        # Held open (O_RDWR never blocks on a FIFO) until the shim exits: a reader
        # of `exit` sees hang-up when the shim is gone.
        self.exit_fd = os.open(self.fifos[layout.EXIT_FIFO],
                               os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        handlers = {"resize": self.io.resize, "close_stdin": self.io.close_stdin,
                    **self.driver.control_handlers()}
        self.control = control.ControlFifo(self.loop, self.fifos[layout.CONTROL], handlers,
                                           self.log)

    def on_signal(self, signum):
        """Reap on SIGCHLD; log and ignore anything else."""
        if signum == signal.SIGCHLD:
            self.reaper.reap_children()
        else:
            self.log("info", f"ignored signal {signum}: signal the container, not its shim")

    # -- create, start -----------------------------------------------------

    def create(self):
        """Create the process (held for an init process without --start); record it."""
        self.driver.create()
        self.loop.run_deferred()  # what prepare() left for the runtime's run, done or raised
        self.log("info", "process created", pid=self.pid)
        try:
            os.chmod(self.files.join(layout.PID), 0o600)  # runc writes it 0644
        except FileNotFoundError:
            pass
        # After the create: the process keeps the score it was created with.
        protect.lower_oom_score(self.log)
        starttime = layout.proc_starttime(self.pid)
        if starttime is not None:
            self.files.write_file(layout.STARTTIME, b"%d\n" % starttime)
        self.io.begin()
        if self.io.main_fd is not None:
            # A PTY master cannot be found from the outside (the process's end is
            # in its own devpts): recorded for the manager's fd store (fdpass).
            fdpass.write_record(self.files.path, {"terminal": self.io.main_fd})
            self.files.remember(self.files.join(fdpass.FDS_JSON))
        self.reaper.watch(self.pid, self.on_exit)
        if self.exit is None:
            self.driver.watch()

    def start(self):
        """Start the created process."""
        self.driver.start()

    # -- serve, record the exit, drain ---------------------------------------

    def on_exit(self, _pid, status, exited_at_ns):
        """Remember the process's exit (the reaper calls this)."""
        self.exit = (status, exited_at_ns)

    def serve(self):
        """Run the loop until the process exits."""
        self.loop.run_until(lambda: self.exit is not None)

    def record_exit(self):
        """Write exitStatus (the commit point of the exit) exactly once, if the process exited."""
        if self.exit is None:
            return
        status, exited_at_ns = self.exit
        code, sig = layout.exit_code_from_wait(status)
        oom_killed = self.driver.oom_killed()
        dropped = self.io.output_log.dropped_bytes if self.io.output_log else 0
        extra = {"dropped_bytes": dropped} if dropped else {}
        try:
            # Through the reserve made at start-up: written even on a full disk.
            exitreserve.commit_exit(self.cfg.proc_dir, exitreserve.exit_record(
                code, sig, exited_at_ns, oom_killed, **extra))
        except OSError as err:
            # Without exitStatus the manager reports the process as unknown: honest,
            # and better than a shim that never exits.
            self.log("error", f"write {layout.EXIT_STATUS} in {self.cfg.proc_dir}: "
                     f"{err.strerror}", exit_code=code)
        self.log("info", "process exited", exit_code=code, signal=sig, oom_killed=oom_killed)

    def drain(self):
        """Collect what the driver still has to say, then read the output to its end."""
        self.driver.collect_after_exit()
        self.io.drain()

    def exit_code(self):
        """Return the process's exit code (128+N for death by signal N)."""
        return layout.exit_code_from_wait(self.exit[0])[0]

    def close(self):
        """Close every fd the shim holds (exit FIFO last: its hang-up means we are gone)."""
        self.io.close_streams()
        if self.control is not None:
            self.control.close()
        self.driver.close()
        self.io.close()
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
        self.driver.undo()
        self.close()
        self.files.remove_created()
