"""Exec helpers: the exec's id, its process spec and its process directory (Service.exec)."""

import os
import re

from shim.contract import layout

from manager.core.errors import AlreadyExists
from manager.core.files import write_times

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
    """Create the exec's process directory (0700) with its process spec; AlreadyExists if it does."""
    proc_dir = os.path.join(container.dir, exec_id)
    try:
        layout.make_private_dir(proc_dir)
    except FileExistsError:
        raise AlreadyExists(f"exec {container.id}: exec id {exec_id} exists") from None
    spec_path = os.path.join(proc_dir, layout.SPEC_JSON)
    layout.write_json(spec_path, process, 0o600)
    created_at = layout.format_time(layout.now_ns())
    write_times(proc_dir, created_at=created_at)
    return proc_dir, spec_path, created_at
