"""Fixtures: a busybox rootfs, bundles, a private state root, and leak guards."""

import json
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "contrib"))

import helpers  # noqa: E402
import mkbundle  # noqa: E402
from manager.core.spec import default_spec  # noqa: E402


@pytest.fixture(scope="session")
def rootfs():
    """A busybox rootfs shared (read-only) by every bundle of the session."""
    if not os.path.exists(mkbundle.BUSYBOX):
        pytest.fail("busybox-static is not installed: apt-get install -y busybox-static")
    path = tempfile.mkdtemp(prefix="tether-rootfs-")
    mkbundle.build_rootfs(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tmp(request):
    """A short private temp dir (unix socket paths must stay under 108 bytes)."""
    path = tempfile.mkdtemp(prefix="tt", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_bundle(tmp, rootfs):
    """Return a factory: make_bundle(args, tty=False, memory=None, **process) -> bundle dir."""
    counter = [0]

    def make(args, tty=False, memory=None, **process):
        counter[0] += 1
        bundle = os.path.join(tmp, f"bundle{counter[0]}")
        os.mkdir(bundle)
        spec = default_spec(rootfs=rootfs, args=args, tty=tty, memory=memory)
        spec["process"].update(process)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        return bundle

    return make


@pytest.fixture
def root(tmp):
    """A private tether state root; everything started under it is removed afterwards."""
    path = os.path.join(tmp, "root")
    os.mkdir(path, 0o711)
    yield path
    # A runtime command under way ends by itself: the manager, SIGKILLed by its
    # fixture just after a `run --rm` returned, may leave its auto-removal's
    # `runc delete` running for a moment (docs/design.md: --rm does not wait).
    helpers.wait_until(lambda: not any(b"\0delete\0" in helpers.read_cmdline(pid) for pid in
                                       helpers.processes_mentioning(path)), 5,
                       what="the runtime's delete commands to end")
    leaked = helpers.processes_mentioning(path)
    seen = {pid: helpers.read_cmdline(pid)[:200] for pid in leaked}  # for the message
    for pid in leaked:
        helpers.kill_if_alive(pid)
    running = [c for c in helpers.runc_list(os.path.join(path, "runc")) if c[1] != "stopped"]
    helpers.runc_remove_all(os.path.join(path, "runc"))
    for pid in leaked:
        helpers.wait_until(lambda: not helpers.pid_alive(pid), 5, what=f"leaked pid {pid} gone")
    if leaked or running:
        pytest.fail(f"test leaked processes {seen} / running containers {running}")


def _open_fds():
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def no_leaked_fds():
    """Fail a test that leaves file descriptors open in the test process."""
    before = _open_fds()
    yield
    leaked = _open_fds() - before
    leaked = {fd for fd in leaked if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not leaked, f"leaked fds: {[os.readlink(f'/proc/self/fd/{fd}') for fd in leaked]}"
