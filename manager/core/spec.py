"""Build an OCI runtime config.json, in the shape `runc spec` gives."""

import os

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CPU_PERIOD = 100000
_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

_BASE = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": [DEFAULT_PATH],
        "cwd": "/",
        "capabilities": {k: list(_CAPS) for k in
                         ("bounding", "effective", "permitted", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "tether",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                     "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    },
}


def default_spec(rootfs="rootfs", args=None, env=(), cwd="/", tty=False,
                 hostname=None, memory=None, pids_limit=None, user=None, cpus=None,
                 mounts=(), net=None):
    """Return a config.json dict like `runc spec`, with the given process settings."""
    import copy  # here: `tether run` imports this module for its parsers (copy: ~3 ms)
    spec = copy.deepcopy(_BASE)
    spec["root"]["path"] = rootfs
    process = spec["process"]
    if args:
        process["args"] = list(args)
    process["terminal"] = bool(tty)
    if tty:
        process["env"].append("TERM=xterm")
    process["env"].extend(env)
    process["cwd"] = cwd
    if user is not None:
        process["user"] = {"uid": int(user[0]), "gid": int(user[1])}
    if hostname:
        spec["hostname"] = hostname
    spec["mounts"].extend(bind_mount(m) for m in mounts)
    if net == "host":
        # No network namespace: the container shares the host's interfaces.
        spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"]
                                       if n["type"] != "network"]
    apply_resources(spec["linux"]["resources"], memory, cpus, pids_limit)
    return spec


def bind_mount(mount):
    """Return the OCI mount of MOUNT ({"source", "destination", "readonly"})."""
    options = ["rbind", "ro" if mount.get("readonly") else "rw"]
    return {"destination": mount["destination"], "type": "bind",
            "source": mount["source"], "options": options}


def apply_resources(resources, memory, cpus, pids_limit):
    """Set the memory, CPU and pids limits in RESOURCES (linux.resources)."""
    if memory is not None:
        resources["memory"] = {"limit": int(memory)}
    if cpus is not None:
        # CFS bandwidth: CPUS cores' worth of runtime in every period.
        resources["cpu"] = {"quota": int(round(float(cpus) * CPU_PERIOD)), "period": CPU_PERIOD}
    if pids_limit is not None:
        resources["pids"] = {"limit": int(pids_limit)}


# -- the spec options as the CLI writes them (pure; ValueError names the flag) --

_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
NETS = ("host", "none")


def parse_user(text):
    """Return (uid, gid) of --user UID:GID (numbers: the rootfs may have no passwd)."""
    uid, sep, gid = text.partition(":")
    if not (uid.isdigit() and sep and gid.isdigit()):
        raise ValueError(f"invalid --user {text!r}: expected UID:GID (numbers, e.g. 1000:1000)")
    return int(uid), int(gid)


def parse_memory(text):
    """Return bytes of --memory TEXT (a number with an optional b, k, m, g or t suffix)."""
    number, unit = text.rstrip("bBkKmMgGtT"), text[len(text.rstrip("bBkKmMgGtT")):].lower()
    if not number.isdigit() or unit not in _SIZE_UNITS or int(number) == 0:
        raise ValueError(f"invalid --memory {text!r}: expected a size such as 64m, 1g, 1048576")
    return int(number) * _SIZE_UNITS[unit]


def parse_cpus(text):
    """Return --cpus TEXT as a positive float (1.5 = one and a half cores)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.01 <= value <= 1024:
        raise ValueError(f"invalid --cpus {text!r}: expected a number of cores such as 0.5 or 2")
    return value


def parse_mount(text):
    """Return the mount dict of --mount SRC:DST[:ro] (SRC made absolute, DST absolute)."""
    parts = text.split(":")
    readonly = len(parts) == 3 and parts[2] == "ro"
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")) \
            or not parts[0] or not parts[1].startswith("/"):
        raise ValueError(f"invalid --mount {text!r}: expected SRC:DST[:ro] with DST absolute")
    return {"source": os.path.abspath(parts[0]), "destination": parts[1], "readonly": readonly}
