"""containerd's requests as the core's options, and the core's answers and errors as containerd's.

Pure translation for task.py: no I/O but reading and fixing a bundle's
config.json.
"""

import json
import os

from shim.contract import layout

from manager.containerd import messages as m
from manager.containerd.ttrpc import (ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT,
                                      NOT_FOUND, UNKNOWN, RpcError)
from manager.core import errors, model


# The core's errors as gRPC codes (containerd's errdefs.ToGRPC), in this one place.
CODES = ((errors.InvalidArgument, INVALID_ARGUMENT), (errors.NotFound, NOT_FOUND),
         (errors.AlreadyExists, ALREADY_EXISTS), (errors.WrongState, FAILED_PRECONDITION),
         (errors.RuntimeFailed, UNKNOWN))


def to_grpc(err):
    """Return the RpcError for an error of the core (or an unexpected one: Unknown)."""
    if isinstance(err, RpcError):
        return err
    for kind, code in CODES:
        if isinstance(err, kind):
            return RpcError(code, err.message)
    return RpcError(UNKNOWN, str(err))


def create_options(task_id, bundle, terminal, stdin, runtime_name):
    """Return the core's create options (server/bodies.parse_create's shape) for a bundle."""
    return {"id": task_id, "bundle": bundle, "tty": terminal, "tty_given": True,
            "stdin": stdin, "runtime": runtime_name, "labels": {}, "console_size": None,
            "log_max_size": None, "log_max_files": None, "start": False,
            "auto_remove": False}


def exec_options(exec_id, spec, terminal, stdin):
    """Return the core's exec options (bodies.parse_exec's shape) from an OCI process spec."""
    size = spec.get("consoleSize") if terminal else None
    return {"exec_id": exec_id, "args": spec["args"], "env": spec.get("env") or [],
            "cwd": spec.get("cwd"), "tty": terminal, "stdin": stdin,
            "console_size": [size.get("width") or 80, size.get("height") or 24]
            if isinstance(size, dict) else None}


def exit_of(proc):
    """Return the {pid, exit_status, exited_at} of PROC (zero values while it runs)."""
    if proc is None:
        return {"exited_at": {}}
    answer = {"pid": proc.pid or 0, "exit_status": 0, "exited_at": {}}
    if proc.status == model.STOPPED and proc.exited_at:
        answer["exit_status"] = proc.exit_code or 0
        answer["exited_at"] = m.timestamp_ns(layout.parse_time(proc.exited_at))
    elif proc.status == model.UNKNOWN:
        answer["exit_status"] = 255
    return answer


def check_options(options):
    """Return the runtime binary for the task's runtime options; RpcError if unsupported."""
    if options is None or (not options["type_url"] and not options["value"]):
        return "runc"
    if options["type_url"] != m.RUNC_OPTIONS_URL:
        raise RpcError(INVALID_ARGUMENT, f"unsupported runtime options type "
                                         f"{options['type_url']!r}: containerd-shim-tether-v1 "
                                         f"accepts {m.RUNC_OPTIONS_URL} or none")
    opts = m.RUNC_OPTIONS.decode(options["value"])
    refused = [name for name in ("systemd_cgroup", "no_pivot_root", "no_new_keyring",
                                 "shim_cgroup", "io_uid", "io_gid") if opts[name]]
    if refused:
        raise RpcError(INVALID_ARGUMENT, "unsupported runc options: " + ", ".join(refused))
    return opts["binary_name"] or "runc"


DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def add_default_path(process):
    """Add containerd's default PATH to PROCESS (an OCI process spec) if it has none; True if so.

    `ctr run --rootfs DIR ID sh` sends no env at all, and runc's lookup of a
    bare `sh` then fails (with runc.v2 too); an image's config would bring a PATH.
    """
    env = process.get("env")
    if env is None:
        env = process["env"] = []
    if any(isinstance(e, str) and e.startswith("PATH=") for e in env):
        return False
    env.append(DEFAULT_PATH)
    return True


def ensure_default_path(bundle):
    """Rewrite BUNDLE/config.json with the default PATH if its process has none."""
    path = os.path.join(bundle, layout.BUNDLE_CONFIG)
    try:
        spec = layout.read_json(path)
    except layout.StateError as err:
        raise RpcError(INVALID_ARGUMENT, str(err)) from err
    if isinstance(spec.get("process"), dict) and add_default_path(spec["process"]):
        layout.write_json(path, spec, 0o644, durable=False)


def check_rootfs(bundle):
    """Raise RpcError(InvalidArgument) unless the bundle's root.path is a directory."""
    try:
        with open(os.path.join(bundle, layout.BUNDLE_CONFIG), "rb") as f:
            spec = json.load(f)
        root = spec["root"]["path"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RpcError(INVALID_ARGUMENT, f"read bundle config in {bundle}: {err}") from err
    path = root if os.path.isabs(root) else os.path.join(bundle, root)
    if not os.path.isdir(path):
        raise RpcError(INVALID_ARGUMENT, f"rootfs {path}: no such directory")


def parse_process_spec(spec_any):
    """Return the OCI process spec of an Exec's Any; RpcError(InvalidArgument) if broken."""
    if spec_any is None or not spec_any["value"]:
        raise RpcError(INVALID_ARGUMENT, "exec: no process spec")
    try:
        spec = json.loads(spec_any["value"])
    except ValueError as err:
        raise RpcError(INVALID_ARGUMENT, f"exec: the process spec is not JSON: {err}") from err
    args = spec.get("args") if isinstance(spec, dict) else None
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise RpcError(INVALID_ARGUMENT, "exec: process.args must be a non-empty list of strings")
    env = spec.get("env")
    if env is not None and not (isinstance(env, list) and all(isinstance(e, str) for e in env)):
        raise RpcError(INVALID_ARGUMENT, "exec: process.env must be a list of strings")
    if spec.get("cwd") is not None and not isinstance(spec.get("cwd"), str):
        raise RpcError(INVALID_ARGUMENT, "exec: process.cwd must be a string")
    add_default_path(spec)
    return spec
