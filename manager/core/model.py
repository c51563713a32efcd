"""In-memory state of containers and their processes (init and execs)."""

import asyncio
import os

from shim.contract import hooks, layout

CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"
UNKNOWN = "unknown"


class Process:
    """One process directory: the init process or an exec, owned by one shim."""

    def __init__(self, container, name, proc_dir):
        self.container = container
        self.name = name
        self.dir = proc_dir
        self.status = CREATED
        self.shim_pid = None
        self.shim_starttime = None
        self.pid = None
        self.starttime = None
        self.tty = False
        self.stdin = False
        self.created_at = None
        self.started_at = None
        self.exited_at = None
        self.exit_code = None
        self.oom_killed = False
        self.dropped_bytes = 0  # output.log bytes the shim could not write (full disk)
        self.output_lost = None  # {"bytes": N or "unknown", "reason": ...}: output not kept
        self.newer_contract = False  # its directory speaks a newer contract: never acted on
        self.error = None
        self.hold_exit = False
        self.shim_gone = False
        self.pidfd = None
        self._hook_result = None
        self._done = None
        self._gone = None

    @property
    def exec_id(self):
        """Return the exec id, or None for the init process."""
        return None if self.name == layout.INIT else self.name

    @property
    def finished(self):
        """Return True once the exit (or the loss of the shim) is known."""
        return self.status in (STOPPED, UNKNOWN)

    def done_future(self):
        """Return a future resolved when the process exits or its shim is lost."""
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
            if self.status in (STOPPED, UNKNOWN):
                self._done.set_result(self.status)
        return self._done

    def resolve_done(self):
        """Wake every waiter: the process exited or was lost."""
        if self._done is not None and not self._done.done():
            self._done.set_result(self.status)

    def gone_future(self):
        """Return a future resolved when the shim of this process has exited."""
        if self._gone is None:
            self._gone = asyncio.get_running_loop().create_future()
            if self.shim_gone:
                self._gone.set_result(True)
        return self._gone

    def resolve_gone(self):
        """Record that the shim exited and wake whoever waits for that."""
        self.shim_gone = True
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(True)

    def to_dict(self):
        """Return the process part of the state object."""
        return {
            "id": self.name if self.exec_id else self.container.id,
            "status": self.status,
            "pid": self.pid,
            "shim_pid": self.shim_pid,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "exited_at": self.exited_at,
            "exit_code": self.exit_code,
            "oom_killed": self.oom_killed,
            **({"dropped_bytes": self.dropped_bytes} if self.dropped_bytes else {}),
            **({"output_lost": self.output_lost} if self.output_lost else {}),
            "tty": self.tty,
            "stdin": self.stdin,
            **({"error": self.error} if self.error else {}),
            **({"exit_hook": self.exit_hook()} if self.name == layout.INIT
               and self.container.exit_hook_spec() else {}),
        }

    def exit_hook(self):
        """Return the exit hook and its outcome (shim/contract/hooks.py); result None until it ends."""
        if self._hook_result is None and self.finished:
            self._hook_result = hooks.read_result(self.dir)  # written once: kept when found
        return {**self.container.exit_hook_spec(), "result": self._hook_result}


