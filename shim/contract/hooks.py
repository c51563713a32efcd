"""The exit hook's contract: what the manager asks for and what the shim records (stdlib only).

podman's conmon spelling: --exit-command PATH, --exit-command-arg ARG..., --exit-delay.
1. The manager writes CONTAINER_DIR/exitHook.json before the init process's shim starts:
   {"path": "/abs/cmd", "args": [...], "delay_ns": N, "timeout_ns": N}.
2. After the shim has written exitStatus, it starts the hook in a process of its
   own (shim/hookrunner.py): the exit status, its event and the shim's exit never
   wait for it, and no manager is needed.
3. The runner writes PROC_DIR/exitHookResult once the hook has ended (or was
   killed at its timeout) and a line to shim.log: {"path", "exit_code", "signal",
   "timed_out", "started_at", "duration_ms", "output", "error"}.
"""

import os

from shim.contract import layout

SPEC = "exitHook.json"
RESULT = "exitHookResult"
DEFAULT_TIMEOUT_NS = 60 * 10**9
MAX_TIMEOUT_NS = 3600 * 10**9
MAX_ARGS = 256


def parse_spec(value):
    """Return the validated exit hook VALUE (a create body's exit_command), or None.

    ValueError names what is wrong.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("invalid exit_command: expected an object {path, args, delay_ns, "
                         "timeout_ns}")
    unknown = set(value) - {"path", "args", "delay_ns", "timeout_ns"}
    if unknown:
        raise ValueError(f"invalid exit_command: unknown fields {', '.join(sorted(unknown))}")
    path, args = value.get("path"), value.get("args") or []
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise ValueError("invalid exit_command: path must be an absolute path")
    if not isinstance(args, list) or len(args) > MAX_ARGS or \
            not all(isinstance(a, str) and "\0" not in a for a in args):
        raise ValueError("invalid exit_command: args must be a list of strings")
    delay = value.get("delay_ns") or 0
    timeout = value.get("timeout_ns") or DEFAULT_TIMEOUT_NS
    for name, number in (("delay_ns", delay), ("timeout_ns", timeout)):
        if isinstance(number, bool) or not isinstance(number, int) or \
                not 0 <= number <= MAX_TIMEOUT_NS:
            raise ValueError(f"invalid exit_command: {name} must be 0 to {MAX_TIMEOUT_NS} ns")
    return {"path": os.path.normpath(path), "args": list(args), "delay_ns": delay,
            "timeout_ns": timeout}


def write_spec(container_dir, spec):
    """Write the exit hook SPEC for the init process of CONTAINER_DIR (atomically)."""
    layout.write_json(os.path.join(container_dir, SPEC), spec, 0o600)


def read_spec(container_dir):
    """Return the exit hook of CONTAINER_DIR, or None (none asked for, or unreadable)."""
    try:
        return parse_spec(layout.read_json(os.path.join(container_dir, SPEC)))
    except (layout.StateError, ValueError):
        return None


def write_result(proc_dir, result):
    """Record the hook's outcome in PROC_DIR (atomically; not fsynced: a notification)."""
    layout.write_json(os.path.join(proc_dir, RESULT), result, 0o600, durable=False)


def read_result(proc_dir):
    """Return the hook's recorded outcome in PROC_DIR, or None if it has not ended."""
    try:
        result = layout.read_json(os.path.join(proc_dir, RESULT))
    except layout.StateError:
        return None
    return result if isinstance(result, dict) else None
