"""Shim faults: a shim killed, stopped, its directory truncated or deleted, its disk full."""

import errno
import os
import shutil
import signal
import subprocess
import time

import pytest

import daemonutil
import helpers
from shim.contract import layout

SLEEPER = ["sh", "-c", "echo up; sleep 100000"]


@pytest.fixture
def daemon(root):
    yield from daemonutil.daemon_fixture(root)


def run(daemon, cid, rootfs, args=SLEEPER, **extra):
    daemon.ok("POST", "/v1/containers", {"id": cid, "rootfs": rootfs, "args": args, **extra})
    return daemon.ok("POST", f"/v1/containers/{cid}/start")


def status_is(daemon, cid, status):
    """Return the state of CID once it has STATUS (for wait_until)."""
    current = daemon.state(cid)
    return current if current["status"] == status else None


@pytest.fixture
def daemon_without_readoption(root):
    yield from daemonutil.daemon_fixture(root, env=daemonutil.WITHOUT_READOPTION)


def test_sigkilled_shim_makes_status_unknown_without_an_invented_exit(daemon_without_readoption, rootfs,
    root):
    daemon = daemon_without_readoption
    st = run(daemon, "k", rootfs)
    killed_at = time.monotonic()
    os.kill(st["shim_pid"], signal.SIGKILL)
    lost = helpers.wait_until(lambda: status_is(daemon, "k", "unknown"), 5, interval=0.001,
                              what="status unknown after the shim's SIGKILL")
    # Printed, not asserted (no timed assertions): the pidfd makes this a few ms.
    elapsed_ms = (time.monotonic() - killed_at) * 1000
    print(f"shim SIGKILL -> status unknown seen after {elapsed_ms:.1f} ms")
    assert lost["exit_code"] is None and lost["exited_at"] is None
    assert lost["error"].startswith("shim lost")
    assert helpers.pid_alive(st["pid"])  # the container outlives its shim
    code, answer = daemon.request("GET", "/v1/containers/k/wait")
    assert code == 409 and "unknown" in answer["error"]
    daemon.ok("DELETE", "/v1/containers/k?force=1")
    helpers.wait_until(lambda: not helpers.pid_alive(st["pid"]), 10, what="container killed")
    assert daemon.request("GET", "/v1/containers/k")[0] == 404
    assert os.listdir(layout.containers_dir(root)) == []
    assert helpers.runc_list(os.path.join(root, "runc")) == []


def test_a_sigkilled_shims_process_is_adopted_by_default(daemon, rootfs):
    st = run(daemon, "ka", rootfs)
    os.kill(st["shim_pid"], signal.SIGKILL)
    adopted = helpers.wait_until(
        lambda: (lambda s: s if s["status"] == "running" and s["shim_pid"] != st["shim_pid"]
                 else None)(daemon.state("ka")), 10, what="a new shim for ka")
    assert adopted["pid"] == st["pid"]  # the same process, under a new shim
    daemon.ok("POST", "/v1/containers/ka/kill", {"signal": "KILL"})
    assert daemon.ok("GET", "/v1/containers/ka/wait")["exit_code"] == 137


def test_sigstopped_shim_blocks_nothing_else(daemon, rootfs):
    stopped = run(daemon, "frozen", rootfs)
    other = run(daemon, "other", rootfs)
    os.kill(stopped["shim_pid"], signal.SIGSTOP)
    try:
        assert {c["id"] for c in daemon.ok("GET", "/v1/containers")} == {"frozen", "other"}
        assert daemon.state("frozen")["status"] == "running"
        run(daemon, "fresh", rootfs, ["sh", "-c", "exit 9"])
        assert daemon.ok("GET", "/v1/containers/fresh/wait")["exit_code"] == 9
        proc = daemon.ok("POST", "/v1/containers/other/exec", {"args": ["sh", "-c", "exit 4"]})
        assert daemon.ok("GET", f"/v1/containers/other/wait?exec_id={proc['id']}")[
            "exit_code"] == 4
        daemon.ok("POST", "/v1/containers/other/kill", {"signal": "KILL"})
        assert daemon.ok("GET", "/v1/containers/other/wait")["exit_code"] == 137
        assert other["pid"] != stopped["pid"]
    finally:
        os.kill(stopped["shim_pid"], signal.SIGCONT)
    daemon.ok("POST", "/v1/containers/frozen/kill", {"signal": "KILL"})
    assert daemon.ok("GET", "/v1/containers/frozen/wait")["exit_code"] == 137


def test_deleted_process_dir_under_a_shim_ends_in_unknown_not_a_hang(daemon, rootfs, root):
    st = run(daemon, "gone", rootfs)
    shutil.rmtree(os.path.join(root, "containers", "gone", "init"))
    subprocess.run(["runc", "--root", os.path.join(root, "runc"), "kill", "gone", "KILL"],
                   check=True)
    helpers.wait_until(lambda: not helpers.pid_alive(st["shim_pid"]), 10,
                       what="the shim exits without its directory")
    lost = helpers.wait_until(lambda: status_is(daemon, "gone", "unknown"), 5,
                              what="status unknown")
    assert lost["exit_code"] is None
    daemon.ok("DELETE", "/v1/containers/gone?force=1")
    assert os.listdir(layout.containers_dir(root)) == []


