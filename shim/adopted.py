"""The exit of a process the shim adopted: not its child, so a pidfd instead of SIGCHLD.

The adopting shim (docs/durability.md) receives a pidfd of the process (held
by the manager since the process started, so it also keeps an exit that
happened before the adoption). When the pidfd polls readable the process has
exited; its wait status comes from its zombie or, once reaped by whoever is
its parent now, from the pidfd (shim.contract.pidexit). The callback gets
the same arguments as the reaper's: (pid, status or None, exited_at_ns).
"""

import time

from shim.contract import pidexit

REAP_WAIT = 5.0  # seconds to wait for the new parent to reap, when neither source had it yet
RETRY = 0.01


class AdoptedExit:
    """Watch PIDFD in LOOP; call ON_EXIT(pid, status, exited_at_ns) once."""

    def __init__(self, loop, pidfd, pid, starttime, on_exit, exited_at_ns=None):
        self.loop = loop
        self.pidfd = pidfd
        self.pid = pid
        self.starttime = starttime
        self.on_exit = on_exit
        self.exited_at_ns = exited_at_ns  # seen by the manager before we took over
        self.source = None
        self._deadline = None
        loop.add_reader(pidfd, self._exited)

    def _exited(self):
        self.loop.remove_reader(self.pidfd)
        if self.exited_at_ns is None:
            self.exited_at_ns = time.time_ns()
        self._deadline = time.monotonic() + REAP_WAIT
        self._read()

    def _read(self):
        status, self.source = pidexit.exit_status(self.pidfd, self.pid, self.starttime)
        if status is None and time.monotonic() < self._deadline:
            # Between the exit and the reap the zombie may be read too late and
            # the pidfd too early: look again shortly.
            self.loop.call_later(RETRY, self._read)
            return
        self.on_exit(self.pid, status, self.exited_at_ns)
