"""What containerd told us of each task and process: stdio targets, bundle, execs.

The core (manager/core) knows the processes; these records keep what only
containerd's API has, and the state of calls in progress (a Create, an exec
created but not yet started).
"""

import asyncio

from manager.containerd.ttrpc import NOT_FOUND, RpcError


class Record:
    """What containerd told us about one process: its stdio and terminal."""

    def __init__(self, stdin, stdout, stderr, terminal, spec=None):
        self.stdin, self.stdout, self.stderr, self.terminal = stdin, stdout, stderr, terminal
        self.spec = spec
        self.io = None
        self.deleted = False
        self._started = None

    def started(self):
        """Return a future resolved once the exec is started (ctr waits before it starts)."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
        return self._started

    def mark_started(self, error=None):
        future = self.started()
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


class Task:
    """One task (a container): its init record, execs, bundle, mounts."""

    def __init__(self, task_id, bundle, rootfs, init):
        self.id = task_id
        self.bundle = bundle
        self.rootfs = rootfs
        self.records = {None: init}
        self.creating = None  # a future while Create runs: True once created, False if not

    async def created(self):
        """Wait for a Create in progress; NOT_FOUND if it failed."""
        if self.creating is not None and not await asyncio.shield(self.creating):
            raise RpcError(NOT_FOUND, f"task {self.id} not found")
