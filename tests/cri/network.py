"""Pod networking for the tests: Debian's CNI plugins inside a network namespace of our own.

containerd runs inside the namespace made here (`nsenter --net`), so the CNI
bridge plugin creates its bridge there and not on the host: every pod's veth
pair joins a bridge that exists only in that namespace, and deleting the
namespace deletes them all. No traffic leaves it. The subnet is TEST-NET-1
(RFC 5737, never routed). Where namespaces or the plugins are missing, pods use
the node's network instead (NamespaceMode NODE), as a hostNetwork pod does.
"""

import json
import os
import shutil
import subprocess

CNI_BIN_DIR = "/usr/lib/cni"
PLUGINS = ("bridge", "host-local", "loopback")
NETWORK_NAME = "tether-cri-test"
BRIDGE = "ttcri0"
SUBNET = "192.0.2.0/24"


def plugins_missing():
    """Return the CNI plugins (and tools) that pod networking needs but this machine lacks."""
    missing = [p for p in PLUGINS if not os.access(os.path.join(CNI_BIN_DIR, p), os.X_OK)]
    missing += [tool for tool in ("ip", "nsenter") if shutil.which(tool) is None]
    return missing


class PodNetwork:
    """A network namespace for containerd and the CNI config of its pods."""

    def __init__(self, workdir, name):
        self.name = name
        self.netns_path = f"/run/netns/{name}"
        self.conf_dir = os.path.join(workdir, "cni", "net.d")
        self.ipam_dir = os.path.join(workdir, "cni", "ipam")
        self.created = False

    def create(self):
        """Create the namespace (loopback up) and write the CNI config list."""
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        self.created = True
        self.ip("link", "set", "lo", "up")
        os.makedirs(self.conf_dir, exist_ok=True)
        conflist = {
            "cniVersion": "0.4.0", "name": NETWORK_NAME,
            "plugins": [{"type": "bridge", "bridge": BRIDGE, "isGateway": True,
                         "ipMasq": False, "hairpinMode": False,
                         "ipam": {"type": "host-local", "dataDir": self.ipam_dir,
                                  "ranges": [[{"subnet": SUBNET}]],
                                  "routes": [{"dst": "0.0.0.0/0"}]}}],
        }
        with open(os.path.join(self.conf_dir, "10-tether-test.conflist"), "w") as f:
            json.dump(conflist, f, indent=1)

    def ip(self, *args):
        """Run `ip ARGS` inside the namespace; return its stdout."""
        return subprocess.run(["ip", "netns", "exec", self.name, "ip", *args], check=True,
                              capture_output=True, text=True).stdout

    def wrap(self, argv):
        """Return ARGV run inside the namespace (network only: mounts stay the host's)."""
        return ["nsenter", f"--net={self.netns_path}", *argv]

    def links(self):
        """Return the names of the namespace's links (lo, the bridge, the pods' veths)."""
        return [line.split(":")[1].strip().split("@")[0]
                for line in self.ip("-o", "link", "show").splitlines()]

    def allocated_ips(self):
        """Return the addresses host-local still holds (one file per address)."""
        network_dir = os.path.join(self.ipam_dir, NETWORK_NAME)
        if not os.path.isdir(network_dir):
            return []
        return [n for n in os.listdir(network_dir) if n[0].isdigit()]

    def delete(self):
        """Delete the namespace (its bridge and any veth left with it)."""
        if self.created:
            subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)
            self.created = False
