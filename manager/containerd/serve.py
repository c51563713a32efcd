"""The serving process: one Tether core for a group of tasks, its Task API on ttrpc.

Started by `start` with the listening socket inherited (-listen-fd). It builds
the core the way the manager daemon does (model, tracker, exit watch, a zygote
for the shims: zygote.py), without the HTTP server, and no event journal: containerd
keeps the record. Core events are forwarded to containerd in the core's order
(create, start, exit, delete) by one subscription (events_loop). It exits
once containerd's Shutdown found no task left and none came for IDLE_ENV
seconds (a task started right after another's end then finds it: its own
start-up costs ~150 ms), with no `start` pending; the shims and containers
never depend on it.
"""

import asyncio
import fcntl
import logging
import os
import signal
import socket
import sys

from shim.contract import layout

from manager.containerd import groups, messages, publisher, task, taskspec, ttrpc, zygote
from manager.core import events, model, service, tracker, watch
from manager.spawn import runtime

log = logging.getLogger("tether.containerd.serve")
IDLE_ENV = "TETHER_CONTAINERD_IDLE_EXIT"
IDLE_DEFAULT_S = 3.0


def idle_delay():
    """Return how long an idle serving process waits before it exits, in seconds."""
    try:
        return max(0.0, float(os.environ.get(IDLE_ENV) or IDLE_DEFAULT_S))
    except ValueError:
        return IDLE_DEFAULT_S


