"""The fd store keeps a dead shim's pipes open and hands them to the next shim."""

import os
import signal
import socket

import pytest

from manager.core import fdstore
from shim.contract import fdpass, layout, pidexit


@pytest.fixture
def fake_shim(tmp):
    """A forked 'shim' holding the read end of a pipe (its record in fds.json); yields
    (pid, starttime, pidfd, write_fd) where write_fd is the 'container's' stdout."""
    read_fd, write_fd = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(write_fd)
            os.close(ready_r)
            fdpass.write_record(tmp, {"stdout": read_fd})
            os.write(ready_w, b"ok")
            signal.pause()
        finally:
            os._exit(0)
    os.close(read_fd)
    os.close(ready_w)
    assert os.read(ready_r, 2) == b"ok"
    os.close(ready_r)
    starttime = layout.proc_starttime(pid)
    pidfd = pidexit.open_pidfd(pid, starttime)
    yield pid, starttime, pidfd, write_fd
    os.close(pidfd)
    os.close(write_fd)
    if os.path.exists(f"/proc/{pid}"):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_du_pipe_survives_its_shims_death_and_reaches_the_next_shim(tmp, fake_shim):
    pid, starttime, pidfd, write_fd = fake_shim
    store = fdstore.FdStore()
    key = ("du-store", "init")
    container_pid = os.getpid()  # any live process stands in for the container here
    assert store.collect(key, tmp, pidfd, container_pid, layout.proc_starttime(container_pid)) \
        == ["process", "stdout"]
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    # 1. No EPIPE for the container while no shim reads: the store holds the read end.
    os.write(write_fd, b"written while no shim lived\n")
    # 2. The next shim receives the fds over SCM_RIGHTS, names attached.
    manager_end, shim_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        fds = store.take(key)
        fdpass.send_fds(manager_end, fds, {"exited_at": None})
        for fd in fds.values():
            os.close(fd)
        received, extra = fdpass.receive_fds(shim_end)
    finally:
        manager_end.close()
        shim_end.close()
    try:
        assert sorted(received) == ["process", "stdout"] and extra == {"exited_at": None}
        assert os.read(received["stdout"], 100) == b"written while no shim lived\n"
        assert not pidexit.has_exited(received["process"])
    finally:
        for fd in received.values():
            os.close(fd)
    assert len(store) == 0


def test_du_a_reused_fd_number_is_not_stored(tmp, fake_shim):
    _pid, _starttime, pidfd, _write_fd = fake_shim
    record = fdpass.read_record(tmp)
    fd, dev, ino = record["stdout"]
    fdpass.write_record(tmp, {"stdout": pidfd})  # some other file
    bogus = layout.read_json(os.path.join(tmp, fdpass.FDS_JSON))
    bogus["stdout"]["fd"] = fd  # the shim's number, another file's identity
    layout.write_json(os.path.join(tmp, fdpass.FDS_JSON), bogus)
    store = fdstore.FdStore()
    assert store.collect(("du-reused", "init"), tmp, pidfd, None, None) == []
    store.close()


def test_du_malformed_fd_message_closes_what_came_with_it():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    try:
        socket.send_fds(a, [b'{"names": ["bogus"]}'], [r])
        before = set(os.listdir("/proc/self/fd"))
        with pytest.raises(ValueError, match="malformed"):
            fdpass.receive_fds(b)
        assert set(os.listdir("/proc/self/fd")) <= before
    finally:
        for s in (a, b):
            s.close()
        os.close(r)
        os.close(w)
