"""The rootfs mounts of a Create: made on BUNDLE/rootfs, recorded first, undone at delete.

The record (GROUP_ROOT/mounts/ID, one JSON list of targets) is written before
the first mount, so a serving process killed in the middle still leaves the
`delete` action enough to unmount. mount(8) and umount(8) do the work: they
know every filesystem's option syntax (overlay's lowerdir, bind's rbind).
"""

import json
import os

from shim.contract import layout


class MountError(Exception):
    """A mount failed (mount's own message)."""


def record_path(root, task_id):
    """Return the file recording TASK_ID's mounts."""
    return os.path.join(root, "mounts", task_id)


def mount_all(root, task_id, bundle, rootfs_mounts):
    """Mount ROOTFS_MOUNTS (Mount dicts) on BUNDLE/rootfs, recording them first."""
    if not rootfs_mounts:
        return
    import subprocess
    target = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(root, "mounts"), 0o700, exist_ok=True)
    layout.atomic_write(record_path(root, task_id), json.dumps([target]).encode(), 0o600,
                        durable=False)
    os.makedirs(target, 0o711, exist_ok=True)
    for mount in rootfs_mounts:
        argv = ["mount", "-t", mount["type"] or "none"]
        if mount["options"]:
            argv += ["-o", ",".join(mount["options"])]
        argv += [mount["source"] or "none", os.path.join(target, mount["target"].lstrip("/"))]
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False)
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip()
            unmount_recorded(root, task_id)
            raise MountError(f"mount {mount['type']} {mount['source']} on {target}: {message}")


def unmount(target):
    """Unmount everything mounted on TARGET (mounts may be stacked)."""
    if not os.path.ismount(target):
        return
    import subprocess  # `delete` imports it only when something is mounted
    for _ in range(16):
        if not os.path.ismount(target):
            return
        done = subprocess.run(["umount", target], stdin=subprocess.DEVNULL,
                              capture_output=True, check=False)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", target], stdin=subprocess.DEVNULL,
                           capture_output=True, check=False)


def unmount_recorded(root, task_id):
    """Undo the recorded mounts of TASK_ID and remove the record."""
    path = record_path(root, task_id)
    try:
        with open(path, "rb") as f:
            targets = json.loads(f.read() or b"[]")
    except FileNotFoundError:
        return
    except ValueError:
        targets = []
    for target in targets:
        if isinstance(target, str):
            unmount(target)
    os.unlink(path)


def unmount_rootfs(bundle):
    """Unmount BUNDLE/rootfs if something is mounted there."""
    unmount(os.path.join(bundle, "rootfs"))
