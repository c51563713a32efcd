"""Exec: run another process in a running container, under its own shim."""

import os
import re

from shim.contract import layout

from manager.server import bodies
from manager.spawn import launcher
from manager.core import model
from manager.server.http import HttpError
from manager.core.service import fill_launched, launch_failed, offload, read_process_spec, write_times

SPEC_FILE = "spec.json"
_EXEC_N_RE = re.compile(r"exec-(\d+)")


def next_exec_id(container):
    """Return exec-N with N one past the highest exec-N of the container (or on disk)."""
    names = set(container.execs)
    try:
        names.update(os.listdir(container.dir))
    except FileNotFoundError:
        pass
    numbers = [int(m.group(1)) for m in map(_EXEC_N_RE.fullmatch, names) if m]
    return f"exec-{max(numbers, default=0) + 1}"


def build_process(base, opts):
    """Return the exec's process spec: the container's, with args, env, cwd and tty applied."""
    process = dict(base)
    process["args"] = list(opts["args"])
    process["env"] = list(base.get("env") or []) + list(opts["env"])
    if opts["cwd"]:
        process["cwd"] = opts["cwd"]
    process["terminal"] = opts["tty"]
    process.pop("consoleSize", None)
    if opts["tty"] and opts["console_size"]:
        cols, rows = opts["console_size"]
        process["consoleSize"] = {"width": cols, "height": rows}
    return process


def prepare_exec_dir(container, exec_id, process):
    """Create the exec's process directory (0700) with its process spec; 409 if it exists."""
    proc_dir = os.path.join(container.dir, exec_id)
    try:
        layout.make_private_dir(proc_dir)
    except FileExistsError:
        raise HttpError(409, f"exec {container.id}: exec id {exec_id} exists") from None
    spec_path = os.path.join(proc_dir, SPEC_FILE)
    layout.write_json(spec_path, process, 0o600)
    write_times(proc_dir, created_at=layout.format_time(layout.now_ns()))
    return proc_dir, spec_path


async def exec_process(service, cid, body):
    """Start an exec in container CID; return its Process."""
    opts = bodies.parse_exec(body)
    container = service.container(cid)
    async with container.lock:
        if container.deleting:
            raise HttpError(404, f"no such container: {cid}")
        if container.init.status != model.RUNNING:
            raise HttpError(409, f"exec {cid}: container is {container.init.status}, "
                                 "not running")
        exec_id = opts["exec_id"] or next_exec_id(container)
        if exec_id in container.execs:
            raise HttpError(409, f"exec {cid}: exec id {exec_id} exists")
        process = build_process(read_process_spec(container), opts)
        proc_dir, spec_path = await offload(prepare_exec_dir, container, exec_id, process)
        proc = model.Process(container, exec_id, proc_dir)
        proc.tty, proc.stdin = opts["tty"], opts["stdin"]
        proc.created_at = layout.read_json(os.path.join(proc_dir, "times.json"))["created_at"]
        container.execs[exec_id] = proc
        proc.hold_exit = True
        try:
            await _launch(service, container, proc, opts, spec_path)
        except BaseException:
            del container.execs[exec_id]
            await offload(layout.remove_tree, proc_dir)
            raise
        proc.hold_exit = False
        proc.status = model.CREATED
        await service.mark_started(proc)
        service.tracker.track(proc)
    return proc


async def _launch(service, container, proc, opts, spec_path):
    argv = launcher.shim_argv(container.id, container.bundle, proc.dir, container.runtime,
                              service.runtime_root, tty=opts["tty"], stdin=opts["stdin"],
                              console_size=opts["console_size"], process_file=spec_path,
                              log=container.log)
    try:
        result = await launcher.launch(argv)
    except launcher.LaunchError as err:
        raise launch_failed(err) from err
    fill_launched(proc, result)