class Container:
    """A container: its metadata and its processes, init first."""

    def __init__(self, container_id, cdir, bundle=None, runtime="runc", labels=None,
                 created_at=None):
        self.id = container_id
        self.dir = cdir
        self.bundle = bundle
        self.runtime = runtime
        self.labels = labels or {}
        self.created_at = created_at
        self.error = None
        self.log = {}
        self.lock = asyncio.Lock()
        self.deleting = False
        self.auto_remove = False  # --rm: removed by the manager once the init process exits
        self.resources = None  # the limits `update` set (manager/core/usage.py)
        self._resources_read = False  # after a restart: read layout.RESOURCES_JSON once
        self._hook_spec = None  # the init process's exit hook: read once, on first need
        self.removing = False  # auto-removal under way: gone for the API
        self.attachers = 0  # open attach streams: auto-removal waits for them
        self._idle = None
        self._removed = None
        self.init = Process(self, layout.INIT, os.path.join(cdir, layout.INIT))
        self.init.created_at = created_at
        self.execs = {}

    def recorded_resources(self):
        """Return the limits updates set; read once from layout.RESOURCES_JSON (a restart forgets)."""
        if self.resources is None and not self._resources_read:
            self._resources_read = True
            try:
                value = layout.read_json(os.path.join(self.dir, layout.RESOURCES_JSON))
            except layout.StateError:
                value = None
            self.resources = value if isinstance(value, dict) else None
        return self.resources

    def remember_exit_hook(self, spec):
        """Record the exit hook SPEC written at create."""
        self._hook_spec = spec

    def exit_hook_spec(self):
        """Return the exit hook asked for at create (CONTAINER/exitHook.json), or {} for none."""
        if self._hook_spec is None:
            self._hook_spec = hooks.read_spec(self.dir) or {}
        return self._hook_spec

    @property
    def visible(self):
        """Return False while the container is being deleted or auto-removed."""
        return not (self.deleting or self.removing)

    def hold(self):
        """Count an open attach stream (auto-removal waits until none is left)."""
        self.attachers += 1

    def release(self):
        """Count an attach stream closed."""
        self.attachers -= 1
        if not self.attachers and self._idle is not None:
            self._idle.set()

    async def wait_idle(self):
        """Return once no attach stream is open."""
        while self.attachers:
            self._idle = asyncio.Event()
            await self._idle.wait()

    def removed_future(self):
        """Return a future resolved when an auto-removal has ended (done or failed)."""
        if self._removed is None:
            self._removed = asyncio.get_running_loop().create_future()
        return self._removed

    def resolve_removed(self):
        """Wake those waiting for the auto-removal to end."""
        if self._removed is not None and not self._removed.done():
            self._removed.set_result(None)

    def process(self, exec_id=None):
        """Return the init process or the exec EXEC_ID; KeyError if unknown."""
        if exec_id is None:
            return self.init
        return self.execs[exec_id]

    def processes(self):
        """Return every process, init first."""
        return [self.init, *self.execs.values()]

    def to_dict(self):
        """Return the state object of docs/api.md."""
        init = self.init.to_dict()
        init.update({
            "id": self.id,
            "bundle": self.bundle,
            "runtime": self.runtime,
            "created_at": self.created_at,
            "labels": self.labels,
            "processes": [p.to_dict() for p in
                          sorted(self.execs.values(), key=lambda p: p.name)],
        })
        if self.error:
            init["error"] = self.error
        resources = self.recorded_resources()
        if resources:
            init["resources"] = dict(resources)
        return init


class Registry:
    """Every known container, and a map from process directory to process."""

    def __init__(self):
        self.containers = {}
        self._by_dir = {}

    def add(self, container):
        """Register CONTAINER (its id must be free)."""
        self.containers[container.id] = container

    def remove(self, container):
        """Forget CONTAINER and its processes."""
        self.containers.pop(container.id, None)
        for proc in container.processes():
            self._by_dir.pop(proc.dir, None)

    def get(self, container_id):
        """Return the container CONTAINER_ID or None."""
        return self.containers.get(container_id)

    def index_process(self, proc):
        """Make PROC findable by its directory (for inotify events)."""
        self._by_dir[proc.dir] = proc

    def unindex_process(self, proc):
        """Stop finding PROC by its directory."""
        self._by_dir.pop(proc.dir, None)

    def by_dir(self, proc_dir):
        """Return the process whose directory is PROC_DIR, or None."""
        return self._by_dir.get(proc_dir)

    def all_processes(self):
        """Return every indexed process."""
        return list(self._by_dir.values())

    def sorted_containers(self):
        """Return the containers sorted by id."""
        return [self.containers[k] for k in sorted(self.containers)]

    def visible_containers(self):
        """Return the containers the API shows (not being deleted), sorted by id."""
        return [c for c in self.sorted_containers() if c.visible]
