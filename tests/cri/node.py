"""A private containerd with its CRI plugin on: a node as a kubelet sees it, under one temp dir.

Its root, state, sockets, runc root, CNI config and pod netns all live under
the node's directory; pods' cgroups live under one cgroup parent of its own.
cleanup() removes every trace even after a failed test: pods through the CRI
first (as a kubelet would), then by force what is left (shims, runc containers,
mounts, cgroups, the network namespace).
"""

import os
import signal
import subprocess

import helpers

from . import images
from .client import CriClient, CriError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
TETHER_SHIM = "containerd-shim-tether-v1"
NAMESPACE = "k8s.io"
CGROUP_FS = "/sys/fs/cgroup"
HANDLERS = {"runc": "io.containerd.runc.v2", "tether": "io.containerd.tether.v1"}

# Root here lacks CAP_SYS_RESOURCE, so the sandbox's oom_score_adj of -998 is
# refused unless restrict_oom_score_adj clamps it (FACTS.md, containerd 1.6.20).
# A config that adds a runtime must also define runc, or the CRI plugin does not load.
CONFIG = """version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "{dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  max_container_log_line_size = {max_line}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin_dir}"
    conf_dir = "{cni_conf_dir}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "{runc_type}"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{runc_root}"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tether]
      runtime_type = "{tether_type}"
"""
MAX_LOG_LINE = 16384


def tether_shim_path():
    """Return the tether shim binary in the venv, or None (issue 11 not installed)."""
    path = os.path.join(VENV_BIN, TETHER_SHIM)
    return path if os.access(path, os.X_OK) else None


def wait_for(condition, timeout, what, interval=0.02):
    """Poll CONDITION until it returns a truthy value; return it, or fail at the deadline."""
    return helpers.wait_until(condition, timeout, interval, what)


class Node:
    """containerd + CRI under DIR; NETWORK is a network.PodNetwork or None (host network)."""

    def __init__(self, workdir, network=None):
        self.dir = workdir
        self.network = network
        self.socket = os.path.join(workdir, "c.sock")
        self.state = os.path.join(workdir, "state")
        self.root = os.path.join(workdir, "root")
        self.runc_root = os.path.join(workdir, "runc")
        self.log_path = os.path.join(workdir, "containerd.log")
        self.cgroup_parent = f"/tether-cri-{os.getpid()}"
        self.proc = None
        self.client = None
        self.config = os.path.join(workdir, "config.toml")
        empty_cni = os.path.join(workdir, "no-cni")
        os.makedirs(empty_cni, exist_ok=True)
        with open(self.config, "w") as f:
            f.write(CONFIG.format(
                dir=workdir, root=self.root, state=self.state, socket=self.socket,
                sandbox_image=images.PAUSE_IMAGE, max_line=MAX_LOG_LINE,
                cni_bin_dir="/usr/lib/cni",
                cni_conf_dir=network.conf_dir if network else empty_cni,
                runc_type=HANDLERS["runc"], runc_root=self.runc_root,
                tether_type=HANDLERS["tether"]))

    @property
    def host_network(self):
        return self.network is None

    def start(self):
        """Start containerd and return once its CRI answers Version."""
        argv = ["containerd", "--config", self.config]
        if self.network:
            argv = self.network.wrap(argv)
        env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}")
        with open(self.log_path, "ab") as log:
            # nsenter execs containerd: self.proc.pid is containerd's own pid.
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=env, start_new_session=True)
        if self.client is None:
            self.client = CriClient(self.socket)
        wait_for(self._answers, 30, "containerd's CRI to answer Version")

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"containerd exited with {self.proc.returncode}: "
                               f"see {self.log_path}:\n{self.log_tail()}")
        if not os.path.exists(self.socket):
            return False
        try:
            return self.client.call("Version", deadline=2, version="v1")
        except CriError:
            return False

    def log_tail(self, lines=15):
        """Return the last LINES lines of containerd's log."""
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def kill(self):
        """SIGKILL containerd (its shims and containers live on) and reap it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self):
        """Stop containerd with SIGTERM (SIGKILL after 20 s)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def ctr(self, *args):
        """Return a ctr argv for this containerd's k8s.io namespace."""
        return ["ctr", "--address", self.socket, "--namespace", NAMESPACE, *args]

    def import_images(self):
        """Import the test images and wait until the CRI's image store lists them."""
        images.import_images(self.ctr(), self.dir)

        def listed():
            tags = {t for i in self.client.call("ListImages")["images"] for t in i["repo_tags"]}
            return {images.PAUSE_IMAGE, images.BUSYBOX_IMAGE} <= tags
        wait_for(listed, 10, "the CRI to list the imported images")

    def task_dir(self, task_id):
        """Return the shim's bundle directory of a sandbox or container."""
        return os.path.join(self.state, "io.containerd.runtime.v2.task", NAMESPACE, task_id)

    def netns_dir(self):
        return os.path.join(self.state, "io.containerd.grpc.v1.cri", "netns")

    def pod_cgroup_parent(self, uid):
        """Return the cgroup parent a kubelet would give the pod UID (cgroupfs driver)."""
        return f"{self.cgroup_parent}/pod{uid}"

    def shim_pids(self):
        """Return the pids of the shims serving this containerd (each is given its -address)."""
        return [pid for pid in processes_with(self.socket.encode())
                if self.proc is None or pid != self.proc.pid]

    def cleanup(self):
        """Remove every pod, stop containerd and force away whatever is left."""
        if self.proc is not None and self.proc.poll() is None:
            remove_all_pods(self.client)
        self.stop()
        # Any shim (runc's, tether's) names our socket or a bundle under our dir.
        for pid in processes_with(self.dir.encode()):
            kill_quietly(pid)
        kill_cgroup_processes(self.cgroup_parent)
        force_remove_runc(self.runc_root)
        unmount_under(self.dir)
        remove_cgroups(self.cgroup_parent)
        if self.client is not None:
            self.client.close()
            self.client = None


