"""A process's exit read by a non-parent (zombie, pidfd exit info); fds copied by pidfd_getfd."""

import os
import select
import signal
import subprocess
import sys

import pytest

from shim.contract import layout, pidexit

# A parent of last resort for the tests: a subreaper that forks the target
# (`sleep` until its stdin closes, then exit CODE, or wait to be signalled),
# prints the target's pid, reaps it, and waits for its own stdin to close.
REAPER = r"""
import ctypes, os, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
code = int(sys.argv[1])
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    os.read(r, 1)
    os._exit(code)
os.close(r)
print(pid, flush=True)
sys.stdin.readline()
os.close(w)
os.waitpid(pid, 0)
print("reaped", flush=True)
sys.stdin.readline()
"""


def kernel_at_least(major, minor):
    """Return True if the running kernel is MAJOR.MINOR or newer."""
    release = os.uname().release.split("-")[0].split(".")
    return (int(release[0]), int(release[1])) >= (major, minor)


@pytest.fixture
def reaped_target():
    """Yield a factory: start(code) -> (pid, starttime, reaper Popen) of a non-child target."""
    started = []

    def start(code):
        proc = subprocess.Popen([sys.executable, "-c", REAPER, str(code)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        started.append(proc)
        pid = int(proc.stdout.readline())
        return pid, layout.proc_starttime(pid), proc

    yield start
    for proc in started:
        proc.stdin.close()
        proc.stdout.close()
        proc.wait(10)


def wait_readable(fd, timeout=5.0):
    """Return True once FD polls readable within TIMEOUT seconds."""
    return bool(select.select([fd], [], [], timeout)[0])


def test_du_zombie_exit_read_before_reap():
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    pidfd = pidexit.open_pidfd(pid, layout.proc_starttime(pid))
    try:
        assert wait_readable(pidfd)
        assert pidexit.exit_status(pidfd, pid, layout.proc_starttime(pid)) == \
            (7 << 8, pidexit.FROM_ZOMBIE)
    finally:
        os.close(pidfd)
        os.waitpid(pid, 0)


def test_du_zombie_killed_by_signal():
    pid = os.fork()
    if pid == 0:
        signal.pause()
        os._exit(0)
    starttime = layout.proc_starttime(pid)
    pidfd = pidexit.open_pidfd(pid, starttime)
    try:
        os.kill(pid, signal.SIGKILL)
        assert wait_readable(pidfd)
        status, source = pidexit.exit_status(pidfd, pid, starttime)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        assert layout.exit_code_from_wait(status) == (137, signal.SIGKILL)
    finally:
        os.close(pidfd)
        os.waitpid(pid, 0)


def test_du_pidfd_keeps_exit_after_someone_else_reaped(reaped_target):
    pid, starttime, reaper = reaped_target(42)
    pidfd = pidexit.open_pidfd(pid, starttime)
    try:
        assert pidexit.exit_status(pidfd, pid, starttime) == (None, None)  # still running
        assert not pidexit.has_exited(pidfd)
        reaper.stdin.write("\n")
        reaper.stdin.flush()
        assert reaper.stdout.readline() == "reaped\n"
        assert pidexit.has_exited(pidfd)
        assert not os.path.exists(f"/proc/{pid}")
        if not kernel_at_least(6, 15):
            pytest.skip("PIDFD_INFO_EXIT needs Linux 6.15")
        assert pidexit.exit_status(pidfd, pid, starttime) == (42 << 8, pidexit.FROM_PIDFD)
    finally:
        os.close(pidfd)


def test_du_open_pidfd_refuses_another_start_time():
    pid = os.fork()
    if pid == 0:
        signal.pause()
        os._exit(0)
    try:
        assert pidexit.open_pidfd(pid, layout.proc_starttime(pid) + 1) is None
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert pidexit.open_pidfd(pid, 0) is None  # reaped: gone


def test_du_get_fd_copies_a_pipe_another_process_holds():
    read_fd, write_fd = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write_fd)
        os.close(ready_r)
        os.write(ready_w, b"%d" % read_fd)
        signal.pause()
        os._exit(0)
    os.close(ready_w)
    os.close(read_fd)  # now only the child holds the read end
    try:
        target = int(os.read(ready_r, 16))
        pidfd = pidexit.open_pidfd(pid, layout.proc_starttime(pid))
        copy = pidexit.get_fd(pidfd, target)
        os.close(pidfd)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        # The holder is gone; our copy keeps the pipe open: no EPIPE for the writer.
        assert os.write(write_fd, b"still flowing") == 13
        assert os.read(copy, 100) == b"still flowing"
        assert not os.get_inheritable(copy)
        os.close(copy)
    finally:
        os.close(ready_r)
        os.close(write_fd)
        if os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def test_du_get_fd_of_a_closed_fd_names_the_fd():
    pidfd = pidexit.open_pidfd(os.getpid(), layout.proc_starttime(os.getpid()))
    try:
        with pytest.raises(OSError, match="pidfd_getfd fd 999"):
            pidexit.get_fd(pidfd, 999)
    finally:
        os.close(pidfd)
