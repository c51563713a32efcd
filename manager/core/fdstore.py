"""The manager's fd store: copies of each live process's stdio fds and a pidfd of it.

Kept so that a process outlives the death of its shim (docs/durability.md):
while the store holds a pipe's read end, the container's writes never meet
EPIPE and wait in the pipe for the shim that adopts it; while it holds the
PTY master, the terminal is not hung up; and its pidfd keeps the exit status
for whoever holds it (shim.contract.pidexit). As systemd's FDSTORE=1, the
store only keeps fds: it never reads them. It is lost with the manager; a
shim that dies while the manager is down cannot be given its pipes back.
"""

import os

from shim.contract import fdpass, layout, pidexit

PROCESS = "process"  # the container process's pidfd


class FdStore:
    """Fds by process key ((container id, process name)), each a dict name -> fd."""

    def __init__(self, get_fd=pidexit.get_fd):
        self._get_fd = get_fd
        self._entries = {}

    def __len__(self):
        return sum(len(fds) for fds in self._entries.values())

    def __contains__(self, key):
        return key in self._entries

    def collect(self, key, proc_dir, shim_pidfd, pid, starttime):
        """Copy the stdio fds PROC_DIR/fds.json names out of the shim; pin the process.

        Return the names now stored. A copy that is not the recorded file (the
        shim closed and reused that number) is closed and left out.
        """
        stored = self._entries.setdefault(key, {})
        if PROCESS not in stored and pid:
            pidfd = pidexit.open_pidfd(pid, starttime)
            if pidfd is not None:
                stored[PROCESS] = pidfd
        try:
            record = fdpass.read_record(proc_dir)
        except layout.StateError:
            record = {}
        for name, (fd, dev, ino) in record.items():
            if name in stored:
                continue
            try:
                copy = self._get_fd(shim_pidfd, fd)
            except OSError:
                continue  # the shim is gone or closed it: nothing to keep
            if fdpass.same_file(copy, dev, ino):
                stored[name] = copy
            else:
                os.close(copy)
        return sorted(stored)

    def put(self, key, name, fd):
        """Keep FD (ours from now on) as NAME of KEY, closing one it replaces."""
        old = self._entries.setdefault(key, {}).pop(name, None)
        if old is not None:
            os.close(old)
        self._entries[key][name] = fd

    def close_one(self, key, name):
        """Close NAME of KEY if it is stored."""
        fd = self._entries.get(key, {}).pop(name, None)
        if fd is not None:
            os.close(fd)

    def get(self, key):
        """Return KEY's fds (name -> fd), still owned by the store."""
        return dict(self._entries.get(key, {}))

    def take(self, key):
        """Remove and return KEY's fds: the caller owns (and closes) them now."""
        return self._entries.pop(key, {})

    def discard(self, key):
        """Close KEY's fds (the process exited and its output is drained, or it was deleted)."""
        for fd in self._entries.pop(key, {}).values():
            os.close(fd)

    def close(self):
        """Close every fd."""
        for key in list(self._entries):
            self.discard(key)
