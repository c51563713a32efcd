"""The risky parts of re-adoption, with a real shim and runc: the test plays the manager.

1. The fd store takes copies of the shim's stdout pipe and a pidfd of the container.
2. The shim is SIGKILLed; the container goes on writing (no EPIPE: the store holds
   the read end) into the same pipe.
3. An adopter takes the fds, reads the output written meanwhile, and learns the
   container's true exit code without being its parent (shim.adopted.AdoptedExit).
Without the store, the same SIGKILL leaves the pipe without a reader: writes meet EPIPE.
"""

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import helpers
import shimutil
from manager.core import fdstore
from shim import adopted, loop, shimlog
from shim.contract import layout, pidexit, startup

def pipe_of(pid, fd):
    """Return the 'pipe:[N]' link of fd FD of PID."""
    return os.readlink(f"/proc/{pid}/fd/{fd}")


def shim_fd_holding(shim_pid, link):
    """Return the shim's fd number that is LINK (the read end of the container's stdout)."""
    for name in os.listdir(f"/proc/{shim_pid}/fd"):
        try:
            if os.readlink(f"/proc/{shim_pid}/fd/{name}") == link:
                return int(name)
        except FileNotFoundError:
            continue
    raise AssertionError(f"shim {shim_pid} holds no {link}")


def queued(fd):
    """Return the bytes waiting in the pipe FD (FIONREAD)."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]


def test_du_store_keeps_output_flowing_and_the_exit_code_past_a_shim_sigkill(ticking):
    started, _cid = ticking
    starttime = layout.proc_starttime(started.pid)
    store, key = fdstore.FdStore(), ("du-adopt", "init")
    shim_pidfd = pidexit.open_pidfd(started.shim_pid, layout.proc_starttime(started.shim_pid))
    target = shim_fd_holding(started.shim_pid, pipe_of(started.pid, 1))
    store.put(key, "stdout", pidexit.get_fd(shim_pidfd, target))
    store.put(key, "process", pidexit.open_pidfd(started.pid, starttime))
    os.kill(started.shim_pid, signal.SIGKILL)
    assert pidexit.has_exited(shim_pidfd) or helpers.wait_until(
        lambda: pidexit.has_exited(shim_pidfd), 5, what="shim gone")
    os.close(shim_pidfd)
    fds = store.take(key)
    try:
        # 2. Writes go on into the pipe nobody reads but the store holds.
        helpers.wait_until(lambda: queued(fds["stdout"]) >= 50, 5, what="output queued")
        assert helpers.pid_alive(started.pid)
        # 3. The adopter reads what was written meanwhile and sees the true exit.
        assert os.read(fds["stdout"], 1 << 16).startswith(b"tick\n")
        exits = []
        log = shimlog.ShimLog()
        events = loop.Loop(log)
        adopted.AdoptedExit(events, fds["process"], started.pid, starttime,
                            lambda *exit: exits.append(exit))
        signalled = time.monotonic()
        os.kill(started.pid, signal.SIGTERM)
        assert events.run_until(lambda: exits, 10)
        elapsed_ms = (time.monotonic() - signalled) * 1000
        pid, status, exited_at_ns = exits[0]
        print(f"adopted exit: code {layout.exit_code_from_wait(status)[0]} from the "
              f"{pidexit.exit_status(fds['process'], pid, starttime)[1] or 'pidfd'}, "
              f"{elapsed_ms:.1f} ms after SIGTERM")
        assert pid == started.pid and layout.exit_code_from_wait(status) == (5, None)
        assert abs(exited_at_ns - time.time_ns()) < 10 * 10**9
        events.close()
    finally:
        for fd in fds.values():
            os.close(fd)


def readers_of(link):
    """Return the (pid, fd) of every open read end of the pipe LINK on the host."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                        flags = int(f.read().split("flags:")[1].split()[0], 8)
                    if flags & os.O_ACCMODE == os.O_RDONLY:
                        found.append((int(pid), int(fd)))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def test_du_without_the_store_a_shim_sigkill_leaves_the_pipe_without_a_reader(ticking):
    started, _cid = ticking
    link = pipe_of(started.pid, 1)
    assert [pid for pid, _fd in readers_of(link)] == [started.shim_pid]
    os.kill(started.shim_pid, signal.SIGKILL)
    shimutil.wait_shim_gone(started.shim_pid)
    # Every write from now on meets EPIPE: the output is lost. (The container's
    # init, pid 1 of its namespace, is spared the SIGPIPE; other writers die of it.)
    assert readers_of(link) == []
    assert helpers.pid_alive(started.pid)


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADOPT_BOOT = (f"import sys; sys.path[:0] = [{REPO!r}]; "
              "from shim.adopt import main; sys.exit(main())")


