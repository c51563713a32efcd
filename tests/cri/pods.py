"""Pods driven as a kubelet drives them: its configs, its log layout, its teardown order."""

import json
import os
import uuid

from . import images, messages
from .client import CriError
from .node import cgroup_dirs, mounts_under, processes_with, wait_for


class Pod:
    """One pod sandbox on NODE with runtime handler HANDLER, and its containers."""

    def __init__(self, node, handler, name, logs_root):
        self.node, self.client, self.handler, self.name = node, node.client, handler, name
        self.uid = uuid.uuid4().hex
        # kubelet's layout: /var/log/pods/NAMESPACE_NAME_UID/CONTAINER/RESTARTCOUNT.log
        self.log_directory = os.path.join(logs_root, f"default_{name}_{self.uid}")
        self.id = None
        self.containers = {}
        host = node.host_network
        self.config = {
            "metadata": {"name": name, "uid": self.uid, "namespace": "default", "attempt": 0},
            # A host-network pod shares the node's UTS namespace: no hostname of its own.
            "hostname": None if host else name,
            "log_directory": self.log_directory,
            "labels": {"tether.test/pod": name},
            "linux": {"cgroup_parent": node.pod_cgroup_parent(self.uid),
                      "security_context": {"namespace_options": {
                          "network": messages.NS_NODE if host else messages.NS_POD,
                          "pid": messages.NS_CONTAINER, "ipc": messages.NS_POD}}},
        }

    def run(self):
        """Make the pod's log directory (kubelet does, not the runtime) and RunPodSandbox."""
        os.makedirs(self.log_directory, exist_ok=True)
        self.id = self.client.call("RunPodSandbox", deadline=60, config=self.config,
                                   runtime_handler=self.handler)["pod_sandbox_id"]
        return self

    def status(self, verbose=False):
        """Return PodSandboxStatus's reply."""
        return self.client.call("PodSandboxStatus", pod_sandbox_id=self.id, verbose=verbose)

    def create(self, name, command, memory=None, mounts=(), envs=None):
        """CreateContainer NAME running COMMAND; return its id (not started)."""
        config = {
            "metadata": {"name": name, "attempt": 0},
            "image": {"image": images.BUSYBOX_IMAGE},
            "command": command,
            "envs": [{"key": k, "value": v} for k, v in (envs or {}).items()],
            "mounts": [{"container_path": c, "host_path": h} for h, c in mounts],
            "labels": {"tether.test/container": name},
            "log_path": f"{name}/0.log",
            "linux": {"security_context": {"namespace_options": {
                "network": messages.NS_NODE if self.node.host_network else messages.NS_POD,
                "pid": messages.NS_CONTAINER, "ipc": messages.NS_POD}}},
        }
        if memory:
            config["linux"]["resources"] = {"memory_limit_in_bytes": memory}
        cid = self.client.call("CreateContainer", deadline=60, pod_sandbox_id=self.id,
                               config=config, sandbox_config=self.config)["container_id"]
        self.containers[name] = cid
        return cid

    def start(self, name, command, **options):
        """CreateContainer and StartContainer; return the container's id."""
        cid = self.create(name, command, **options)
        self.client.call("StartContainer", deadline=60, container_id=cid)
        return cid

    def log_file(self, name):
        return os.path.join(self.log_directory, name, "0.log")

    def wait_state(self, cid, state, timeout=20):
        """Poll ContainerStatus until CID is in STATE; return the status."""
        def reached():
            status = self.client.container_state(cid)
            return status if status["state"] == state else None
        return wait_for(reached, timeout, f"container {cid[:12]} in state {state}")

    def wait_exited(self, cid, timeout=20):
        return self.wait_state(cid, messages.CONTAINER_EXITED, timeout)

    def task_pid(self, cid):
        """Return the container's init pid (ContainerStatus verbose info)."""
        return json.loads(self.client.container_info(cid)["info"])["pid"]

    def cgroup_path(self, cid):
        """Return the container's cgroups path from its OCI spec (verbose info)."""
        info = json.loads(self.client.container_info(cid)["info"])
        return info["runtimeSpec"]["linux"]["cgroupsPath"]

    def teardown(self):
        """As kubelet deletes a pod: stop and remove each container, then the sandbox."""
        for cid in self.containers.values():
            self.client.call("StopContainer", deadline=30, container_id=cid, timeout=1)
            self.client.call("RemoveContainer", deadline=30, container_id=cid)
        self.client.call("StopPodSandbox", deadline=30, pod_sandbox_id=self.id)
        self.client.call("RemovePodSandbox", deadline=30, pod_sandbox_id=self.id)

    def teardown_quietly(self):
        """Teardown for a finalizer: the pod may be half-made or already removed."""
        if self.id is None:
            return
        try:
            self.teardown()
        except CriError:
            for method in ("StopPodSandbox", "RemovePodSandbox"):
                try:
                    self.client.call(method, deadline=30, pod_sandbox_id=self.id)
                except CriError:
                    pass


def paths_mentioning(ids, top, depth):
    """Return the paths at most DEPTH levels below TOP whose name contains one of IDS."""
    found = []
    base = top.rstrip("/").count("/")
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath.count("/") - base >= depth:
            dirnames[:] = []
        found += [os.path.join(dirpath, n) for n in dirnames + filenames
                  if any(i in n for i in ids)]
    return found


def leftovers(node, ids, pids, cgroups):
    """Return what is left of the tasks IDS, processes PIDS and cgroups CGROUPS ({} if none)."""
    found = {
        "processes": [p for p in pids if os.path.exists(f"/proc/{p}")],
        "processes mentioning the ids": [p for i in ids for p in processes_with(i.encode())],
        "mounts": [m for m in mounts_under(node.dir) if any(i in m for i in ids)],
        "task dirs": [i for i in ids if os.path.exists(node.task_dir(i))],
        # Shims keep their own state under /run (runc's shim: /run/containerd/...).
        "paths under /run": paths_mentioning(ids, "/run", 4),
        "runc containers": [i for i in ids if any(
            os.path.exists(os.path.join(node.runc_root, ns, i))
            for ns in (os.listdir(node.runc_root) if os.path.isdir(node.runc_root) else ()))],
        "cgroups": [d for c in cgroups for d in cgroup_dirs(c)],
    }
    if os.path.isdir(node.netns_dir()):
        found["netns"] = os.listdir(node.netns_dir())
    if node.network:
        found["veths"] = [n for n in node.network.links() if n.startswith("veth")]
        found["pod ips"] = node.network.allocated_ips()
    return {k: v for k, v in found.items() if v}
