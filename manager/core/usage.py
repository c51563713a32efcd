"""Resource operations of the core: stats and top from the cgroup, update through the runtime.

The samples are read from cgroupfs and /proc by manager.core.cgroups (no fork
per sample); update runs `runc update` and records the limits it set in
ROOT/containers/ID/resources.json, shown as `resources` in the state object.
"""

import asyncio
import os

from shim.contract import layout

from manager.core import cgroups, checkpoint, model
from manager.core.errors import CoreError, InvalidArgument, RuntimeFailed, WrongState
from manager.core.files import offload
from manager.spawn import runtime

STREAM_INTERVAL = 1.0
LIVE = (model.CREATED, model.RUNNING, model.PAUSED)
NATIVE_WHY = "the native runtime runs host processes in no cgroup of their own"


def live_cgroup(finder, container, verb):
    """Return the Cgroup of CONTAINER's init process; WrongState if it has none now."""
    init = container.init
    if container.runtime == "native":
        raise WrongState(f"{verb} {container.id}: {NATIVE_WHY}")
    if init.status not in LIVE or not init.pid:
        raise WrongState(f"{verb} {container.id}: container is {init.status}")
    try:
        cgroup = finder.of_pid(init.pid)
    except cgroups.CgroupError as err:
        if not layout.pid_alive(init.pid, init.starttime):
            raise WrongState(f"{verb} {container.id}: the container's process has exited") \
                from err
        raise CoreError(f"{verb} {container.id}: {err}") from err
    # The pid was read before the check: a reused pid must not lend its cgroup.
    if not layout.pid_alive(init.pid, init.starttime):
        raise WrongState(f"{verb} {container.id}: the container's process has exited")
    return cgroup


def sample(finder, container):
    """Return one stats object of CONTAINER (docs/api.md, "Stats")."""
    cgroup = live_cgroup(finder, container, "stats")
    try:
        values = cgroups.sample(cgroup)
    except cgroups.CgroupError as err:
        raise WrongState(f"stats {container.id}: {err}") from err
    return {"id": container.id, "time": layout.format_time(layout.now_ns()), **values}


async def stream(finder, container, first):
    """Yield FIRST, then a sample every STREAM_INTERVAL until the container stops."""
    yield first
    while True:
        await asyncio.sleep(STREAM_INTERVAL)
        try:
            yield sample(finder, container)
        except CoreError:
            return


def top(finder, container):
    """Return the processes of CONTAINER's cgroup: {"id", "processes": [...]}."""
    cgroup = live_cgroup(finder, container, "top")
    try:
        found = cgroups.processes(cgroup)
    except cgroups.CgroupError as err:
        raise WrongState(f"top {container.id}: {err}") from err
    return {"id": container.id, "processes": found}


def parse_update(body):
    """Return the limits of an update BODY: {"memory", "cpus", "pids_limit"} (None: unchanged)."""
    if not isinstance(body, dict):
        raise InvalidArgument("update: expected a JSON object")
    unknown = set(body) - {"memory", "cpus", "pids_limit"}
    if unknown:
        raise InvalidArgument(f"update: unknown fields: {', '.join(sorted(unknown))}")
    limits = {}
    for key, low in (("memory", 1 << 20), ("pids_limit", 1)):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not low <= value <= 1 << 62):
            raise InvalidArgument(f"update: invalid {key} {value!r}: expected an integer "
                                  f">= {low}")
        limits[key] = value
    cpus = body.get("cpus")
    if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, (int, float))
                             or not 0.01 <= cpus <= 1024):
        raise InvalidArgument(f"update: invalid cpus {cpus!r}: expected 0.01 to 1024 cores")
    limits["cpus"] = None if cpus is None else float(cpus)
    if all(v is None for v in limits.values()):
        raise InvalidArgument("update: nothing to change: give memory, cpus or pids_limit")
    return limits


async def update(rt, container, limits):
    """Set CONTAINER's LIMITS through runtime RT; record them; return the merged resources."""
    cid = container.id
    if container.runtime == "native" or not hasattr(rt, "update"):
        raise WrongState(f"update {cid}: {NATIVE_WHY}; use runc to limit it")
    if container.init.status not in LIVE:
        raise WrongState(f"update {cid}: container is {container.init.status}")
    try:
        await rt.update(container, **limits)
    except runtime.RuntimeFailure as err:
        raise RuntimeFailed(f"update {cid}: {err}") from err
    merged = dict(container.recorded_resources() or {})
    merged.update({k: v for k, v in limits.items() if v is not None})
    container.resources = merged
    await offload(layout.write_json, os.path.join(container.dir, layout.RESOURCES_JSON), merged,
                  0o600, durable=False)
    return merged


class ResourceOps:
    """The Service's resource operations (a mixin: they need container(), runtime(), events).

    Kept here so that service.py stays one concern: the lifecycle.
    """

    _finder = None

    @property
    def cgroups(self):
        """Return the cgroup Finder (the mount table is read once, on first use)."""
        if self._finder is None:
            self._finder = cgroups.Finder()
        return self._finder

    def stats(self, cid):
        """Return one stats sample of CID's cgroup."""
        return sample(self.cgroups, self.container(cid))

    def stats_stream(self, cid):
        """Return an async iterator of CID's samples, one a second; the first one taken now."""
        container = self.container(cid)
        return stream(self.cgroups, container, sample(self.cgroups, container))

    def top(self, cid):
        """Return the processes in CID's cgroup."""
        return top(self.cgroups, self.container(cid))

    async def update(self, cid, body):
        """Change CID's memory, CPU or pids limit through the runtime; return the container."""
        limits = parse_update(body)
        container = self.container(cid)
        async with container.lock:
            await update(self.runtime(container), container, limits)
        return container

    async def checkpoint(self, cid, body):
        """Dump CID with CRIU (runc checkpoint) into body's image_path; return the container."""
        image_path, leave_running = checkpoint.parse_checkpoint(body)
        container = self.container(cid)
        async with container.lock:
            await checkpoint.checkpoint(self.runtime(container), container, image_path,
                                        leave_running)
        self.events.emit("checkpoint", cid, image_path=image_path)
        return container