def test_truncated_state_files_are_reported_and_deletable_after_restart(daemon, rootfs, root):
    st = run(daemon, "torn", rootfs)
    proc_dir = os.path.join(root, "containers", "torn", "init")
    for name in (layout.SHIM_PID, layout.CONTAINER_JSON):
        path = os.path.join(proc_dir if name == layout.SHIM_PID else os.path.dirname(proc_dir),
                            name)
        os.truncate(path, 0)
    daemon.restart()
    torn = daemon.state("torn")
    assert torn["status"] == "unknown" and "malformed" in torn["error"]
    assert daemon.ok("GET", "/v1/health") == {"ok": True}
    daemon.ok("DELETE", "/v1/containers/torn?force=1")
    helpers.wait_until(lambda: not helpers.pid_alive(st["pid"]), 10, what="container killed")
    helpers.wait_until(lambda: not helpers.pid_alive(st["shim_pid"]), 10, what="shim exits")
    assert os.listdir(layout.containers_dir(root)) == []


@pytest.fixture
def small_disk(tmp):
    """A 2 MiB tmpfs mounted for the test (unmounted afterwards, even on failure)."""
    mount = os.path.join(tmp, "fs")
    os.mkdir(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0711", "tmpfs", mount],
                   check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", mount], check=False)


def fill_disk(path):
    """Write PATH until the file system is full; return its size."""
    chunk = b"x" * 65536
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                chunk = chunk[:len(chunk) // 2]
                if not chunk:
                    return f.tell()


def read_fifo_until(fd, needle, timeout=30):
    """Read the FIFO FD (non-blocking) until NEEDLE has been seen; return the bytes."""
    data = bytearray()

    def more():
        try:
            data.extend(os.read(fd, 65536))
        except BlockingIOError:
            pass
        return needle in data
    helpers.wait_until(more, timeout, interval=0.001, what=f"{needle!r} on the stdout fifo")
    return bytes(data)


def test_full_disk_drops_output_keeps_the_container_running_and_recovers(small_disk, rootfs):
    root = os.path.join(small_disk, "root")
    os.mkdir(root, 0o711)
    d = daemonutil.Daemon(root).start()
    try:
        run(d, "full", rootfs, ["sh", "-c", "read x; seq 1 50000; read y; echo recovered; "
                                            "sleep 100000"], stdin=True)
        proc_dir = os.path.join(root, "containers", "full", "init")
        fifo = os.open(os.path.join(proc_dir, "stdout"), os.O_RDONLY | os.O_NONBLOCK)
        try:
            fill_disk(os.path.join(small_disk, "filler"))
            write_stdin(proc_dir, b"go\n")
            # Every line still reaches an attached reader: the container is not blocked.
            assert b"\n50000\n" in read_fifo_until(fifo, b"\n50000\n")
            assert d.state("full")["status"] == "running"
            os.unlink(os.path.join(small_disk, "filler"))
            write_stdin(proc_dir, b"go\n")
            read_fifo_until(fifo, b"recovered\n")
        finally:
            os.close(fifo)
        log_path = os.path.join(proc_dir, layout.OUTPUT_LOG)
        helpers.wait_until(lambda: helpers.log_bytes(log_path, "stdout").endswith(b"recovered\n"),
                           10, what="the log records output again")
        assert b"50000\n" not in helpers.log_bytes(log_path, "stdout")  # dropped, not corrupt
        records = [r for r in shim_log(proc_dir) if "recovered after dropping" in r]
        assert records and '"dropped_bytes":' in records[0]
        assert d.state("full")["status"] == "running"
    finally:
        d.delete_all()
        d.kill(signal.SIGTERM)
        leaked = helpers.processes_mentioning(root)
        for pid in leaked:
            helpers.kill_if_alive(pid)
        helpers.runc_remove_all(os.path.join(root, "runc"))
    assert not leaked


def write_stdin(proc_dir, data):
    """Write DATA to the process's stdin FIFO."""
    fd = os.open(os.path.join(proc_dir, "stdin"), os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def shim_log(proc_dir):
    """Return the lines of shim.log."""
    with open(os.path.join(proc_dir, layout.SHIM_LOG)) as f:
        return f.read().splitlines()


def test_shim_abandons_start_up_when_its_manager_is_gone(make_bundle, root):
    # Regression (chaos): a shim whose manager was SIGKILLed before it recorded
    # itself ran on in a directory the next manager had already judged empty.
    import shimutil
    bundle = make_bundle(["sh", "-c", "echo never"])
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        started = shimutil.start_shim(root, bundle, "c", "--start", "--sync-fd", str(write_fd),
                                      check=False, pass_fds=(write_fd,))
    finally:
        os.close(write_fd)
    assert started.returncode == 125 and "start-up abandoned" in started.stderr
    assert not os.path.exists(os.path.join(root, "containers", "c"))
    assert helpers.runc_list(os.path.join(root, "runc")) == []
