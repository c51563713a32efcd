"""containerd.task.v2.Task over Tether's core: decode, call the core, encode; errors to gRPC codes.

Each container process is created by the core (manager/core/service.py), so it
is owned by a tether-shim with the on-disk contract. This module adds what
containerd's API has and Tether's does not: rootfs mounts, stdio targets
(relay.py), execs created before they start, per-process delete, pids,
stats, update and checkpoint (runc called directly).
"""

import asyncio
import json
import logging
import os
import tempfile

from shim.contract import layout

from manager.containerd import cleanup, messages as m, mounts, relay, stats
from manager.containerd.records import Record, Task
from manager.containerd.taskspec import (check_options, check_rootfs, create_options,
                                         ensure_default_path, exec_options, exit_of,
                                         parse_process_spec, to_grpc)
from manager.containerd.ttrpc import (ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT,
                                      NOT_FOUND, UNIMPLEMENTED, UNKNOWN, RpcError)
from manager.core import model
from manager.spawn import runtime

log = logging.getLogger("tether.containerd.task")

SERVICE = "containerd.task.v2.Task"
VERSION = "tether"
STATUS = {model.CREATED: m.CREATED, model.RUNNING: m.RUNNING, model.PAUSED: m.PAUSED,
          model.STOPPED: m.STOPPED, model.UNKNOWN: m.UNKNOWN}
OUTPUT_WAIT = 10.0