def remove_all_pods(client):
    """Stop and remove every pod sandbox (and so its containers), ignoring failures."""
    try:
        pods = client.call("ListPodSandbox", deadline=10)["items"]
    except CriError:
        return
    for pod in pods:
        for method in ("StopPodSandbox", "RemovePodSandbox"):
            try:
                client.call(method, deadline=30, pod_sandbox_id=pod["id"])
            except CriError:
                pass


def processes_with(needle):
    """Return the pids (not ours) whose command line contains NEEDLE (bytes)."""
    return [int(n) for n in os.listdir("/proc")
            if n.isdigit() and int(n) != os.getpid() and needle in helpers.read_cmdline(n)]


def kill_quietly(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def force_remove_runc(runc_root):
    """Kill and delete every runc container under RUNC_ROOT (the CRI's runc handler's root)."""
    if not os.path.isdir(runc_root):
        return
    for namespace in os.listdir(runc_root):
        root = os.path.join(runc_root, namespace)
        for cid in os.listdir(root):
            subprocess.run(["runc", "--root", root, "delete", "--force", cid],
                           capture_output=True, timeout=30)


def mounts_under(path):
    """Return the mount points at or below PATH, deepest first."""
    prefix = path.rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].replace("\\040", " ") for line in f]
    return sorted({p for p in points if p.startswith(prefix)}, key=len, reverse=True)


def unmount_under(path):
    """Lazily unmount everything mounted below PATH (rootfs overlays, shm, netns)."""
    for point in mounts_under(path):
        subprocess.run(["umount", "-l", point], capture_output=True)


def cgroup_dirs(relative):
    """Return the directories of cgroup RELATIVE in every mounted hierarchy."""
    found = []
    for hierarchy in os.listdir(CGROUP_FS):
        path = os.path.join(CGROUP_FS, hierarchy, relative.lstrip("/"))
        if os.path.isdir(path):
            found.append(path)
    return found


def memory_limit(relative):
    """Return the memory limit in bytes of cgroup RELATIVE (cgroup v1 or v2)."""
    v1 = os.path.join(CGROUP_FS, "memory", relative.lstrip("/"), "memory.limit_in_bytes")
    path = v1 if os.path.exists(v1) else os.path.join(CGROUP_FS, relative.lstrip("/"),
                                                      "memory.max")
    with open(path) as f:
        return int(f.read())


def cgroup_pids(relative):
    """Return the pids in cgroup RELATIVE and below, in every hierarchy."""
    pids = set()
    for top in cgroup_dirs(relative):
        for dirpath, _, files in os.walk(top):
            if "cgroup.procs" in files:
                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                    pids.update(int(p) for p in f.read().split())
    return pids


def kill_cgroup_processes(relative):
    """SIGKILL every process of the pods' cgroups (whatever shim left them) and wait for it."""
    for pid in cgroup_pids(relative):
        kill_quietly(pid)
    wait_for(lambda: not cgroup_pids(relative), 10, f"cgroup {relative} empty")


def remove_cgroups(relative):
    """Remove cgroup RELATIVE and every cgroup below it, deepest first (all must be empty)."""
    for top in cgroup_dirs(relative):
        for dirpath, dirnames, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
