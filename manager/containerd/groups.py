"""Where a task's serving process and state live: one group per namespace (or per pod).

A group is the set of tasks one serving process serves. By default it is
every task of the namespace: the serving process, its spawn helper and the
shims' zygote cost ~27 MB PSS together (docs/containerd.md), so grouping per
pod, as containerd-shim-runc-v2 does (the `io.kubernetes.cri.sandbox-id`
annotation), would pay that for each pod. TETHER_CONTAINERD_GROUP=pod asks
for per-pod groups (a serving process's death then touches one pod). Its
directory is the root of one Tether core (containers/, runc/):

    BASE/NAMESPACE/GROUP/       BASE: $TETHER_CONTAINERD_ROOT or /run/tether-containerd
        containers/ID/init ...  the core's process directories (the shims' contract)
        runc/                   runc's --root
        pending/ID              `start` answered for ID, Create not seen yet
        start.lock              flock: `start` and the serving process's exit decision
        serve.log               the serving process's log
    BASE/s/HASH.sock            the group's ttrpc socket (short: sun_path is 108 bytes)
"""

import os

from shim.contract import cjson, layout

try:  # the same digest as hashlib's; hashlib would map libcrypto into `start` (~5 ms)
    from _sha256 import sha256
except ImportError:
    from hashlib import sha256

BASE_ENV = "TETHER_CONTAINERD_ROOT"
GROUP_ENV = "TETHER_CONTAINERD_GROUP"
DEFAULT_BASE = "/run/tether-containerd"
SANDBOX_ANNOTATION = "io.kubernetes.cri.sandbox-id"
SHARED = "shared"


def base_dir():
    """Return the base directory of every group."""
    return os.path.abspath(os.environ.get(BASE_ENV) or DEFAULT_BASE)


def group_name(bundle):
    """Return the group of the task in BUNDLE: the namespace's shared group, or pod-SANDBOX."""
    if os.environ.get(GROUP_ENV) != "pod":
        return SHARED
    try:
        with open(os.path.join(bundle, layout.BUNDLE_CONFIG), "rb") as f:
            spec = cjson.loads(f.read())
    except (OSError, ValueError):
        return SHARED
    annotations = spec.get("annotations") if isinstance(spec, dict) else None
    sandbox = annotations.get(SANDBOX_ANNOTATION) if isinstance(annotations, dict) else None
    if isinstance(sandbox, str) and sandbox and sandbox.isalnum():
        return "pod-" + sandbox[:64]
    return SHARED


def check_namespace(namespace):
    """Raise ValueError unless NAMESPACE is a safe directory name (containerd's rule)."""
    if not namespace or namespace.startswith(".") or "/" in namespace or len(namespace) > 76:
        raise ValueError(f"invalid namespace {namespace!r}")


def group_root(namespace, group):
    """Return the directory of GROUP in NAMESPACE."""
    check_namespace(namespace)
    return os.path.join(base_dir(), namespace, group)


def socket_path(root, containerd_address):
    """Return the ttrpc socket of the group at ROOT serving containerd at CONTAINERD_ADDRESS."""
    digest = sha256(f"{root}\0{containerd_address}".encode()).hexdigest()[:32]
    return os.path.join(base_dir(), "s", digest + ".sock")


def pending_path(root, task_id):
    """Return the marker of a task `start` answered for and Create did not yet see."""
    return os.path.join(root, "pending", task_id)
