"""Checkpoint a container with CRIU through the runtime (runc checkpoint).

runc reports CRIU's failure as "criu failed: type DUMP errno 0\\nlog file:
dump.log"; CRIU's own reason is the first "Error" line of that log, in the
image directory. Both go into the one line the user gets.
"""

import os

from shim.contract import restore

from manager.core import model
from manager.core.errors import InvalidArgument, RuntimeFailed, WrongState
from manager.spawn import runtime

DUMP_LOG = "dump.log"


def parse_checkpoint(body):
    """Return (image_path, leave_running) of a checkpoint BODY."""
    if not isinstance(body, dict):
        raise InvalidArgument("checkpoint: expected a JSON object")
    unknown = set(body) - {"image_path", "leave_running"}
    if unknown:
        raise InvalidArgument(f"checkpoint: unknown fields: {', '.join(sorted(unknown))}")
    path, leave = body.get("image_path"), body.get("leave_running", False)
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise InvalidArgument("checkpoint: image_path must be an absolute path")
    if not isinstance(leave, bool):
        raise InvalidArgument("checkpoint: leave_running must be true or false")
    return os.path.normpath(path), leave


def restore_failure(cid, image_path, message):
    """Return the one line of a failed restore: the shim's message, then CRIU's reason."""
    message = message.replace("\\n", "; ").replace("\n", "; ")
    reason = restore.criu_reason(image_path)
    if reason:
        message += f"; CRIU: {reason} (log {os.path.join(image_path, restore.CRIU_LOG)})"
    return f"restore {cid}: {message}"


def failure_line(cid, image_path, err):
    """Return the one line of a failed checkpoint: runc's message, then CRIU's reason."""
    message = str(err).replace("\\n", "; ").replace("\n", "; ")
    reason = restore.criu_reason(image_path, DUMP_LOG)
    if reason:
        message += f"; CRIU: {reason} (log {os.path.join(image_path, DUMP_LOG)})"
    return f"checkpoint {cid}: {message}"


async def checkpoint(rt, container, image_path, leave_running):
    """Dump CONTAINER into IMAGE_PATH through runtime RT; WrongState unless it runs."""
    cid = container.id
    if container.runtime == "native" or not hasattr(rt, "checkpoint"):
        raise WrongState(f"checkpoint {cid}: the native runtime cannot checkpoint "
                         "(CRIU works through runc)")
    if container.init.status != model.RUNNING:
        raise WrongState(f"checkpoint {cid}: container is {container.init.status}, not running")
    try:
        os.makedirs(image_path, 0o700, exist_ok=True)
    except OSError as err:
        raise InvalidArgument(f"checkpoint {cid}: make {image_path}: {err.strerror}") from err
    try:
        await rt.checkpoint(container, image_path, leave_running)
    except runtime.RuntimeFailure as err:
        raise RuntimeFailed(failure_line(cid, image_path, err)) from err
