"""Container operations: create, start, kill, pause, resume, delete, wait, resize."""

import asyncio
import functools
import hashlib
import json
import logging
import os
import signal

from shim.contract import layout

from manager.server import bodies
from manager.spawn import launcher, runtime
from manager.core import model, scan
from manager.server.http import HttpError
from manager.core.spec import default_spec

log = logging.getLogger("tether.service")

SHIM_EXIT_TIMEOUT = 10.0
# A create of an id whose --rm container is being removed waits this long for it.
REMOVE_WAIT = 30.0


async def offload(fn, *args, **kwargs):
    """Run FN(*ARGS, **KWARGS), a blocking state write (fsyncs), in a worker thread.

    The fsyncs of one create took ~2 ms of the loop; 50 clients at once kept a
    `list` waiting for seconds. The GIL is released while the disk works.
    """
    call = functools.partial(fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, call)


def write_times(proc_dir, **times):
    """Merge TIMES (RFC 3339 strings) into PROC_DIR/times.json, atomically."""
    path = os.path.join(proc_dir, scan.TIMES_JSON)
    try:
        current = layout.read_json(path)
    except layout.StateError:
        current = {}
    current.update(times)
    # Not durable (no fsync): after a power loss the process is gone anyway.
    layout.write_json(path, current, 0o600, durable=False)


def cgroup_path(root, container_id):
    """Return a cgroup path unique to ROOT and the container.

    Without cgroupsPath runc uses /ID: two roots (or another runc user) with
    the same container id would share, and on delete destroy, one cgroup.
    """
    digest = hashlib.sha256(root.encode()).hexdigest()[:12]
    return f"/tether-{digest}-{container_id}"


def read_bundle_process(bundle, status, what):
    """Return the `process` object of BUNDLE/config.json; HttpError(STATUS) naming WHAT if unreadable."""
    path = os.path.join(bundle or "", "config.json")
    try:
        config = layout.read_json(path)
    except layout.StateError as err:
        raise HttpError(status, f"{what}read bundle config {path}: {err}") from err
    process = config.get("process")
    if not isinstance(process, dict):
        raise HttpError(status, f"{what}read bundle config {path}: no process object")
    return process


def bundle_terminal(bundle):
    """Return process.terminal of BUNDLE/config.json; 400 if it cannot be read."""
    return bool(read_bundle_process(bundle, 400, "").get("terminal"))


def launch_failed(err):
    """Return the HttpError for a shim that failed to start a process."""
    return HttpError(502, str(err), exit_code=err.exit_code)


def fill_launched(proc, result):
    """Record the shim's start-up result (and the files it wrote) in PROC."""
    proc.shim_pid = result["shim_pid"]
    proc.pid = result.get("pid")
    try:
        proc.shim_starttime = layout.read_shim_pid(proc.dir)[1]
    except layout.StateError:
        proc.shim_starttime = layout.proc_starttime(proc.shim_pid)
    try:
        proc.starttime = layout.read_int(os.path.join(proc.dir, layout.STARTTIME))
    except layout.StateError:
        proc.starttime = layout.proc_starttime(proc.pid) if proc.pid else None


