"""`tether daemon`: the manager, one asyncio loop, until SIGTERM or SIGINT."""

import asyncio
import fcntl
import grp
import logging
import os
import signal
import stat
import sys

from shim.contract import layout

from manager.server import routes, http, jsonlog, metrics, sdnotify
from manager.core import adopter, events, journal, model, rescue, service, tracker, watch
from manager.spawn import runtime, helper_client

log = logging.getLogger("tether.daemon")

PID_FILE = layout.MANAGER_PID
SOCKET = layout.SOCKET
LOG_FILE = layout.MANAGER_LOG


class StartError(Exception):
    """The manager cannot start (one clear line for the user)."""


def prepare_root(root):
    """Create ROOT (0711) and ROOT/containers (0711); refuse a root another user owns."""
    for path in (root, layout.containers_dir(root)):
        try:
            os.makedirs(path, layout.ROOT_MODE, exist_ok=True)
            check_owner(path)
            os.chmod(path, layout.ROOT_MODE)
        except OSError as err:
            raise StartError(f"create state dir {path}: {err.strerror}") from err


def check_owner(path):
    """Raise StartError unless PATH is a directory (not a symlink) owned by us."""
    # Serving another user's root would let them plant files we then trust.
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise StartError(f"use state dir {path}: not a directory (symlinks are refused)")
    if st.st_uid != os.geteuid():
        raise StartError(f"use state dir {path}: owned by uid {st.st_uid}, not by us "
                         f"(uid {os.geteuid()})")


