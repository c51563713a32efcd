"""One reaper for every child: runtime invocations, the container process, orphans."""

import os
import time

# Exits nobody claimed (orphans reparented to the subreaper) are kept this many.
_MAX_UNCLAIMED = 256


class Reaper:
    """Reap children on SIGCHLD and route each exit to whoever waits for that pid."""

    def __init__(self):
        self._exits = {}
        self._watchers = {}

    def reap_children(self):
        """Wait for every child that has exited (WNOHANG) and dispatch its status."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._record(pid, status, time.time_ns())

    def _record(self, pid, status, when_ns):
        callback = self._watchers.pop(pid, None)
        if callback is not None:
            callback(pid, status, when_ns)
            return
        # Remember an exit nobody waits for yet (an exec process may exit before
        # `runc exec` returns and we learn its pid).
        self._exits[pid] = (status, when_ns)
        if len(self._exits) > _MAX_UNCLAIMED:
            del self._exits[next(iter(self._exits))]

    def watch(self, pid, callback):
        """Call CALLBACK(pid, status, exited_at_ns) when PID exits (now, if it already did)."""
        if pid in self._exits:
            status, when_ns = self._exits.pop(pid)
            callback(pid, status, when_ns)
        else:
            self._watchers[pid] = callback

    def unwatch(self, pid):
        """Stop waiting for PID."""
        self._watchers.pop(pid, None)

    def has_exited(self, pid):
        """Return True if PID's exit was reaped and not yet claimed."""
        return pid in self._exits

    def pop_exit(self, pid):
        """Claim PID's remembered exit: (status, exited_at_ns), or None."""
        return self._exits.pop(pid, None)