class Service:
    """The operations behind the API routes."""

    def __init__(self, root, runtime_root, reg, bus, tracker):
        self.root = root
        self.runtime_root = runtime_root
        self.registry = reg
        self.events = bus
        self.tracker = tracker
        tracker.on_init_exit = self.schedule_auto_remove
        self._tasks = set()

    def runtime(self, container):
        """Return the runtime object of CONTAINER."""
        return runtime.runtime_for(container, self.runtime_root)

    def container(self, cid):
        """Return the container CID; 400 for a malformed id, 404 if unknown."""
        try:
            layout.validate_id(cid)
        except ValueError as err:
            raise HttpError(400, str(err)) from err
        container = self.registry.get(cid)
        if container is None or not container.visible:
            raise HttpError(404, f"no such container: {cid}")
        return container

    def process(self, cid, exec_id=None):
        """Return the init process of CID, or its exec EXEC_ID; 404 if unknown."""
        container = self.container(cid)
        try:
            return container.process(exec_id)
        except KeyError:
            raise HttpError(404, f"no such exec in container {cid}: {exec_id}") from None

    async def create(self, body, hold=False):
        """Create a container: write its directory, start its shim (runtime create).

        HOLD: count an attach stream on it (the caller releases it) from before
        the process starts.
        """
        opts = bodies.parse_create(body)
        cid = opts["id"]
        tty = bundle_terminal(opts["bundle"]) if "bundle" in opts else opts["tty"]
        if "bundle" in opts and opts["tty_given"] and opts["tty"] != tty:
            raise HttpError(400, f"create {cid}: tty={opts['tty']} but the bundle's "
                                 f"process.terminal is {tty}")
        cdir = layout.container_dir(self.root, cid)
        await self._wait_removed(cid)
        if self.registry.get(cid) is not None:
            raise HttpError(409, f"create {cid}: a container with this id exists")
        try:
            layout.make_private_dir(cdir)
        except FileExistsError:
            raise HttpError(409, f"create {cid}: a container with this id exists") from None
        created_at = layout.format_time(layout.now_ns())
        container = model.Container(cid, cdir, runtime=opts["runtime"],
                                       labels=opts["labels"], created_at=created_at)
        container.auto_remove = opts["auto_remove"]
        if hold:
            container.hold()
        self.registry.add(container)
        async with container.lock:
            try:
                await self._create_init(container, opts, tty)
            except BaseException as err:
                self.registry.remove(container)
                if isinstance(err, HttpError) and err.status == 502:
                    # Nothing half-created may stay behind, in runc's state neither.
                    await self._ignore_failure(self.runtime(container).delete(container, True))
                layout.remove_tree(cdir)
                raise
        return container

    async def _create_init(self, container, opts, tty):
        cdir = container.dir
        if "rootfs" in opts:
            bundle = os.path.join(cdir, "bundle")
            layout.make_private_dir(bundle, 0o755)
            spec = default_spec(rootfs=opts["rootfs"], args=opts["args"], env=opts["env"],
                                cwd=opts["cwd"] or "/", tty=tty, **opts["spec"])
            spec["linux"]["cgroupsPath"] = cgroup_path(self.root, container.id)
            await offload(layout.write_json, os.path.join(bundle, "config.json"), spec)
        else:
            bundle = opts["bundle"]
        container.bundle = bundle
        if opts["log_max_size"]:
            container.log = {"max_size": opts["log_max_size"],
                             "max_files": opts["log_max_files"] or 1}
        await offload(layout.write_json, os.path.join(cdir, layout.CONTAINER_JSON), {
            "id": container.id, "bundle": bundle, "runtime": container.runtime,
            "labels": container.labels, "created_at": container.created_at,
            "log": container.log, "auto_remove": container.auto_remove})
        proc = container.init
        proc.tty, proc.stdin = tty, opts["stdin"]
        argv = launcher.shim_argv(container.id, bundle, proc.dir, container.runtime,
                                  self.runtime_root, tty=tty, stdin=opts["stdin"],
                                  console_size=opts["console_size"], log=container.log,
                                  start=opts["start"])
        try:
            result = await launcher.launch(argv)
        except launcher.LaunchError as err:
            raise launch_failed(err) from err
        fill_launched(proc, result)
        proc.status = model.CREATED
        self.events.emit("create", container.id, pid=proc.pid)
        # Started by the shim (create and start in one): an early exit is
        # published after the start, not before it.
        proc.hold_exit = opts["start"]
        self.tracker.track(proc)
        if opts["start"]:
            proc.hold_exit = False
            await self.mark_started(proc)

    async def start(self, cid):
        """Start the created init process."""
        container = self.container(cid)
        async with container.lock:
            proc = container.init
            if proc.status != model.CREATED:
                raise HttpError(409, f"start {cid}: container is {proc.status}, not created")
            proc.hold_exit = True
            try:
                await self.runtime(container).start(proc)
            except runtime.RuntimeFailure as err:
                proc.hold_exit = False
                self.tracker.reconcile(proc)
                raise HttpError(502, str(err)) from err
            proc.hold_exit = False
            await self.mark_started(proc)
        return container

    async def mark_started(self, proc):
        """Record and publish the start of PROC, then publish an exit that came meanwhile."""
        proc.started_at = layout.format_time(layout.now_ns())
        if proc.status == model.CREATED:
            proc.status = model.RUNNING
        self.events.emit("start", proc.container.id, proc.exec_id, pid=proc.pid)
        try:
            await offload(write_times, proc.dir, started_at=proc.started_at)
        except OSError as err:
            log.error("write start time in %s: %s", proc.dir, err.strerror)
        self.tracker.reconcile(proc)

    async def kill(self, cid, body):
        """Send a signal to the init process (or all processes, or one exec)."""
        signum, all_processes, exec_id = bodies.parse_kill(body)
        proc = self.process(cid, exec_id)
        if proc.status == model.STOPPED:
            raise HttpError(409, f"kill {cid}: process is stopped")
        try:
            if exec_id is None:
                await self.runtime(proc.container).kill(proc, signum, all_processes)
            else:
                runtime.signal_pid(proc.pid, proc.starttime, signum, f"exec {exec_id}")
        except ProcessLookupError as err:
            raise HttpError(409, f"kill {cid}: {err}") from err
        except runtime.RuntimeFailure as err:
            raise HttpError(502, str(err)) from err

    async def pause(self, cid, pause=True):
        """Freeze (PAUSE) or thaw the container."""
        container = self.container(cid)
        verb, need, new = ("pause", model.RUNNING, model.PAUSED) if pause else \
            ("resume", model.PAUSED, model.RUNNING)
        async with container.lock:
            if container.init.status != need:
                raise HttpError(409, f"{verb} {cid}: container is {container.init.status}, "
                                     f"not {need}")
            rt = self.runtime(container)
            try:
                await (rt.pause(container) if pause else rt.resume(container))
            except runtime.RuntimeFailure as err:
                raise HttpError(502, str(err)) from err
            if container.init.status == need:
                container.init.status = new
            self.events.emit(verb, cid)
        return container

    async def wait(self, cid, exec_id=None):
        """Block until the process exits; return its exit."""
        proc = self.process(cid, exec_id)
        if proc.status != model.UNKNOWN:
            await asyncio.shield(proc.done_future())
        if proc.status == model.UNKNOWN:
            raise HttpError(409, f"wait {cid}: status is unknown ({proc.error})")
        if proc.status != model.STOPPED:
            raise HttpError(404, f"wait {cid}: the container was deleted")
        return {"exit_code": proc.exit_code, "exited_at": proc.exited_at,
                "oom_killed": proc.oom_killed}

    def resize(self, cid, body):
        """Set the terminal size of a process."""
        cols, rows, exec_id = bodies.parse_resize(body)
        proc = self.process(cid, exec_id)
        if not proc.tty:
            raise HttpError(409, f"resize {cid}: the process has no terminal")
        if proc.finished:
            raise HttpError(409, f"resize {cid}: process is {proc.status}")
        try:
            runtime.write_control(proc.dir, {"resize": [cols, rows]})
        except runtime.RuntimeFailure as err:
            raise HttpError(409, str(err)) from err

    async def delete(self, cid, force=False):
        """Delete a stopped container (FORCE: kill it first) and all its layout."""
        await self._delete(self.container(cid), force)

    async def _delete(self, container, force):
        cid = container.id
        async with container.lock:
            if container.deleting:
                raise HttpError(404, f"no such container: {cid}")
            status = container.init.status
            if not force and status != model.STOPPED:
                raise HttpError(409, f"delete {cid}: container is {status}; stop it first "
                                     "or delete with force")
            if force:
                await self._kill_all(container)
            await self._wait_shims(container)
            try:
                await self.runtime(container).delete(container, force=force)
            except runtime.RuntimeFailure as err:
                raise HttpError(502, str(err)) from err
            container.deleting = True
            self._forget(container)
            await offload(layout.remove_tree, container.dir)
            # Only now: until the directory is gone, the id is not free.
            self.registry.remove(container)
        self.events.emit("delete", cid)

    def schedule_auto_remove(self, container):
        """Remove an exited --rm container once no attach stream reads its output."""
        if not container.auto_remove or container.removing or container.deleting:
            return
        container.removing = True
        task = asyncio.ensure_future(self._auto_remove(container))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _auto_remove(self, container):
        try:
            await container.wait_idle()
            await self._delete(container, force=True)
        except HttpError as err:
            # Left visible (stopped) for a manual delete.
            log.error("auto-remove %s: %s", container.id, err.message)
            container.removing = False
        finally:
            container.resolve_removed()

    async def _wait_removed(self, cid):
        """Wait (bounded) until an auto-removal of CID under way has ended."""
        container = self.registry.get(cid)
        if container is not None and container.removing:
            try:
                await asyncio.wait_for(asyncio.shield(container.removed_future()), REMOVE_WAIT)
            except asyncio.TimeoutError:
                pass  # answered 409 by the caller: the id is still taken

    async def _kill_all(self, container):
        """SIGKILL every exec and the init process (through the runtime)."""
        for proc in container.execs.values():
            try:
                runtime.signal_pid(proc.pid, proc.starttime, signal.SIGKILL)
            except ProcessLookupError:
                pass
        rt = self.runtime(container)
        if container.init.status == model.PAUSED:
            await self._ignore_failure(rt.resume(container))
        if container.init.pid and layout.pid_alive(container.init.pid, container.init.starttime):
            await self._ignore_failure(rt.kill(container.init, signal.SIGKILL, True))

    async def _ignore_failure(self, operation):
        try:
            await operation
        except runtime.RuntimeFailure as err:
            log.info("ignore a runtime failure during delete --force: %s", err)

    async def _wait_shims(self, container):
        """Wait (bounded) until every shim of CONTAINER has exited."""
        pending = [p.gone_future() for p in container.processes() if not p.shim_gone]
        if pending:
            _done, late = await asyncio.wait(pending, timeout=SHIM_EXIT_TIMEOUT)
            if late:
                log.warning("delete %s: %d shims still running after %ss", container.id,
                            len(late), SHIM_EXIT_TIMEOUT)

    def _forget(self, container):
        for proc in container.processes():
            self.tracker.untrack(proc)
            if not proc.finished:
                # A shim that outlived the bounded wait: end waiters and followers.
                proc.status, proc.error = model.UNKNOWN, "deleted"
            proc.resolve_done()
            proc.resolve_gone()
            self.tracker.log_changes.poke(proc.dir)

    async def refresh_all(self, containers):
        """Refresh reattached init processes: one `runc list` per runtime, not N `runc state`."""
        # With 500 containers, 500 concurrent `runc state` took seconds on 2 cores.
        groups = {}
        for container in containers:
            if container.init.status in (model.CREATED, model.RUNNING):
                rt = self.runtime(container)
                key = (rt.binary, rt.root) if isinstance(rt, runtime.Runc) else None
                groups.setdefault(key, []).append(container)
        jobs = [self.refresh_status(c) for c in groups.pop(None, [])]
        jobs += [self._refresh_group(runtime.Runc(*key), group) for key, group in groups.items()]
        await asyncio.gather(*jobs)

    async def _refresh_group(self, rt, group):
        try:
            listed = json.loads(await rt.run("list", "--format", "json") or b"null")
        except (runtime.RuntimeFailure, ValueError):
            listed = None
        if not isinstance(listed, list):  # null: runc knows none of them
            listed = [] if listed is None else None
        if listed is None:
            await asyncio.gather(*(self.refresh_status(c) for c in group))
            return
        found = {item.get("id"): item for item in listed if isinstance(item, dict)}
        for container in group:
            self.apply_runtime_state(container, found.get(container.id) or {})

    async def refresh_status(self, container):
        """Ask the runtime whether a reattached init process is created, running or paused."""
        if container.init.status not in (model.CREATED, model.RUNNING):
            return
        self.apply_runtime_state(container, await self.runtime(container).state(container) or {})

    def apply_runtime_state(self, container, found):
        """Take the runtime's state FOUND (runc state/list shape) for the init process."""
        init = container.init
        if init.status not in (model.CREATED, model.RUNNING):
            return
        status = found.get("status")
        if init.pid is None and isinstance(found.get("pid"), int) and found["pid"] > 0:
            # The manager died before the shim's result arrived: take runc's word.
            init.pid = found["pid"]
            init.starttime = layout.proc_starttime(init.pid)
        if status in (model.CREATED, model.RUNNING, model.PAUSED) and not init.finished:
            init.status = status


def read_process_spec(container):
    """Return a copy of the `process` object of the container's config.json (for exec)."""
    process = read_bundle_process(container.bundle, 409, f"exec {container.id}: ")
    return json.loads(json.dumps(process))
