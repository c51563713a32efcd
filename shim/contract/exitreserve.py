"""exitStatus written even on a full disk: its blocks are taken before the process starts.

1. make_reserve, before the process exists: a hidden file of one page, real
   bytes (not fallocate: on ext4 an unwritten extent may need a new block to
   be converted), so the filesystem has counted them against its free space.
2. commit_exit, at the exit: the JSON goes over the reserve in place (pwrite
   into blocks it already has; ftruncate only frees), then link(2) makes it
   exitStatus (fails if one exists: written once; a tmpfs link needs no
   block), then the reserve's name goes, then the fsyncs (the manager reads
   it at once, as layout.publish_once).
No reserve (made by an older shim, or its creation failed) falls back to
layout.write_exit_status, which needs free space.
"""

import os

from shim.contract import layout

RESERVE = ".exitStatus.reserve"
RESERVE_SIZE = 4096


def reserve_path(proc_dir):
    """Return the path of PROC_DIR's exit-status reserve."""
    return os.path.join(proc_dir, RESERVE)


def make_reserve(proc_dir):
    """Create PROC_DIR's reserve (0600); raise OSError (ENOSPC) if the space is not there."""
    path = reserve_path(proc_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        view = memoryview(b" " * RESERVE_SIZE)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return path


def exit_record(exit_code, signal=None, exited_at_ns=None, oom_killed=False, **extra):
    """Return the exitStatus bytes (layout.encode_exit_status: EXTRA such as dropped_bytes)."""
    return layout.encode_exit_status(exit_code, signal, exited_at_ns, oom_killed, **extra)


def commit_exit(proc_dir, data):
    """Make DATA PROC_DIR/exitStatus through the reserve; False if it was already written."""
    path = reserve_path(proc_dir)
    final = os.path.join(proc_dir, layout.EXIT_STATUS)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return layout.publish_once(final, data, 0o600)
    try:
        if len(data) > RESERVE_SIZE:
            raise ValueError(f"write {final}: {len(data)} bytes exceed the reserve")
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        try:
            os.link(path, final)
        except FileExistsError:
            return False
        finally:
            os.unlink(path)
        os.fsync(fd)
    finally:
        os.close(fd)
    layout.fsync_dir(proc_dir)
    return True


def drop_reserve(proc_dir):
    """Remove PROC_DIR's reserve (the start-up failed, or the exit was written otherwise)."""
    try:
        os.unlink(reserve_path(proc_dir))
    except FileNotFoundError:
        pass
