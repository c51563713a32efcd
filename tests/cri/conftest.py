"""Fixtures: one private containerd + CRI node for tests/cri, handlers, kubelet-like pods.

TETHER_CRI_NETWORK=host makes every pod use the node's network even where the
CNI plugins and network namespaces are available (the fallback, run on demand).
"""

import os
import shutil
import subprocess
import tempfile

import pytest

from . import network as cni
from .node import Node, tether_shim_path
from .pods import Pod


def _pod_network(workdir):
    """Return a PodNetwork in a namespace of our own, or None where only host network works."""
    if os.environ.get("TETHER_CRI_NETWORK") == "host" or cni.plugins_missing():
        return None
    net = cni.PodNetwork(workdir, f"ttcri-{os.getpid()}")
    try:
        net.create()
    except (OSError, subprocess.CalledProcessError):
        net.delete()
        return None
    return net


@pytest.fixture(scope="package")
def node():
    """containerd with the CRI plugin, runc and tether handlers, the test images imported."""
    if shutil.which("containerd") is None or shutil.which("ctr") is None:
        pytest.fail("containerd is not installed: apt-get install -y containerd")
    workdir = tempfile.mkdtemp(prefix="ttcri", dir="/tmp")
    net = _pod_network(workdir)
    started = Node(workdir, net)
    try:
        started.start()
        started.import_images()
        yield started
    finally:
        started.cleanup()
        if net:
            net.delete()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(params=["runc", "tether"])
def handler(request):
    """A runtime handler name: runc (the control) always, tether once its shim is installed."""
    if request.param == "tether" and tether_shim_path() is None:
        pytest.skip("containerd-shim-tether-v1 is not in .venv/bin (issue 11)")
    return request.param


@pytest.fixture
def make_pod(node, handler, tmp_path_factory):
    """Return a factory make_pod(name) -> a running Pod; every pod is removed afterwards."""
    logs_root = str(tmp_path_factory.mktemp("pods"))
    made = []

    def make(name):
        pod = Pod(node, handler, name, logs_root)
        made.append(pod)
        return pod.run()

    yield make
    if node.proc is None:  # a test that killed containerd failed before restarting it
        node.start()
    for pod in made:
        pod.teardown_quietly()


def _open_fds():
    return {fd for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{fd}")}


def _is_grpc_own(fd):
    target = os.readlink(f"/proc/self/fd/{fd}")
    return target.startswith(("socket:", "anon_inode:"))


@pytest.fixture(autouse=True)
def no_leaked_fds():
    """Fail a test that leaves files or pipes open (gRPC's sockets and eventfds are its own)."""
    before = _open_fds()
    yield
    leaked = [fd for fd in _open_fds() - before if not _is_grpc_own(fd)]
    assert not leaked, f"leaked fds: {[os.readlink(f'/proc/self/fd/{fd}') for fd in leaked]}"
