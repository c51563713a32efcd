"""Fixtures of the durability tests: a small tmpfs, always unmounted."""

import os
import subprocess

import pytest

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
