"""Security: modes, other users, planted symlinks, no shell, a root owned by someone else."""

import os
import pwd
import re
import signal
import socket
import stat
import subprocess

import pytest

import daemonutil
import helpers
import shimutil
from manager.server import daemon as manager_daemon
from shim.contract import layout

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOBODY = pwd.getpwnam("nobody")


@pytest.fixture
def daemon(root):
    yield from daemonutil.daemon_fixture(root)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def run(daemon, cid, rootfs, args=("sh", "-c", "sleep 100000"), **extra):
    daemon.ok("POST", "/v1/containers", {"id": cid, "rootfs": rootfs, "args": list(args),
                                         **extra})
    return daemon.ok("POST", f"/v1/containers/{cid}/start")


def test_state_modes(daemon, rootfs, root):
    run(daemon, "m", rootfs, stdin=True)
    proc_dir = os.path.join(root, "containers", "m", "init")
    assert mode(root) == 0o711
    assert mode(daemon.socket) == 0o600 and stat.S_ISSOCK(os.lstat(daemon.socket).st_mode)
    assert mode(os.path.dirname(proc_dir)) == 0o700
    assert mode(proc_dir) == 0o700
    for name in ("stdin", "stdout", "stderr", "control", "exit"):
        path = os.path.join(proc_dir, name)
        assert stat.S_ISFIFO(os.lstat(path).st_mode) and mode(path) == 0o600, name


def test_socket_group_makes_the_socket_0660_for_that_group(root):
    d = daemonutil.Daemon(root, socket_group="nogroup").start()
    try:
        st = os.lstat(d.socket)
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == NOBODY.pw_gid
    finally:
        d.kill(signal.SIGTERM)


def as_nobody(action):
    """Run ACTION() in a forked child as nobody; return its one-line outcome."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        outcome = b"crashed"
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(NOBODY.pw_gid)
            os.setuid(NOBODY.pw_uid)
            try:
                outcome = ("allowed " + str(action())).encode()
            except PermissionError:
                outcome = b"denied"
        finally:
            os.write(write_fd, outcome[:200])
            os._exit(0)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as f:
            return f.read().decode()
    finally:
        os.waitpid(pid, 0)


def connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    finally:
        sock.close()


def test_another_user_can_neither_list_nor_control(daemon, rootfs, root):
    run(daemon, "private", rootfs, stdin=True)
    proc_dir = os.path.join(root, "containers", "private", "init")
    assert as_nobody(lambda: connect(daemon.socket)) == "denied"
    assert as_nobody(lambda: os.listdir(root)) == "denied"
    assert as_nobody(lambda: os.listdir(layout.containers_dir(root))) == "denied"
    assert as_nobody(lambda: os.listdir(os.path.dirname(proc_dir))) == "denied"
    for name in ("control", "stdin", "stdout", "exitStatus", "output.log"):
        path = os.path.join(proc_dir, name)
        assert as_nobody(lambda: os.open(path, os.O_RDONLY | os.O_NONBLOCK)) == "denied"
    assert daemon.state("private")["status"] == "running"


def test_manager_refuses_a_root_owned_by_another_user(tmp, capsys):
    root = os.path.join(tmp, "theirs")
    os.mkdir(root, 0o711)
    os.chown(root, NOBODY.pw_uid, NOBODY.pw_gid)
    assert manager_daemon.run(root) == 125
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "owned by uid" in err
    assert os.listdir(root) == []  # nothing written: no pid file, no socket


def test_manager_refuses_a_symlinked_pid_file_and_writes_nothing_outside(tmp, root):
    outside = os.path.join(tmp, "outside")
    with open(outside, "w") as f:
        f.write("precious\n")
    os.symlink(outside, os.path.join(root, "tether.pid"))
    assert manager_daemon.run(root) == 125
    with open(outside) as f:
        assert f.read() == "precious\n"


def test_manager_does_not_adopt_a_symlinked_container_dir(daemon, tmp, root):
    outside = os.path.join(tmp, "victim")
    os.makedirs(os.path.join(outside, "init"))
    layout.write_json(os.path.join(outside, layout.CONTAINER_JSON),
                     {"id": "evil", "bundle": "/", "runtime": "runc"})
    os.symlink(outside, os.path.join(layout.containers_dir(root), "evil"))
    daemon.restart()
    assert daemon.request("GET", "/v1/containers/evil")[0] == 404
    assert daemon.request("DELETE", "/v1/containers/evil?force=1")[0] == 404
    assert sorted(os.listdir(outside)) == [layout.CONTAINER_JSON, "init"]
    os.unlink(os.path.join(layout.containers_dir(root), "evil"))


@pytest.mark.parametrize("planted", ["output.log", "shim.log", "runtime.log", "exitStatus"])
def test_shim_refuses_a_process_dir_with_a_planted_symlink(make_bundle, root, tmp, planted):
    bundle = make_bundle(["sh", "-c", "echo written"])
    proc_dir = shimutil.proc_dir_of(root, "c")
    os.makedirs(proc_dir, 0o700)
    outside = os.path.join(tmp, "outside")
    with open(outside, "w") as f:
        f.write("precious\n")
    os.symlink(outside, os.path.join(proc_dir, planted))
    started = shimutil.start_shim(root, bundle, "c", "--start", check=False)
    assert started.returncode == 125
    assert "is a symlink" in started.stderr
    with open(outside) as f:
        assert f.read() == "precious\n"
    assert helpers.runc_list(os.path.join(root, "runc")) == []


def test_shim_refuses_a_symlinked_process_dir(make_bundle, root, tmp):
    bundle = make_bundle(["sh", "-c", "echo written"])
    outside = os.path.join(tmp, "elsewhere")
    os.mkdir(outside, 0o700)
    proc_dir = shimutil.proc_dir_of(root, "c")
    os.makedirs(os.path.dirname(proc_dir), 0o700)
    os.symlink(outside, proc_dir)
    started = shimutil.start_shim(root, bundle, "c", "--start", check=False)
    assert started.returncode == 125 and "is a symlink" in started.stderr
    assert os.listdir(outside) == []


SHELL_PATTERNS = [r"shell\s*=\s*True", r"os\.system\(", r"os\.popen\(",
                  r"/bin/sh['\"]\s*,\s*['\"]-c", r"['\"]sh['\"]\s*,\s*['\"]-c['\"]"]


def test_no_shell_anywhere_in_shim_and_manager():
    found = []
    for package in ("shim", "manager"):
        for dirpath, _dirs, files in os.walk(os.path.join(REPO, package)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(dirpath, name)
                with open(path) as f:
                    text = f.read()
                found += [f"{path}: {p}" for p in SHELL_PATTERNS if re.search(p, text)]
    assert found == []


def test_no_shell_grep_finds_a_planted_shell_call():
    # The grep above must be able to fail.
    planted = ['subprocess.run(cmd, shell=True)', 'os.system("ls")', 'os.popen("ls")',
               '["/bin/sh", "-c", x]', '["sh", "-c", x]']
    assert all(re.search(p, text) for p, text in zip(SHELL_PATTERNS, planted))


def test_runc_gets_argv_lists_only():
    out = subprocess.run(["grep", "-rn", "create_subprocess_shell", os.path.join(REPO, "shim"),
                          os.path.join(REPO, "manager"), "--include=*.py"],
                         capture_output=True, text=True, check=False).stdout
    assert out == ""