class TaskService:
    """The Task API of one serving process over one core Service."""

    def __init__(self, service, changes, root, namespace, publisher, on_idle):
        self.service = service
        self.changes = changes
        self.root = root
        self.namespace = namespace
        self.publisher = publisher
        self.on_idle = on_idle
        self.tasks = {}

    def handlers(self):
        """Return the ttrpc handler table."""
        names = ("State", "Create", "Start", "Delete", "Pids", "Pause", "Resume", "Checkpoint",
                 "Kill", "Exec", "ResizePty", "CloseIO", "Update", "Wait", "Stats", "Connect",
                 "Shutdown")
        table = {}
        for name in names:
            table[(SERVICE, name)] = self._wrap(getattr(self, name.lower()))
        return table

    @staticmethod
    def waits():
        """Return the calls that only wait: cancelled when containerd's connection ends."""
        return {(SERVICE, "Wait")}

    @staticmethod
    def _wrap(method):
        async def handle(payload, _conn):
            try:
                return await method(payload)
            except RpcError:
                raise
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as err:
                raise to_grpc(err) from err
        return handle

    def forget(self, task_id):
        """Drop TASK_ID; the last one gone arms the idle exit (no Shutdown may follow)."""
        self.tasks.pop(task_id, None)
        if not self.tasks:
            self.on_idle()

    def task(self, task_id):
        task = self.tasks.get(task_id)
        if task is None:
            raise RpcError(NOT_FOUND, f"task {task_id} not found")
        return task

    def process(self, task_id, exec_id):
        """Return (task, record, core process) of TASK_ID/EXEC_ID."""
        task = self.task(task_id)
        record = task.records.get(exec_id or None)
        if record is None or record.deleted:
            raise RpcError(NOT_FOUND, f"process {exec_id or task_id} not found")
        try:
            proc = self.service.process(task_id, exec_id or None)
        except Exception as err:
            if exec_id and record.spec is not None:
                return task, record, None  # an exec that is not started yet
            raise to_grpc(err) from err
        return task, record, proc

    # -- life cycle -------------------------------------------------------

    async def create(self, payload):
        req = m.CREATE_TASK_REQUEST.decode(payload)
        task_id, bundle = req["id"], req["bundle"]
        runtime_name = check_options(req["options"])
        if req["checkpoint"]:
            raise RpcError(UNIMPLEMENTED, "create from a checkpoint (restore) is not supported")
        if task_id in self.tasks:
            raise RpcError(ALREADY_EXISTS, f"task {task_id} already exists")
        record = Record(req["stdin"], req["stdout"], req["stderr"], req["terminal"])
        task = Task(task_id, bundle, req["rootfs"], record)
        loop = asyncio.get_running_loop()
        task.creating = loop.create_future()
        try:
            response = await self._create(req, task, record, runtime_name)
        except BaseException:
            task.creating.set_result(False)
            raise
        task.creating.set_result(True)
        return response

    async def _create(self, req, task, record, runtime_name):
        task_id, bundle = task.id, task.bundle
        loop = asyncio.get_running_loop()
        # Known before the pending mark goes: a Shutdown meanwhile sees one or the other.
        self.tasks[task_id] = task
        try:
            os.unlink(os.path.join(self.root, "pending", task_id))
        except OSError:
            pass
        try:
            await loop.run_in_executor(None, mounts.mount_all, self.root, task_id, bundle,
                                       req["rootfs"])
        except mounts.MountError as err:
            self.forget(task_id)
            raise RpcError(INVALID_ARGUMENT, str(err)) from err
        try:
            check_rootfs(bundle)
            await loop.run_in_executor(None, ensure_default_path, bundle)
            opts = create_options(task_id, bundle, req["terminal"], bool(req["stdin"]),
                                  runtime_name)
            record.io = relay.ProcessIO(None, self.changes, req["stdin"], req["stdout"],
                                        req["stderr"], req["terminal"], (task_id, self.namespace))
            await record.io.open()
            relayed = record.io.relay_record()
            if relayed is not None:  # for `delete` if we die first (cleanup.finish_relay)
                layout.write_json(os.path.join(bundle, cleanup.RELAY_FILE), relayed,
                                  durable=False)
            container = await self.service.create(opts)
        except BaseException as err:
            self.forget(task_id)
            if record.io is not None:
                record.io.close()
            await loop.run_in_executor(None, mounts.unmount_recorded, self.root, task_id)
            if isinstance(err, relay.RelayError):
                raise RpcError(INVALID_ARGUMENT, str(err)) from err
            raise
        record.io.proc = container.init
        record.io.start()
        return m.CREATE_TASK_RESPONSE.encode({"pid": container.init.pid or 0})

    async def start(self, payload):
        req = m.ID_EXEC_REQUEST.decode(payload)
        task, record, proc = self.process(req["id"], req["exec_id"])
        if not req["exec_id"]:
            container = await self.service.start(task.id)
            return m.PID_RESPONSE.encode({"pid": container.init.pid or 0})
        if proc is not None:
            raise RpcError(FAILED_PRECONDITION, f"exec {req['exec_id']} was started already")
        opts = exec_options(req["exec_id"], record.spec, record.terminal, bool(record.stdin))
        record.io = relay.ProcessIO(None, self.changes, record.stdin, record.stdout,
                                    record.stderr, record.terminal, (task.id, self.namespace))
        try:
            await record.io.open()
            proc = await self.service.exec(task.id, opts)
        except relay.RelayError as err:
            raise RpcError(INVALID_ARGUMENT, str(err)) from err
        except BaseException:
            record.io.close()
            record.deleted = True
            task.records.pop(req["exec_id"], None)
            record.mark_started(RpcError(NOT_FOUND, f"exec {req['exec_id']} failed to start"))
            raise
        record.spec = None
        record.mark_started()
        record.io.proc = proc
        record.io.start()
        return m.PID_RESPONSE.encode({"pid": proc.pid or 0})

    async def exec(self, payload):
        req = m.EXEC_PROCESS_REQUEST.decode(payload)
        task = self.task(req["id"])
        exec_id = req["exec_id"]
        try:
            layout.validate_id(exec_id, "exec id")
        except ValueError as err:
            raise RpcError(INVALID_ARGUMENT, str(err)) from err
        if exec_id in task.records or exec_id in ("init", "bundle"):
            raise RpcError(ALREADY_EXISTS, f"exec {exec_id} already exists")
        spec = parse_process_spec(req["spec"])
        if self.service.process(task.id).status != model.RUNNING:
            raise RpcError(FAILED_PRECONDITION, f"exec in {task.id}: the task is not running")
        task.records[exec_id] = Record(req["stdin"], req["stdout"], req["stderr"],
                                       req["terminal"], spec)
        self.publisher.publish("TaskExecAdded", {"container_id": task.id, "exec_id": exec_id})
        return b""

    async def delete(self, payload):
        req = m.ID_EXEC_REQUEST.decode(payload)
        await self.task(req["id"]).created()
        task, record, proc = self.process(req["id"], req["exec_id"])
        if req["exec_id"]:
            if proc is not None and not proc.finished:
                raise RpcError(FAILED_PRECONDITION, f"exec {req['exec_id']} is still running")
            record.deleted = True
            del task.records[req["exec_id"]]
            record.mark_started(RpcError(NOT_FOUND, f"exec {req['exec_id']} was deleted"))
            if record.io is not None:
                await record.io.wait_output(OUTPUT_WAIT)
                record.io.close()
            response = exit_of(proc)
            if proc is not None:
                await self.service.delete_exec(task.id, req["exec_id"])
            return m.DELETE_RESPONSE.encode(response)
        init = self.service.process(task.id)
        if init.status not in (model.STOPPED, model.CREATED, model.UNKNOWN):
            raise RpcError(FAILED_PRECONDITION, f"task {task.id} is {init.status}: stop it first")
        response = exit_of(init)
        await self.service.delete(task.id, force=init.status != model.STOPPED)
        for rec in task.records.values():
            if rec.io is not None:
                rec.io.close()
        await asyncio.get_running_loop().run_in_executor(
            None, mounts.unmount_recorded, self.root, task.id)
        self.forget(task.id)
        return m.DELETE_RESPONSE.encode(response)

    async def wait(self, payload):
        req = m.ID_EXEC_REQUEST.decode(payload)
        _task, record, proc = self.process(req["id"], req["exec_id"])
        if proc is None:
            await asyncio.shield(record.started())
        result = await self.service.wait(req["id"], req["exec_id"] or None)
        if record.io is not None:
            await record.io.wait_output(OUTPUT_WAIT)
        return m.WAIT_RESPONSE.encode({
            "exit_status": result["exit_code"],
            "exited_at": m.timestamp_ns(layout.parse_time(result["exited_at"]))})

    async def state(self, payload):
        req = m.ID_EXEC_REQUEST.decode(payload)
        await self.task(req["id"]).created()
        task, record, proc = self.process(req["id"], req["exec_id"])
        answer = {"id": req["exec_id"] or task.id, "bundle": task.bundle,
                  "stdin": record.stdin, "stdout": record.stdout, "stderr": record.stderr,
                  "terminal": record.terminal, "exec_id": req["exec_id"], "exited_at": {}}
        if proc is None:
            answer["status"] = m.CREATED
        else:
            answer.update(pid=proc.pid or 0, status=STATUS.get(proc.status, m.UNKNOWN))
            if proc.status == model.STOPPED:
                answer.update(exit_of(proc))
        return m.STATE_RESPONSE.encode(answer)

    # -- signals and control ----------------------------------------------

    async def kill(self, payload):
        req = m.KILL_REQUEST.decode(payload)
        task, _record, proc = self.process(req["id"], req["exec_id"])
        if proc is None or proc.finished:
            raise RpcError(NOT_FOUND, f"process {req['exec_id'] or task.id} not found: "
                                      "it is not running")
        try:
            await self.service.kill(task.id, req["signal"], req["all"], req["exec_id"] or None)
        except Exception as err:
            if proc.finished:
                raise RpcError(NOT_FOUND, f"process {req['exec_id'] or task.id} not found: "
                                          "it exited") from err
            raise
        return b""

    async def pause(self, payload):
        await self.service.pause(m.ID_REQUEST.decode(payload)["id"], True)
        return b""

    async def resume(self, payload):
        await self.service.pause(m.ID_REQUEST.decode(payload)["id"], False)
        return b""

    async def resizepty(self, payload):
        req = m.RESIZE_PTY_REQUEST.decode(payload)
        self.process(req["id"], req["exec_id"])
        self.service.resize(req["id"], req["width"], req["height"], req["exec_id"] or None)
        return b""

    async def closeio(self, payload):
        req = m.CLOSE_IO_REQUEST.decode(payload)
        _task, record, _proc = self.process(req["id"], req["exec_id"])
        if req["stdin"] and record.io is not None:
            await record.io.close_stdin()
        return b""

    # -- inspection and resources -------------------------------------------

    async def connect(self, payload):
        # A containerd restarted during a Create (it connects to the shim of every
        # bundle it finds) learns of the task once created, not NOT_FOUND meanwhile:
        # that makes it clean the task up while the Create goes on, which then
        # leaves a task no containerd knows (the containerd chaos run found one).
        task = self.task(m.ID_REQUEST.decode(payload)["id"])
        await task.created()
        proc = self.service.process(task.id)
        return m.CONNECT_RESPONSE.encode({"shim_pid": os.getpid(), "task_pid": proc.pid or 0,
                                          "version": VERSION})

    async def pids(self, payload):
        task = self.task(m.ID_REQUEST.decode(payload)["id"])
        container = self.service.container(task.id)
        out = await self._runc(container, "ps", "--format", "json", task.id)
        try:
            pids = json.loads(out or b"[]") or []
        except ValueError as err:
            raise RpcError(UNKNOWN, f"runc ps: {err}") from err
        by_pid = {p.pid: p.exec_id for p in container.processes() if p.exec_id and p.pid}
        processes = []
        for pid in pids:
            info = {"pid": pid}
            if pid in by_pid:
                info["info"] = {"type_url": "containerd.runc.v1.ProcessDetails",
                                "value": m.PROCESS_DETAILS.encode({"exec_id": by_pid[pid]})}
            processes.append(info)
        return m.PIDS_RESPONSE.encode({"processes": processes})

    async def stats(self, payload):
        task = self.task(m.ID_REQUEST.decode(payload)["id"])
        proc = self.service.process(task.id)
        if proc.finished or not proc.pid:
            raise RpcError(NOT_FOUND, f"task {task.id}: no running process")
        try:
            metrics = await asyncio.get_running_loop().run_in_executor(
                None, stats.read_metrics, proc.pid)
        except stats.StatsError as err:
            raise RpcError(FAILED_PRECONDITION, str(err)) from err
        return m.STATS_RESPONSE.encode({"stats": {"type_url": m.METRICS_V1_URL,
                                                  "value": m.METRICS_V1.encode(metrics)}})

    async def update(self, payload):
        req = m.UPDATE_TASK_REQUEST.decode(payload)
        task = self.task(req["id"])
        resources = req["resources"]
        if resources is None or not resources["value"]:
            return b""
        try:
            json.loads(resources["value"])
        except ValueError as err:
            raise RpcError(INVALID_ARGUMENT, f"update {task.id}: resources are not JSON") from err
        container = self.service.container(task.id)
        with tempfile.NamedTemporaryFile(dir=container.dir, prefix=".resources-") as f:
            f.write(resources["value"])
            f.flush()
            await self._runc(container, "update", "--resources", f.name, task.id)
        return b""

    async def checkpoint(self, payload):
        req = m.CHECKPOINT_TASK_REQUEST.decode(payload)
        task = self.task(req["id"])
        container = self.service.container(task.id)
        await self._runc(container, "checkpoint", "--image-path", req["path"],
                         "--leave-running", task.id)
        return b""

    async def shutdown(self, payload):
        m.SHUTDOWN_REQUEST.decode(payload)
        if not self.tasks:
            self.on_idle()
        return b""

    async def _runc(self, container, *args):
        rt = self.service.runtime(container)
        if not isinstance(rt, runtime.Runc):
            raise RpcError(UNIMPLEMENTED, f"{args[0]} needs an OCI runtime")
        try:
            return await rt.run(*args)
        except runtime.RuntimeFailure as err:
            raise RpcError(UNKNOWN, str(err)) from err