class Server:
    """The serving process's parts, wired."""

    def __init__(self, root, namespace, ttrpc_address, listener):
        self.root = root
        self.namespace = namespace
        self.listener = listener
        self.registry = model.Registry()
        self.bus = events.EventBus()
        self.changes = watch.LogChanges()
        self.tracker = tracker.Tracker(self.registry, self.bus, self.changes)
        self.spawn = runtime.Spawn(os.path.join(root, "runc"))
        self.service = service.Service(root, self.spawn, self.registry, self.bus, self.tracker)
        self.exits = watch.ExitWatch(layout.containers_dir(root), self.tracker.on_exit_status,
                                     self.tracker.on_overflow)
        self.spawner = zygote.LocalZygote()
        self.publisher = publisher.Publisher(ttrpc_address, namespace)
        self.tasks = task.TaskService(self.service, self.changes, root, namespace,
                                      self.publisher, self.request_exit)
        self.server = ttrpc.Server(self.tasks.handlers(), waits=self.tasks.waits())
        self.stopping = asyncio.Event()
        self.idle_timer = None

    async def start(self):
        """Watch, reattach what the root holds, then serve."""
        os.makedirs(layout.containers_dir(self.root), layout.ROOT_MODE, exist_ok=True)
        self.exits.start()
        self.changes.start()
        self.tracker.reattach(layout.containers_dir(self.root))
        self.subscription = self.bus.subscribe()
        self.forwarding = asyncio.ensure_future(self.events_loop())
        self.publisher.start()
        self.spawn.helper = self.spawner
        await self.server.listen_fd(self.listener)
        self.request_exit()  # the pending mark of the `start` that spawned us holds it
        # Started once we serve, off the loop: the first Create finds it ready.
        asyncio.get_running_loop().run_in_executor(None, self.spawner.zygotes.get)

    async def events_loop(self):
        """Forward each core event to containerd as its task event."""
        async for event in self.subscription:
            try:
                forward_event(self.tasks, self.publisher, event)
            except Exception:  # one odd event must not stop the others
                log.exception("forward event %s", event)

    def request_exit(self):
        """No task is left (a Delete, a failed Create, a Shutdown, or none since we
        started): exit once idle for idle_delay(). Not only on Shutdown: containerd
        killed between a `start` and its Create, or between a Delete and its
        Shutdown, never sends one (it cleans the task up with `delete`)."""
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        self.idle_timer = asyncio.get_running_loop().call_later(idle_delay(), self.exit_if_idle)

    def exit_if_idle(self):
        """Exit unless a task or a pending `start` came meanwhile."""
        self.idle_timer = None
        lock_fd = os.open(os.path.join(self.root, "start.lock"),
                          os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            if self.tasks.tasks:
                os.close(lock_fd)
                return  # the last one's Delete arms the timer again
            if os.listdir(os.path.join(self.root, "pending")):
                os.close(lock_fd)
                # A Create to come, or a mark that containerd's cleanup (`delete`)
                # removes after its restart: look again.
                self.request_exit()
                return
            # Under the lock: a `start` after this sees no socket and starts a new process.
            try:
                os.unlink(self.listener.getsockname())
            except (FileNotFoundError, OSError):
                pass
        except OSError:
            pass
        self.lock_fd = lock_fd
        self.stopping.set()

    async def stop(self):
        """Deliver pending events, stop serving."""
        await self.publisher.drain(2.0)
        await self.server.close()
        await self.publisher.close()
        self.spawn.helper = None
        await self.spawner.close()
        for proc in self.registry.all_processes():
            watch.unwatch_shim(proc)
        self.exits.close()
        self.changes.close()


def forward_event(tasks, pub, event):
    """Publish the containerd event of core EVENT (a dict from the core's bus)."""
    cid, exec_id, kind = event["id"], event.get("exec_id"), event["type"]
    when = messages.timestamp_ns(layout.parse_time(event["time"]))
    entry = tasks.tasks.get(cid)
    if kind == "create":
        record = entry.records[None] if entry else None
        io = {"stdin": record.stdin, "stdout": record.stdout, "stderr": record.stderr,
              "terminal": record.terminal} if record else {}
        pub.publish("TaskCreate", {"container_id": cid, "bundle": entry.bundle if entry else "",
                                   "rootfs": entry.rootfs if entry else [], "io": io,
                                   "pid": event.get("pid") or 0}, when)
    elif kind == "start":
        if exec_id:
            pub.publish("TaskExecStarted", {"container_id": cid, "exec_id": exec_id,
                                            "pid": event.get("pid") or 0}, when)
        else:
            pub.publish("TaskStart", {"container_id": cid, "pid": event.get("pid") or 0}, when)
    elif kind in ("exit", "shim-lost"):
        proc = process_of(tasks, cid, exec_id)
        pub.publish("TaskExit", {
            "container_id": cid, "id": exec_id or cid, "pid": (proc.pid if proc else 0) or 0,
            "exit_status": event.get("exit_code", 255) if kind == "exit" else 255,
            "exited_at": when}, when)
    elif kind == "oom":
        pub.publish("TaskOOM", {"container_id": cid}, when)
    elif kind == "delete":
        proc = process_of(tasks, cid, None)
        exit_info = taskspec.exit_of(proc)
        pub.publish("TaskDelete", {"container_id": cid, "id": cid, **exit_info}, when)
    elif kind in ("pause", "resume"):
        pub.publish("TaskPaused" if kind == "pause" else "TaskResumed", {"container_id": cid},
                    when)


def process_of(tasks, cid, exec_id):
    """Return the core process CID/EXEC_ID, or None if it is gone."""
    try:
        return tasks.service.registry.get(cid).process(exec_id)
    except (AttributeError, KeyError):
        return None


async def serve(root, namespace, ttrpc_address, listener):
    """Run the serving process until Shutdown (or SIGTERM)."""
    loop = asyncio.get_running_loop()
    server = Server(root, namespace, ttrpc_address, listener)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.stopping.set)
    await server.start()
    await server.stopping.wait()
    await server.stop()


def run(flags):
    """The `serve` action (internal: started by `start`); return the exit status."""
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if flags.get("debug")
                        else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    listener = socket.socket(fileno=int(flags["listen-fd"]))
    listener.setblocking(False)
    root = flags.get("root") or groups.group_root(flags["namespace"], groups.SHARED)
    ttrpc_address = os.environ.get("TTRPC_ADDRESS") or flags.get("address", "") + ".ttrpc"
    os.chdir("/")
    asyncio.run(serve(root, flags["namespace"], ttrpc_address, listener))
    return 0
