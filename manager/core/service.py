"""The core's operations: create, start, exec, kill, pause, resume, wait, resize, delete.

Front ends (the HTTP server, the containerd shim) call these with validated
options and map the core's errors (manager/core/errors.py) to their own codes.
"""

import asyncio
import logging
import os
import signal

from shim.contract import hooks, layout, restore

from manager.core import checkpoint, execs, model, reconcile, usage
from manager.core.errors import (AlreadyExists, CoreError, InvalidArgument, NotFound,
                                 RuntimeFailed, WrongState, refuse_newer)
from manager.core.files import (bundle_terminal, cgroup_path, fill_launched, offload,
                                read_process_spec, write_times)
from manager.core.spec import default_spec
from manager.spawn import launcher, runtime

log = logging.getLogger("tether.service")

SHIM_EXIT_TIMEOUT = 10.0
# A create of an id whose --rm container is being removed waits this long for it.
REMOVE_WAIT = 30.0


def launch_failed(err):
    """Return the core's error for a shim that failed to start a process."""
    return RuntimeFailed(str(err), exit_code=err.exit_code)


class Service(usage.ResourceOps):
    """The operations behind the API routes."""

    def __init__(self, root, spawn, reg, bus, tracker):
        self.root = root
        self.spawn = spawn
        self.registry = reg
        self.events = bus
        self.tracker = tracker
        tracker.on_init_exit = self.schedule_auto_remove
        self._tasks = set()

    def runtime(self, container):
        """Return the runtime object of CONTAINER."""
        return self.spawn.runtime(container)

    def container(self, cid):
        """Return the container CID; 400 for a malformed id, 404 if unknown."""
        try:
            layout.validate_id(cid)
        except ValueError as err:
            raise InvalidArgument(str(err)) from err
        container = self.registry.get(cid)
        if container is None or not container.visible:
            raise NotFound(f"no such container: {cid}")
        return container

    def process(self, cid, exec_id=None):
        """Return the init process of CID, or its exec EXEC_ID; 404 if unknown."""
        container = self.container(cid)
        try:
            return container.process(exec_id)
        except KeyError:
            raise NotFound(f"no such exec in container {cid}: {exec_id}") from None

    async def create(self, opts, hold=False):
        """Create a container from OPTS (server/bodies.parse_create's shape): write its
        directory, start its shim (runtime create, or run with opts["start"]). HOLD:
        count an attach stream on it (the caller releases it) from before the start.
        """
        cid = opts["id"]
        tty = bundle_terminal(opts["bundle"]) if "bundle" in opts else opts["tty"]
        if "bundle" in opts and opts["tty_given"] and opts["tty"] != tty:
            raise InvalidArgument(f"create {cid}: tty={opts['tty']} but the bundle's "
                                 f"process.terminal is {tty}")
        cdir = layout.container_dir(self.root, cid)
        await self._wait_removed(cid)
        if self.registry.get(cid) is not None:
            raise AlreadyExists(f"create {cid}: a container with this id exists")
        try:
            layout.make_private_dir(cdir)
        except FileExistsError:
            raise AlreadyExists(f"create {cid}: a container with this id exists") from None
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
                if isinstance(err, RuntimeFailed):
                    # Nothing half-created may stay behind, in runc's state neither.
                    await self._ignore_failure(self.runtime(container).delete(container, True))
                layout.remove_tree(cdir)
                raise
        return container

    async def _create_init(self, container, opts, tty):
        cdir = container.dir
        if "rootfs" in opts:
            bundle = os.path.join(cdir, layout.BUNDLE_DIR)
            layout.make_private_dir(bundle, 0o755)
            spec = default_spec(rootfs=opts["rootfs"], args=opts["args"], env=opts["env"],
                                cwd=opts["cwd"] or "/", tty=tty, **opts["spec"])
            spec["linux"]["cgroupsPath"] = cgroup_path(self.root, container.id)
            await offload(layout.write_json, os.path.join(bundle, layout.BUNDLE_CONFIG), spec)
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
        if opts.get("exit_hook"):  # read by the init process's shim after the exit
            await offload(hooks.write_spec, cdir, opts["exit_hook"])
            container.remember_exit_hook(opts["exit_hook"])
        if opts.get("checkpoint"):  # the shim runs `runc restore` in place of create
            await offload(restore.write_request, cdir, opts["checkpoint"])
        proc = container.init
        proc.tty, proc.stdin = tty, opts["stdin"]
        argv = self.spawn.shim_argv(container.id, bundle, proc.dir, container.runtime,
                                    tty=tty, stdin=opts["stdin"],
                                    console_size=opts["console_size"], log=container.log,
                                    start=opts["start"])
        try:
            result = await self.spawn.launch(argv)
        except launcher.LaunchError as err:
            if opts.get("checkpoint"):
                raise RuntimeFailed(checkpoint.restore_failure(
                    container.id, opts["checkpoint"], str(err)), exit_code=err.exit_code) from err
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
                raise WrongState(f"start {cid}: container is {proc.status}, not created")
            proc.hold_exit = True
            try:
                await self.runtime(container).start(proc)
            except runtime.RuntimeFailure as err:
                proc.hold_exit = False
                self.tracker.reconcile(proc)
                raise RuntimeFailed(str(err)) from err
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
            # Inline: no fsync (a live process's fact), and a worker thread's round
            # trip cost more than the write (~0.3 ms before the answer).
            write_times(proc.dir, started_at=proc.started_at)
        except OSError as err:
            log.error("write start time in %s: %s", proc.dir, err.strerror)
        self.tracker.reconcile(proc)

    async def exec(self, cid, opts):
        """Start an exec in container CID from OPTS (bodies.parse_exec's shape); return its Process."""
        container = self.container(cid)
        async with container.lock:
            if container.deleting:
                raise NotFound(f"no such container: {cid}")
            if container.init.status != model.RUNNING:
                raise WrongState(f"exec {cid}: container is {container.init.status}, "
                                 "not running")
            exec_id = opts["exec_id"] or execs.next_exec_id(container)
            if exec_id in container.execs:
                raise AlreadyExists(f"exec {cid}: exec id {exec_id} exists")
            process = execs.build_process(read_process_spec(container), opts)
            proc_dir, spec_path, created_at = await offload(execs.prepare_exec_dir, container,
                                                            exec_id, process)
            proc = model.Process(container, exec_id, proc_dir)
            proc.tty, proc.stdin = opts["tty"], opts["stdin"]
            proc.created_at = created_at
            container.execs[exec_id] = proc
            proc.hold_exit = True
            try:
                await self._launch_exec(container, proc, opts, spec_path)
            except BaseException:
                del container.execs[exec_id]
                await offload(layout.remove_tree, proc_dir)
                raise
            proc.hold_exit = False
            proc.status = model.CREATED
            await self.mark_started(proc)
            self.tracker.track(proc)
        return proc

    async def delete_exec(self, cid, exec_id):
        """Remove the ended exec EXEC_ID and its directory; its id is free again.

        The HTTP API keeps execs until their container goes; containerd deletes
        each exec, and may reuse its id.
        """
        proc = self.process(cid, exec_id)
        refuse_newer(proc.container, f"delete exec {exec_id} of")
        if not proc.finished:
            raise WrongState(f"delete exec {exec_id} of {cid}: it is {proc.status}")
        async with proc.container.lock:
            self.tracker.untrack(proc)
            proc.container.execs.pop(proc.name, None)
            await offload(layout.remove_tree, proc.dir)

    async def _launch_exec(self, container, proc, opts, spec_path):
        argv = self.spawn.shim_argv(container.id, container.bundle, proc.dir, container.runtime,
                                    tty=opts["tty"], stdin=opts["stdin"],
                                    console_size=opts["console_size"], process_file=spec_path,
                                    log=container.log)
        try:
            result = await self.spawn.launch(argv)
        except launcher.LaunchError as err:
            raise launch_failed(err) from err
        fill_launched(proc, result)

    async def kill(self, cid, signum, all_processes=False, exec_id=None):
        """Send SIGNUM to the init process (or all processes, or one exec)."""
        proc = self.process(cid, exec_id)
        refuse_newer(proc.container, "kill")
        if proc.status == model.STOPPED:
            raise WrongState(f"kill {cid}: process is stopped")
        try:
            if exec_id is None:
                await self.runtime(proc.container).kill(proc, signum, all_processes)
            else:
                self.spawn.signal_pid(proc.pid, proc.starttime, signum, f"exec {exec_id}")
        except ProcessLookupError as err:
            raise WrongState(f"kill {cid}: {err}") from err
        except runtime.RuntimeFailure as err:
            raise RuntimeFailed(str(err)) from err

    async def pause(self, cid, pause=True):
        """Freeze (PAUSE) or thaw the container."""
        container = self.container(cid)
        verb, need, new = ("pause", model.RUNNING, model.PAUSED) if pause else \
            ("resume", model.PAUSED, model.RUNNING)
        async with container.lock:
            if container.init.status != need:
                raise WrongState(f"{verb} {cid}: container is {container.init.status}, "
                                     f"not {need}")
            rt = self.runtime(container)
            try:
                await (rt.pause(container) if pause else rt.resume(container))
            except runtime.RuntimeFailure as err:
                raise RuntimeFailed(str(err)) from err
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
            raise WrongState(f"wait {cid}: status is unknown ({proc.error})")
        if proc.status != model.STOPPED:
            raise NotFound(f"wait {cid}: the container was deleted")
        return {"exit_code": proc.exit_code, "exited_at": proc.exited_at,
                "oom_killed": proc.oom_killed}

    def resize(self, cid, cols, rows, exec_id=None):
        """Set the terminal size of a process to COLS x ROWS."""
        proc = self.process(cid, exec_id)
        if not proc.tty:
            raise WrongState(f"resize {cid}: the process has no terminal")
        if proc.finished:
            raise WrongState(f"resize {cid}: process is {proc.status}")
        try:
            self.spawn.write_control(proc.dir, {"resize": [cols, rows]})
        except runtime.RuntimeFailure as err:
            raise WrongState(str(err)) from err

    async def delete(self, cid, force=False):
        """Delete a stopped container (FORCE: kill it first) and all its state."""
        await self._delete(self.container(cid), force)

    async def _delete(self, container, force):
        cid = container.id
        async with container.lock:
            if container.deleting:
                raise NotFound(f"no such container: {cid}")
            refuse_newer(container, "delete")
            status = container.init.status
            if not force and status != model.STOPPED:
                raise WrongState(f"delete {cid}: container is {status}; stop it first "
                                     "or delete with force")
            if force:
                await self._kill_all(container)
            await self._wait_shims(container)
            try:
                await self.runtime(container).delete(container, force=force)
            except runtime.RuntimeFailure as err:
                raise RuntimeFailed(str(err)) from err
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
        except CoreError as err:
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
                self.spawn.signal_pid(proc.pid, proc.starttime, signal.SIGKILL)
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
        """Refresh reattached init processes (manager/core/reconcile.py)."""
        await reconcile.refresh_all(self.spawn, containers)