def start_adopter(proc_dir, pid, starttime, fds):
    """Start shim.adopt with FDS (name -> fd) inherited; return its start-up result."""
    read_fd, write_fd = os.pipe()
    spec = ",".join(f"{name}={fd}" for name, fd in fds.items())
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-S", "-c", ADOPT_BOOT, "--state-dir", proc_dir,
             "--pid", str(pid), "--starttime", str(starttime), "--fds", spec,
             "--sync-fd", str(write_fd)],
            pass_fds=(*fds.values(), write_fd), timeout=30, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        os.close(write_fd)
        write_fd = None
        with os.fdopen(read_fd, "rb") as result:
            read_fd = None
            return startup.decode_result(result.readline())
    finally:
        for fd in (read_fd, write_fd):
            if fd is not None:
                os.close(fd)


def test_du_adopting_shim_takes_over_output_and_exit_after_a_shim_sigkill(ticking):
    started, _cid = ticking
    proc_dir = started.proc_dir
    starttime = layout.proc_starttime(started.pid)
    shim_pidfd = pidexit.open_pidfd(started.shim_pid, layout.proc_starttime(started.shim_pid))
    fds = {"process": pidexit.open_pidfd(started.pid, starttime)}
    for name, number in (("stdout", 1), ("stderr", 2)):
        fds[name] = pidexit.get_fd(shim_pidfd, shim_fd_holding(started.shim_pid,
                                                               pipe_of(started.pid, number)))
    os.close(shim_pidfd)
    adopter_pid = None
    try:
        killed = time.monotonic()
        os.kill(started.shim_pid, signal.SIGKILL)
        shimutil.wait_shim_gone(started.shim_pid)
        logged = os.path.getsize(shimutil.output_log(started))
        result = start_adopter(proc_dir, started.pid, starttime, fds)
        adopted_ms = (time.monotonic() - killed) * 1000
        assert result["ok"] and result["pid"] == started.pid, result
        adopter_pid = result["shim_pid"]
        assert layout.read_shim_pid(proc_dir)[0] == adopter_pid
        assert os.path.exists(os.path.join(proc_dir, f".shim.pid.lost-{started.shim_pid}"))
        # The same output.log goes on, with what was written while no shim lived.
        helpers.wait_until(lambda: os.path.getsize(shimutil.output_log(started)) > logged + 500,
                           5, what="output.log growing again")
        assert shimutil.log_contains(started, b"tick")
        # An attached reader gets the output through the same FIFO.
        fifo = shimutil.open_fifo_reader(started.path(layout.STDOUT))
        try:
            helpers.wait_until(lambda: select.select([fifo], [], [], 0.05)[0], 5,
                               what="output on the stdout FIFO")
            assert b"tick" in os.read(fifo, 4096)
        finally:
            os.close(fifo)
        signalled = time.monotonic()
        os.kill(started.pid, signal.SIGTERM)
        status = shimutil.wait_exit_status(proc_dir)
        exit_ms = (time.monotonic() - signalled) * 1000
        assert (status["exit_code"], status["adopted"]) == (5, True), status
        assert status["source"] in (pidexit.FROM_ZOMBIE, pidexit.FROM_PIDFD)
        assert status["exited_at_observed"] is False
        shimutil.wait_shim_gone(adopter_pid)
        print(f"shim SIGKILL -> adopted {adopted_ms:.0f} ms (from the test's side); "
              f"SIGTERM -> exitStatus {exit_ms:.0f} ms, source {status['source']}")
    finally:
        for fd in fds.values():
            os.close(fd)
        if adopter_pid is not None:
            helpers.kill_if_alive(adopter_pid)
