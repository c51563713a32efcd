"""Fixtures of the durability tests: a small tmpfs, always unmounted."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))

import helpers  # noqa: E402
import shimutil  # noqa: E402

# Prints a line every 10 ms; SIGTERM makes it exit 5.
TICKER = ["sh", "-c", "trap 'exit 5' TERM; while :; do echo tick; sleep 0.01; done"]

TMPFS_SIZE = "3m"


def fill(path, leave=0):
    """Fill PATH's filesystem with a file PATH/filler until LEAVE bytes (or none) are free."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        block = b"\0" * 4096
        while True:
            st = os.statvfs(path)
            if st.f_bavail * st.f_frsize <= leave:
                break
            try:
                os.write(fd, block)
            except OSError:
                break
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def small_tmpfs(tmp):
    """A 3 MiB tmpfs at TMP/fs, unmounted (lazily, if busy) whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path = os.path.join(tmp, "fs")
    os.mkdir(path)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0711", "tmpfs", path],
                   check=True)
    try:
        yield path
    finally:
        if subprocess.run(["umount", path]).returncode != 0:
            subprocess.run(["umount", "-l", path], check=True)


@pytest.fixture
def ticking(root, make_bundle):
    """Start a hand-started shim whose container ticks; yield (started, cid); kill all after."""
    cid = f"du-adopt-{os.getpid()}"
    started = shimutil.start_shim(root, make_bundle(TICKER), cid, "--start")
    yield started, cid
    for pid in helpers.processes_mentioning(started.proc_dir):
        helpers.kill_if_alive(pid)  # adopting shims
    helpers.kill_if_alive(started.shim_pid)
    helpers.kill_if_alive(started.pid)
    helpers.wait_until(lambda: not helpers.pid_alive(started.pid), 10, what="container gone")
    shimutil.runc(root, "delete", "--force", cid, check=False)
