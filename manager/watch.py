"""Exit and loss detection: inotify for exitStatus, pidfds for shim death, log changes."""

import asyncio
import logging
import os

import pyinotify

from shim import state

log = logging.getLogger("tether.watch")

FOLLOW_FALLBACK = 1.0


class _Handler(pyinotify.ProcessEvent):
    """Route inotify events to a callback (pyinotify calls process_default)."""

    def my_init(self, callback=None):
        """Keep the callback (pyinotify calls my_init from __init__)."""
        self.callback = callback

    def process_default(self, event):
        """Hand EVENT to the callback."""
        self.callback(event)


def is_hidden(path):
    """Return True for a hidden name (temp files, directories being deleted): not watched."""
    return os.path.basename(path).startswith(".")


def _quiet_pyinotify():
    """Send pyinotify's log records through ours only (it has its own stderr handler)."""
    logger = logging.getLogger("pyinotify")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.WARNING)


def _open_inotify(loop, callback):
    """Return (watch manager, notifier) whose fd is read by the asyncio loop."""
    _quiet_pyinotify()
    manager = pyinotify.WatchManager()
    notifier = pyinotify.Notifier(manager, _Handler(callback=callback), timeout=0)

    def read_events():
        """Read and dispatch the pending inotify events."""
        try:
            notifier.read_events()
            notifier.process_events()
        except Exception:  # one bad event must not stop exit detection
            log.exception("process inotify events")

    loop.add_reader(manager.get_fd(), read_events)
    return manager, notifier


class ExitWatch:
    """Call on_exit_status(proc_dir) when an exitStatus appears under containers/."""

    MASK = pyinotify.IN_CREATE | pyinotify.IN_MOVED_TO

    def __init__(self, containers_path, on_exit_status, on_overflow):
        self.path = containers_path
        self.on_exit_status = on_exit_status
        self.on_overflow = on_overflow
        self.manager = None
        self.notifier = None

    def start(self):
        """Watch containers/ and every directory below it, new ones included."""
        loop = asyncio.get_running_loop()
        self.manager, self.notifier = _open_inotify(loop, self._on_event)
        result = self.manager.add_watch(self.path, self.MASK, rec=True, auto_add=True,
                                        quiet=False, exclude_filter=is_hidden)
        if result.get(self.path, -1) < 0:
            raise OSError(f"watch {self.path}: inotify_add_watch failed")

    def _on_event(self, event):
        if event.mask & pyinotify.IN_Q_OVERFLOW:
            log.warning("inotify queue overflow: rescan every process")
            self.on_overflow()
        elif event.name == state.EXIT_STATUS:
            self.on_exit_status(event.path)

    def close(self):
        """Stop watching."""
        if self.manager is not None:
            asyncio.get_running_loop().remove_reader(self.manager.get_fd())
            self.notifier.stop()
            self.manager = None


def open_pidfd(pid, starttime):
    """Return a pidfd for the process PID started at STARTTIME, or None if it is gone."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    # Checked after opening: the pidfd then surely refers to the checked process.
    if state.proc_starttime(pid) != starttime:
        os.close(pidfd)
        return None
    return pidfd


def watch_shim(proc, on_gone):
    """Call on_gone(proc) once the shim of PROC exits; return False if it is gone already."""
    pidfd = open_pidfd(proc.shim_pid, proc.shim_starttime)
    if pidfd is None:
        return False
    loop = asyncio.get_running_loop()

    def fired():
        """The shim exited: stop watching it and reconcile."""
        unwatch_shim(proc)
        on_gone(proc)

    proc.pidfd = pidfd
    loop.add_reader(pidfd, fired)
    return True


def unwatch_shim(proc):
    """Stop watching PROC's shim."""
    if proc.pidfd is not None:
        asyncio.get_running_loop().remove_reader(proc.pidfd)
        os.close(proc.pidfd)
        proc.pidfd = None


class LogChanges:
    """Wake log followers when a file in a watched process directory changes."""

    MASK = pyinotify.IN_MODIFY | pyinotify.IN_CREATE | pyinotify.IN_MOVED_TO

    def __init__(self):
        self.manager = None
        self.notifier = None
        self.dirs = {}

    def start(self):
        """Open the inotify instance used by followers only."""
        loop = asyncio.get_running_loop()
        self.manager, self.notifier = _open_inotify(loop, self._on_event)

    def _on_event(self, event):
        entry = self.dirs.get(event.path)
        if entry is not None:
            entry[2].set()

    def subscribe(self, proc_dir):
        """Return an asyncio.Event set on changes in PROC_DIR (release with unsubscribe)."""
        entry = self.dirs.get(proc_dir)
        if entry is None:
            wd = self.manager.add_watch(proc_dir, self.MASK, quiet=True).get(proc_dir, -1)
            entry = self.dirs[proc_dir] = [wd, 0, asyncio.Event()]
        entry[1] += 1
        return entry[2]

    def unsubscribe(self, proc_dir):
        """Drop one follower of PROC_DIR."""
        entry = self.dirs.get(proc_dir)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self.dirs[proc_dir]
            if entry[0] >= 0:
                self.manager.rm_watch(entry[0], quiet=True)

    def poke(self, proc_dir):
        """Wake the followers of PROC_DIR (the process exited or its shim went away)."""
        entry = self.dirs.get(proc_dir)
        if entry is not None:
            entry[2].set()

    async def wait(self, event):
        """Wait for a change signalled on EVENT (at most FOLLOW_FALLBACK seconds), then clear it."""
        try:
            await asyncio.wait_for(event.wait(), FOLLOW_FALLBACK)
        except asyncio.TimeoutError:
            pass
        event.clear()

    def close(self):
        """Stop watching."""
        if self.manager is not None:
            asyncio.get_running_loop().remove_reader(self.manager.get_fd())
            self.notifier.stop()
            self.manager = None
