"""What the core reads and writes beside the shim: bundles, times.json, the launch result."""

import asyncio
import functools
import hashlib
import json
import os

from shim.contract import layout

from manager.core.errors import InvalidArgument, WrongState


async def offload(fn, *args, **kwargs):
    """Run FN(*ARGS, **KWARGS), a blocking state write (fsyncs), in a worker thread.

    The fsyncs of one create took ~2 ms of the loop; 50 clients at once kept a
    `list` waiting for seconds. The GIL is released while the disk works.
    """
    call = functools.partial(fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, call)


def write_times(proc_dir, **times):
    """Merge TIMES (RFC 3339 strings) into PROC_DIR/times.json, atomically."""
    path = os.path.join(proc_dir, layout.TIMES_JSON)
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


def read_bundle_process(bundle, error, what):
    """Return the `process` object of BUNDLE/config.json; raise ERROR naming WHAT if unreadable."""
    path = os.path.join(bundle or "", layout.BUNDLE_CONFIG)
    try:
        config = layout.read_json(path)
    except layout.StateError as err:
        raise error(f"{what}read bundle config {path}: {err}") from err
    process = config.get("process")
    if not isinstance(process, dict):
        raise error(f"{what}read bundle config {path}: no process object")
    return process


def bundle_terminal(bundle):
    """Return process.terminal of BUNDLE/config.json; InvalidArgument if it cannot be read."""
    return bool(read_bundle_process(bundle, InvalidArgument, "").get("terminal"))


def read_process_spec(container):
    """Return a copy of the `process` object of the container's config.json (for exec)."""
    process = read_bundle_process(container.bundle, WrongState, f"exec {container.id}: ")
    return json.loads(json.dumps(process))


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
