"""Fakes of the spawn machinery, so that unit tests drive the real core without processes.

The core's one collaborator is runtime.Spawn (runtime objects, the shim's
launch, signals, control lines). FakeSpawn has the same methods, records every
call and raises what a test tells it to; a "shim" here is this test process
(alive for as long as the test runs, and never signalled: the fakes send no
signal at all). A test plays the shim's part with exit_process and shim_exits,
which write what the shim writes and report what inotify and the pidfd would.
"""

import asyncio
import os

from shim.contract import layout

from manager.core import events, journal, model, service, tracker, watch
from manager.server import bodies

# The "shim" and the "container process" of every fake launch: a pid that is
# surely alive, so that the tracker's pidfd watch opens and never fires.
LIVE_PID = os.getpid()


class FakeRuntime:
    """A runtime's operations, recorded as (name, container id, args...).

    FAIL maps an operation name to the exception it raises (RuntimeFailure,
    ProcessLookupError); STATES maps a container id to what state() answers;
    DURING plays what happens meanwhile (the process exits while it is started).
    """

    def __init__(self):
        self.calls = []
        self.fail = {}
        self.states = {}
        self.during = {}  # name -> a function called with the container id inside the call

    async def _call(self, name, cid, *args):
        self.calls.append((name, cid, *args))
        if name in self.during:
            self.during[name](cid)
        if name in self.fail:
            raise self.fail[name]

    async def start(self, proc):
        await self._call("start", proc.container.id)

    async def kill(self, proc, signum, all_processes=False):
        await self._call("kill", proc.container.id, signum, all_processes)

    async def pause(self, container):
        await self._call("pause", container.id)

    async def resume(self, container):
        await self._call("resume", container.id)

    async def delete(self, container, force=False):
        await self._call("delete", container.id, force)

    async def state(self, container):
        await self._call("state", container.id)
        return self.states.get(container.id)


class FakeSpawn:
    """runtime.Spawn's methods over a FakeRuntime; each failure is one attribute to set."""

    def __init__(self):
        self.rt = FakeRuntime()
        self.launched = []  # the argv of every launch, as shim_argv made it
        self.launch_error = None  # a launcher.LaunchError the next launches raise
        self.signals = []  # (pid, signum, what)
        self.signal_error = None  # ProcessLookupError ...
        self.controls = []  # (proc_dir, {command: value})
        self.control_error = None  # runtime.RuntimeFailure ...

    def runtime(self, container):
        return self.rt

    def shim_argv(self, container_id, bundle, proc_dir, runtime, **options):
        # Opaque to the core: whatever this returns is what launch gets.
        return {"id": container_id, "bundle": bundle, "proc_dir": proc_dir,
                "runtime": runtime, **options}

    async def launch(self, argv):
        self.launched.append(argv)
        if self.launch_error is not None:
            raise self.launch_error
        # What a shim writes before it answers: its process directory and shim.pid.
        os.makedirs(argv["proc_dir"], mode=0o700, exist_ok=True)
        layout.write_shim_pid(argv["proc_dir"], LIVE_PID)
        return {"shim_pid": LIVE_PID, "pid": LIVE_PID}

    def signal_pid(self, pid, starttime, signum, what="process"):
        self.signals.append((pid, signum, what))
        if self.signal_error is not None:
            raise self.signal_error

    def write_control(self, proc_dir, obj):
        self.controls.append((proc_dir, obj))
        if self.control_error is not None:
            raise self.control_error


class FakeLogChanges:
    """watch.LogChanges's poke, recorded (no inotify)."""

    def __init__(self):
        self.poked = []

    def poke(self, proc_dir):
        self.poked.append(proc_dir)


class Core:
    """The real core (registry, bus, tracker, service) on ROOT, wired to the fakes.

    JOURNALED: the bus writes ROOT's event journal (as the manager's does).
    """

    def __init__(self, root, journaled=False):
        self.root = root
        os.makedirs(layout.containers_dir(root), exist_ok=True)
        self.spawn = FakeSpawn()
        self.registry = model.Registry()
        self.journal = journal.Journal(root) if journaled else None
        if self.journal is not None:
            self.journal.open()
        self.bus = events.EventBus(self.journal)
        self.changes = FakeLogChanges()
        self.tracker = tracker.Tracker(self.registry, self.bus, self.changes)
        self.service = service.Service(root, self.spawn, self.registry, self.bus, self.tracker)

    def events(self, *kinds):
        """Return (type, id, exec_id) of the events published so far (only KINDS if given)."""
        kept = self.bus.history if self.journal is None else self.journal.events()
        return [(e["type"], e["id"], e["exec_id"]) for e in kept
                if not kinds or e["type"] in kinds]

    async def create(self, cid, **body):
        """Create CID from a rootfs body (defaults: the root itself, `true`); return it."""
        opts = bodies.parse_create({"id": cid, "rootfs": self.root, **body})
        return await self.service.create(opts)

    async def run(self, cid, **body):
        """Create and start CID; return it."""
        container = await self.create(cid, **body)
        await self.service.start(cid)
        return container

    async def exec(self, cid, **body):
        """Start an exec in CID from BODY (default args: true); return its process."""
        return await self.service.exec(cid, bodies.parse_exec({"args": ["true"], **body}))

    async def settle(self):
        """Let the callbacks and tasks the core scheduled run (auto-removal, exit marks)."""
        await asyncio.sleep(0)  # one turn of the loop: call_soon callbacks run
        if self.service._tasks:
            await asyncio.wait(list(self.service._tasks), timeout=5)

    def close(self):
        """Close the pidfds of the processes still tracked, and the journal."""
        for container in list(self.registry.containers.values()):
            for proc in container.processes():
                watch.unwatch_shim(proc)
        if self.journal is not None:
            self.journal.close()


def exit_process(core, proc, exit_code, oom_killed=False):
    """Play the shim: write PROC's exitStatus and report it as inotify would; return it."""
    layout.write_exit_status(proc.dir, exit_code, oom_killed=oom_killed)
    core.tracker.on_exit_status(proc.dir)
    return proc


def shim_exits(core, proc):
    """Play the pidfd: PROC's shim has exited."""
    watch.unwatch_shim(proc)
    core.tracker.on_shim_gone(proc)


def run_core(root, scenario, journaled=False):
    """Run `await scenario(core)` on a fresh Core in a fresh loop; close it even on failure."""
    async def main():
        core = Core(root, journaled)
        try:
            return await scenario(core)
        finally:
            await core.settle()
            core.close()
    return asyncio.run(main())