def lock_root(root):
    """Hold ROOT/tether.pid with flock and write our pid into it; return its fd."""
    path = os.path.join(root, PID_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise StartError(f"open pid file {path}: {err.strerror}") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StartError(f"another manager (pid {holder}) is running on {root}") from None
    write_pid(fd)
    return fd


def write_pid(fd):
    """Replace the content of the pid file FD with our pid."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def listen_socket_path(path, group):
    """Remove a stale socket at PATH (we hold the root's lock, so it is stale); return the gid."""
    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise StartError(f"listen on {path}: exists and is not a socket")
        os.unlink(path)
    except FileNotFoundError:
        pass
    if group is not None:
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            raise StartError(f"socket group {group}: no such group") from None
    return None


class Manager:
    """The running manager: registry, watches, service and API server."""

    def __init__(self, root, socket_path, runtime_root, socket_group=None):
        self.root = root
        self.socket_path = socket_path
        self.socket_group = socket_group
        self.registry = model.Registry()
        self.journal = journal.Journal(root)
        self.events = events.EventBus(self.journal)
        self.changes = watch.LogChanges()
        # Re-adoption of processes whose shim died (docs/durability.md); off
        # with TETHER_READOPT=0 (a shim's death then leaves the process unknown).
        self.tracker = (rescue.RescuingTracker(self.registry, self.events, self.changes,
                                               adopter.Adopter())
                        if rescue.enabled() else
                        tracker.Tracker(self.registry, self.events, self.changes))
        self.spawn = runtime.Spawn(runtime_root)
        self.service = service.Service(root, self.spawn, self.registry, self.events,
                                       self.tracker)
        self.exits = watch.ExitWatch(layout.containers_dir(root), self.tracker.on_exit_status,
                                     self.tracker.on_overflow)
        self.stats = metrics.Metrics()
        self.spawner = helper_client.Spawner()
        self._spawner_start = None
        self.server = http.Server(routes.Api(self.service, self.events, self.changes,
                                          self.stats).handle)

    async def start(self):
        """Watch, scan, reattach, then listen (in this order: nothing is missed)."""
        try:
            self.journal.open()
        except OSError as err:
            raise StartError(f"open event journal {self.journal.path}: {err.strerror}") from err
        self.exits.start()
        self.changes.start()
        self.tracker.reattach(layout.containers_dir(self.root))
        await self.service.refresh_all(self.registry.sorted_containers())
        self.stats.reattached = len(list(self.registry.all_processes()))
        log.info("reattached %d containers", len(self.registry.containers))
        self.spawn.helper = self.spawner
        await self._listen()
        self.tracker.serving()
        # Started once we serve: not in the way of a restart's reattach (the
        # first runtime command would start it, too).
        self._spawner_start = asyncio.ensure_future(self._start_spawner())

    async def _start_spawner(self):
        try:
            await self.spawner.ensure_started()
        except helper_client.SpawnerGone as err:
            log.warning("%s (runtime commands run directly)", err)

    async def _listen(self):
        gid = listen_socket_path(self.socket_path, self.socket_group)
        old_umask = os.umask(0o177)
        try:
            await self.server.listen(self.socket_path)
        finally:
            os.umask(old_umask)
        if gid is not None:
            os.chown(self.socket_path, -1, gid)
            os.chmod(self.socket_path, 0o660)
        else:
            os.chmod(self.socket_path, 0o600)
        log.info("listening on %s", self.socket_path)

    async def stop(self):
        """Stop serving; containers and shims go on without us."""
        await self.server.close()
        self.spawn.helper = None
        if self._spawner_start is not None:
            await self._spawner_start
        await self.spawner.close()
        for proc in self.registry.all_processes():
            watch.unwatch_shim(proc)
        self.exits.close()
        self.changes.close()
        self.journal.close()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass


async def serve(root, socket_path, runtime_root, socket_group, ready_fd=None):
    """Run the manager until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    manager = Manager(root, socket_path, runtime_root, socket_group)
    await manager.start()
    if ready_fd is not None:
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)
    # Type=notify: systemd counts the manager as started once it listens.
    sdnotify.notify(f"READY=1\nSTATUS=serving {len(manager.registry.containers)} containers\n"
                    f"MAINPID={os.getpid()}")
    await stopping.wait()
    sdnotify.notify("STOPPING=1")
    log.info("stopping (containers keep running)")
    await manager.stop()


def setup_logging(stream, level="info"):
    """Log to STREAM as JSON lines (journald-friendly) at LEVEL and above."""
    jsonlog.setup_logging(stream, level)


def run_foreground(root, socket_path, runtime_root, socket_group, ready_fd=None):
    """Run the manager in this process; return the exit status."""
    try:
        asyncio.run(serve(root, socket_path, runtime_root, socket_group, ready_fd))
    except StartError as err:
        print(f"tether: {err}", file=sys.stderr)
        return 125
    except OSError as err:
        print(f"tether: start manager on {root}: {err}", file=sys.stderr)
        return 125
    return 0


def run_detached(root, socket_path, runtime_root, socket_group, lock_fd, log_level="info"):
    """Daemonize; return 0 once the daemon listens (its readiness pipe), else 125."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        code = 125
        try:
            code = _daemon_child(root, socket_path, runtime_root, socket_group,
                                 lock_fd, write_fd, log_level)
        finally:
            os._exit(code)
    os.close(write_fd)
    os.close(lock_fd)
    with os.fdopen(read_fd, "rb") as ready:
        answer = ready.read()
    os.waitpid(pid, 0)
    if answer.strip() != b"ready":
        print(f"tether: the manager did not start; see {os.path.join(root, LOG_FILE)}",
              file=sys.stderr)
        return 125
    return 0


def _daemon_child(root, socket_path, runtime_root, socket_group, lock_fd, ready_fd,
                  log_level="info"):
    import daemon  # python-daemon: only the detaching path pays for its import

    log_fd = os.open(os.path.join(root, LOG_FILE),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    log_file = os.fdopen(log_fd, "a")
    context = daemon.DaemonContext(
        files_preserve=[lock_fd, ready_fd, log_file], umask=0o022, working_directory="/",
        detach_process=True, signal_map={}, stdout=log_file, stderr=log_file,
        # The default (True) zeroes RLIMIT_CORE, and every shim, runc and container
        # started from here inherits it: no core dumps anywhere (issue 14).
        prevent_core=False)
    with context:
        write_pid(lock_fd)
        setup_logging(log_file, log_level)
        return run_foreground(root, socket_path, runtime_root, socket_group, ready_fd)


def run(root, socket_path=None, detach=False, runtime_root=None, socket_group=None,
        log_level="info"):
    """Run the manager on ROOT until SIGTERM/SIGINT (DETACH: daemonize); return the exit status."""
    root = os.path.abspath(root or layout.default_root())
    socket_path = os.path.abspath(socket_path or os.path.join(root, SOCKET))
    runtime_root = os.path.abspath(runtime_root or os.path.join(root, layout.RUNTIME_ROOT))
    try:
        prepare_root(root)
        lock_fd = lock_root(root)
    except StartError as err:
        print(f"tether: {err}", file=sys.stderr)
        return 125
    if detach:
        return run_detached(root, socket_path, runtime_root, socket_group, lock_fd, log_level)
    setup_logging(sys.stderr, log_level)
    return run_foreground(root, socket_path, runtime_root, socket_group)
