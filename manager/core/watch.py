"""Exit and loss detection: inotify for exitStatus, pidfds for shim death, log changes."""

import asyncio
import logging
import os
import struct

import pyinotify

from shim.contract import layout

log = logging.getLogger("tether.watch")

FOLLOW_FALLBACK = 1.0


READ_SIZE = 64 << 10
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)


def parse_events(data):
    """Yield (wd, mask, name) for each struct inotify_event in DATA."""
    pos, end = 0, len(data)
    while pos + _EVENT.size <= end:
        wd, mask, _cookie, length = _EVENT.unpack_from(data, pos)
        pos += _EVENT.size
        name = data[pos:pos + length].split(b"\0", 1)[0]
        pos += length
        yield wd, mask, os.fsdecode(name)


def is_hidden(path):
    """Return True for a hidden name (temp files, directories being deleted): not watched."""
    return os.path.basename(path).startswith(".")


def _open_inotify(loop, callback):
    """Return a pyinotify WatchManager whose events the loop reads: CALLBACK(wd, mask, name).

    pyinotify's Notifier builds several Python objects per event and formats
    each for a debug log even when the log is off: with 50 clients at once it
    took a third of the manager's CPU. We parse the kernel's records ourselves;
    pyinotify keeps the watches (recursion, wd -> path).
    """
    _quiet_pyinotify()
    manager = pyinotify.WatchManager()
    fd = manager.get_fd()
    os.set_blocking(fd, False)

    def read_events():
        """Read and dispatch the pending inotify events."""
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        for wd, mask, name in parse_events(data):
            try:
                callback(wd, mask, name)
            except Exception:  # one bad event must not stop exit detection
                log.exception("process inotify event %#x %r", mask, name)

    loop.add_reader(fd, read_events)
    return manager


def _quiet_pyinotify():
    """Send pyinotify's log records through ours only (it has its own stderr handler)."""
    logger = logging.getLogger("pyinotify")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.WARNING)


def forget_watch(manager, wd):
    """Drop the entry of a watch the kernel removed (IN_IGNORED), if still known."""
    if manager.get_path(wd) is not None:
        manager.del_watch(wd)


def _close_inotify(manager):
    asyncio.get_running_loop().remove_reader(manager.get_fd())
    manager.close()


class ExitWatch:
    """Call on_exit_status(proc_dir) when an exitStatus appears under containers/."""

    MASK = pyinotify.IN_CREATE | pyinotify.IN_MOVED_TO

    def __init__(self, containers_path, on_exit_status, on_overflow):
        self.path = containers_path
        self.on_exit_status = on_exit_status
        self.on_overflow = on_overflow
        self.manager = None

    def start(self):
        """Watch containers/ and every directory below it, new ones included."""
        loop = asyncio.get_running_loop()
        self.manager = _open_inotify(loop, self._on_event)
        if not self._watch_tree(self.path):
            raise OSError(f"watch {self.path}: inotify_add_watch failed")

    def _watch_tree(self, path):
        """Watch PATH and the directories below it; return False if PATH could not be."""
        result = self.manager.add_watch(path, self.MASK, rec=True, quiet=True,
                                        exclude_filter=is_hidden)
        return result.get(path, -1) >= 0

    def _on_event(self, wd, mask, name):
        if mask & pyinotify.IN_Q_OVERFLOW:
            log.warning("inotify queue overflow: rescan every process")
            self.on_overflow()
            return
        if mask & pyinotify.IN_IGNORED:  # the directory is gone
            forget_watch(self.manager, wd)
            return
        parent = self.manager.get_path(wd)
        if parent is None:
            return
        if mask & pyinotify.IN_ISDIR:
            if not is_hidden(name):
                self._watch_new_dir(os.path.join(parent, name))
        elif name == layout.EXIT_STATUS:
            self.on_exit_status(parent)

    def _watch_new_dir(self, path):
        # Watched once it exists: what was written into it before the watch
        # is looked at now (an exitStatus among it).
        self._watch_tree(path)
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if not is_hidden(d)]
            if layout.EXIT_STATUS in filenames:
                self.on_exit_status(dirpath)

    def close(self):
        """Stop watching."""
        if self.manager is not None:
            _close_inotify(self.manager)
            self.manager = None


def open_pidfd(pid, starttime):
    """Return a pidfd for the process PID started at STARTTIME, or None if it is gone."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    # Checked after opening: the pidfd then surely refers to the checked process.
    if layout.proc_starttime(pid) != starttime:
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
        self.dirs = {}

    def start(self):
        """Open the inotify instance used by followers only."""
        self.manager = _open_inotify(asyncio.get_running_loop(), self._on_event)

    def _on_event(self, wd, mask, _name):
        if mask & pyinotify.IN_IGNORED:
            forget_watch(self.manager, wd)
            return
        entry = self.dirs.get(self.manager.get_path(wd))
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
            _close_inotify(self.manager)
            self.manager = None
