"""Restore from a checkpoint: the manager's request to the init process's shim (stdlib only).

1. The manager writes CONTAINER_DIR/restore.json {"image_path": DIR} before the shim starts.
2. The shim's runc driver then runs `runc restore --detach --image-path DIR` in place
   of `runc create`: the restored process is the shim's as a created one is (stdio,
   log, exit status); it runs at once, as after `run --detach`.
3. runc's error, and CRIU's first error line in DIR/restore.log, reach the starter.
"""

import os

from shim.contract import layout

REQUEST = "restore.json"
CRIU_LOG = "restore.log"


def write_request(container_dir, image_path):
    """Ask the init process's shim of CONTAINER_DIR to restore from IMAGE_PATH."""
    layout.write_json(os.path.join(container_dir, REQUEST), {"image_path": image_path}, 0o600)


def read_request(container_dir):
    """Return the image directory to restore from, or None for a plain create."""
    try:
        request = layout.read_json(os.path.join(container_dir, REQUEST))
    except layout.StateError:
        return None
    path = request.get("image_path") if isinstance(request, dict) else None
    return path if isinstance(path, str) and path.startswith("/") else None


def criu_reason(image_path, log_name=CRIU_LOG):
    """Return CRIU's first "Error (...)" line in IMAGE_PATH/LOG_NAME, or None."""
    try:
        with open(os.path.join(image_path, log_name), "rb") as f:
            text = f.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return None
    for line in text.splitlines():
        if "Error (" in line:
            # "(00.016046) Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds"
            return line.split("):", 1)[1].strip() if "):" in line else line.strip()
    return None
