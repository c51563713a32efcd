"""The runc driver: create, start and undo the process through an OCI runtime (runc or alike).

Each runtime invocation runs to its end through the shim's loop and its one
reaper (spawn.py builds the argv); a terminal arrives on the console socket.
"""

import os

from shim import process_io, spawn
from shim.contract import layout, restore
from shim.signals import signal  # the C module (see signals.py)
from shim.spawn import StartError

RUNTIME_TIMEOUT = 120.0  # seconds a runtime invocation may take at start-up
CONSOLE_TIMEOUT = 10.0


class RuncDriver:
    """Drive one process through the runtime's create/run/exec, start and delete."""

    def __init__(self, cfg, process, loop, reaper, log, files, io):
        self.cfg = cfg
        self.process = process
        self.loop = loop
        self.reaper = reaper
        self.log = log
        self.files = files
        self.io = io
        self.pid = None  # read from the pid file once the runtime created the process
        self.name = os.path.basename(cfg.runtime_path)
        self.created = False  # a container exists that a failed start-up must delete
        self.started = False  # `runc run --detach` did create and start
        self.console = None
        self.oom = None

    def control_handlers(self):
        """Return the control commands this driver adds (none: runc starts what we start)."""
        return {}

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
        self.log("info", f"run {self.name} {verb}", pid=pid)
        if not self.loop.run_until(lambda: done, timeout):
            os.kill(pid, signal.SIGKILL)
            self.loop.run_until(lambda: done, 5.0)
            raise StartError(f"{self.name} {verb}: no answer after {timeout:.0f}s")
        if done[0] != 0:
            message = spawn.read_runtime_error(log_path, offset)
            raise StartError(spawn.describe_failure(self.name, verb, done[0], message),
                             spawn.exit_code_for_error(message))

    # -- create ------------------------------------------------------------

    def create(self):
        """`runc create` (init) or `runc exec -d` (exec); read the pid file into self.pid."""
        cfg = self.cfg
        socket_path = None
        if cfg.tty:
            from shim import console  # socket costs memory: only with a terminal
            self.console = console.ConsoleSocket(self.loop, cfg.proc_dir, self.log)
            socket_path = spawn.CONSOLE_SOCKET_ARG
            self.files.remember(self.console.path)
            container_fds = None
        else:
            container_fds = self.io.make_pipes()
        try:
            if cfg.exec:
                self._run_exec(socket_path, container_fds)
            else:
                self._run_create(socket_path, container_fds)
        finally:
            for fd in container_fds or ():
                os.close(fd)  # the container holds them now; EOF comes when it is done
        if cfg.tty:
            self._receive_terminal()
        self.pid = layout.read_int(self.files.join(layout.PID))

    def _run_create(self, socket_path, container_fds):
        image_path = restore.read_request(os.path.dirname(self.cfg.proc_dir))
        if image_path:  # shim/contract/restore.py: restored, it runs at once
            self.created = True
            self.run_runtime("restore", spawn.restore_argv(self.cfg, image_path, socket_path),
                             container_fds)
            self.started = True
            return
        # With a terminal the size is set on the PTY before the process runs:
        # that needs `create` and then `start`.
        run = self.cfg.start and not self.cfg.tty
        # A `run` that fails may leave a created container: undo it then.
        self.created = run
        self.run_runtime("run" if run else "create",
                         spawn.create_argv(self.cfg, socket_path, run), container_fds)
        self.created, self.started = True, run

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
            raise StartError(sock.error or f"receive terminal from {self.name}: "
                             f"nothing arrived on {sock.path}")
        size = self.io.initial_console_size()
        if size:
            process_io.set_winsize(sock.main_fd, *size)
        self.io.attach_terminal(sock.main_fd)

    def watch(self):
        """Watch the created process's cgroup for OOM kills."""
        import shim.oom as oom
        self.oom = oom.OomWatcher(self.loop, self.pid, self.log)

    # -- start, exit, undo -------------------------------------------------

    def start(self):
        """`runc start`, unless `runc exec -d` or `runc run -d` already started the process."""
        if not (self.cfg.exec or self.started):
            self.run_runtime("start", spawn.start_argv(self.cfg))

    def oom_killed(self):
        """Return True if the kernel's OOM killer killed a process of the container."""
        return self.oom.oom_killed() if self.oom else False

    def collect_after_exit(self):
        """Nothing to collect: the runtime reported everything at start-up."""

    def undo(self):
        """Delete the container a failed start-up created (`runc delete --force`)."""
        if not self.created:
            return
        try:
            self.run_runtime("delete", spawn.delete_argv(self.cfg), timeout=30.0)
        except StartError as err:
            self.log("error", f"undo create: {err}")

    def close(self):
        """Close the console socket and the OOM watcher."""
        if self.console is not None:
            self.console.close()
        if self.oom is not None:
            self.oom.close()
