"""A container's cgroup: where it is, one stats sample of it, and its processes.

Everything is read from files (cgroupfs and /proc), never by forking runc: a
sample of one container is about fifteen small reads (~0.3 ms). The cgroup is found
from /proc/PID/cgroup of the container's init process, mapped onto the mount
points of /proc/self/mountinfo; that is right for both layouts:
- v1 (and hybrid hosts): one directory per controller (cpuacct, memory, pids,
  blkio), as /proc/PID/cgroup lists them;
- v2: one directory in the unified hierarchy ("0::/path").
runc's cgroupsPath is not enough by itself: a relative or missing one is
placed under runc's own cgroup, which only the process's entry reveals.
"""

import os
import pwd
import time

CGROUP_V1 = 1
CGROUP_V2 = 2
# v1 reports "no limit" as the largest page-aligned counter (PAGE_COUNTER_MAX * 4096).
V1_UNLIMITED = 1 << 62
V1_CONTROLLERS = ("cpuacct", "cpu", "memory", "pids", "blkio")


class CgroupError(Exception):
    """The cgroup of a process cannot be found or read."""


class Mount:
    """One cgroup mount: its type, the hierarchy path at its root, its mount point."""

    def __init__(self, fstype, root, point, options):
        self.fstype = fstype
        self.root = root
        self.point = point
        self.options = options

    def path_of(self, cgroup_path):
        """Return the directory of CGROUP_PATH (a path in the hierarchy) under this mount."""
        rel = cgroup_path
        if self.root != "/" and (rel == self.root or rel.startswith(self.root + "/")):
            rel = rel[len(self.root):]
        return os.path.join(self.point, rel.lstrip("/"))


def unescape_mount_field(text):
    """Undo mountinfo's octal escapes (\\040 for a space)."""
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1:i + 4].isdigit():
            out.append(chr(int(text[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text):
    """Return the cgroup and cgroup2 Mounts of a /proc/PID/mountinfo TEXT."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        mounts.append(Mount(tail[0], unescape_mount_field(fields[3]),
                            unescape_mount_field(fields[4]), tail[2].split(",")))
    return mounts


def parse_proc_cgroup(text):
    """Return ({v1 controller: path}, v2 path or None) of a /proc/PID/cgroup TEXT."""
    v1, unified = {}, None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            unified = path
            continue
        for controller in controllers.split(","):
            if controller:
                v1[controller] = path
    return v1, unified


class Cgroup:
    """One container's cgroup: VERSION and its directory per controller (v2: one for all)."""

    def __init__(self, version, dirs):
        self.version = version
        self.dirs = dirs

    def dir(self, controller):
        """Return the directory of CONTROLLER (v2: the unified one)."""
        if self.version == CGROUP_V2:
            return self.dirs[""]
        try:
            return self.dirs[controller]
        except KeyError:
            raise CgroupError(f"no {controller} controller in the cgroup") from None

    def file(self, controller, name):
        """Return the path of NAME in CONTROLLER's directory."""
        return os.path.join(self.dir(controller), name)

    def __repr__(self):
        return f"Cgroup(v{self.version}, {self.dirs!r})"


def locate(v1, unified, mounts):
    """Return the Cgroup of a process's entries (parse_proc_cgroup) on MOUNTS, or None.

    v1 wins on a hybrid host when it has the memory controller: the cgroup2
    mount there holds no resource controllers.
    """
    dirs = {}
    for mount in mounts:
        if mount.fstype != "cgroup":
            continue
        for controller in V1_CONTROLLERS:
            if controller in mount.options and controller in v1:
                dirs[controller] = mount.path_of(v1[controller])
    if "memory" in dirs:
        return Cgroup(CGROUP_V1, dirs)
    v2 = next((m for m in mounts if m.fstype == "cgroup2"), None)
    if unified is not None and v2 is not None:
        return Cgroup(CGROUP_V2, {"": v2.path_of(unified)})
    return None


class Finder:
    """Find processes' cgroups; the mount table is read once (PROC: the /proc to read)."""

    def __init__(self, proc="/proc"):
        self.proc = proc
        self._mounts = None

    def mounts(self):
        """Return the cgroup mounts of this process's mount namespace."""
        if self._mounts is None:
            self._mounts = parse_mountinfo(read_text(os.path.join(self.proc, "self",
                                                                  "mountinfo")))
        return self._mounts

    def of_pid(self, pid):
        """Return the Cgroup of PID; CgroupError if it cannot be found."""
        path = os.path.join(self.proc, str(pid), "cgroup")
        v1, unified = parse_proc_cgroup(read_text(path))
        cgroup = locate(v1, unified, self.mounts())
        if cgroup is None:
            raise CgroupError(f"read {path}: no cgroup mount holds the process's cgroup")
        return cgroup


def read_text(path):
    """Return the text of PATH; CgroupError naming it if unreadable."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError as err:
        raise CgroupError(f"read {path}: {err.strerror}") from err


def read_optional(path):
    """Return the text of PATH, or None if it does not exist or cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("ascii", "replace")
    except OSError:
        return None


def read_number(path, unlimited=None):
    """Return the integer in PATH; None for "max", a v1 value >= UNLIMITED, or no file."""
    text = read_optional(path)
    if text is None or text.strip() in ("", "max"):
        return None
    try:
        value = int(text.split()[0])
    except ValueError:
        return None
    return None if unlimited is not None and value >= unlimited else value


def read_keyed(path):
    """Return {key: int} of a flat keyed file (memory.stat, memory.events, cpu.stat)."""
    values = {}
    for line in (read_optional(path) or "").splitlines():
        key, _sep, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def parse_blkio(text):
    """Return (read, written) bytes of a v1 blkio.throttle.io_service_bytes TEXT."""
    read = written = 0
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2].isdigit():
            if fields[1] == "Read":
                read += int(fields[2])
            elif fields[1] == "Write":
                written += int(fields[2])
    return read, written


def parse_io_stat(text):
    """Return (read, written) bytes of a v2 io.stat TEXT (rbytes=, wbytes= per device)."""
    read = written = 0
    for line in (text or "").splitlines():
        for item in line.split()[1:]:
            key, _sep, value = item.partition("=")
            if value.isdigit():
                if key == "rbytes":
                    read += int(value)
                elif key == "wbytes":
                    written += int(value)
    return read, written


def host_memory(proc="/proc"):
    """Return the host's MemTotal in bytes (a limit for an unlimited container)."""
    for line in (read_optional(os.path.join(proc, "meminfo")) or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def online_cpus():
    """Return the CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def sample(cgroup, proc="/proc"):
    """Return one stats sample of CGROUP (docs/api.md, "Stats")."""
    if cgroup.version == CGROUP_V1:
        values = sample_v1(cgroup)
    else:
        values = sample_v2(cgroup)
    memory = values["memory"]
    memory["host_bytes"] = host_memory(proc)
    values.update(cgroup_version=cgroup.version, online_cpus=online_cpus(),
                  read_ns=time.monotonic_ns())
    return values


def working_set(usage, inactive_file):
    """Return USAGE minus the inactive page cache, as docker's stats shows memory."""
    if usage is None:
        return None
    return usage - inactive_file if inactive_file is not None and inactive_file < usage \
        else usage


def sample_v1(cg):
    """Return a sample from v1 controllers (cpuacct, memory, pids, blkio)."""
    stat = read_keyed(cg.file("memory", "memory.stat"))
    usage = read_number(cg.file("memory", "memory.usage_in_bytes"))
    oom = read_keyed(cg.file("memory", "memory.oom_control"))
    read, written = parse_blkio(read_optional(cg.file("blkio", "blkio.throttle.io_service_bytes"))
                                if "blkio" in cg.dirs else None)
    pids_dir = cg.dirs.get("pids")
    return {
        "cpu": {"usage_ns": read_number(cg.file("cpuacct", "cpuacct.usage"))
                if "cpuacct" in cg.dirs else None},
        "memory": {"usage_bytes": working_set(usage, stat.get("total_inactive_file")),
                   "raw_usage_bytes": usage,
                   "limit_bytes": read_number(cg.file("memory", "memory.limit_in_bytes"),
                                              V1_UNLIMITED),
                   "cache_bytes": stat.get("total_cache")},
        "pids": {"current": read_number(os.path.join(pids_dir, "pids.current"))
                 if pids_dir else None,
                 "limit": read_number(os.path.join(pids_dir, "pids.max")) if pids_dir else None},
        "blkio": {"read_bytes": read, "write_bytes": written},
        "oom_kills": oom.get("oom_kill", 0),
        "limits": limits_v1(cg),
    }


def sample_v2(cg):
    """Return a sample from a v2 cgroup directory."""
    d = cg.dirs[""]
    stat = read_keyed(os.path.join(d, "memory.stat"))
    usage = read_number(os.path.join(d, "memory.current"))
    cpu = read_keyed(os.path.join(d, "cpu.stat"))
    events = read_keyed(os.path.join(d, "memory.events"))
    read, written = parse_io_stat(read_optional(os.path.join(d, "io.stat")))
    usec = cpu.get("usage_usec")
    return {
        "cpu": {"usage_ns": None if usec is None else usec * 1000},
        "memory": {"usage_bytes": working_set(usage, stat.get("inactive_file")),
                   "raw_usage_bytes": usage,
                   "limit_bytes": read_number(os.path.join(d, "memory.max")),
                   "cache_bytes": stat.get("file")},
        "pids": {"current": read_number(os.path.join(d, "pids.current")),
                 "limit": read_number(os.path.join(d, "pids.max"))},
        "blkio": {"read_bytes": read, "write_bytes": written},
        "oom_kills": events.get("oom_kill", 0),
        "limits": limits_v2(cg),
    }


def cpus_of(quota, period):
    """Return the CPU limit in cores of a CFS QUOTA and PERIOD (None: no limit)."""
    if quota is None or quota < 0 or not period:
        return None
    return round(quota / period, 3)


def limits_v1(cg):
    """Return the limits set on a v1 cgroup: memory bytes, cpus, pids (None: none)."""
    cpu_dir = cg.dirs.get("cpu")
    quota = read_number(os.path.join(cpu_dir, "cpu.cfs_quota_us")) if cpu_dir else None
    period = read_number(os.path.join(cpu_dir, "cpu.cfs_period_us")) if cpu_dir else None
    pids_dir = cg.dirs.get("pids")
    return {"memory_bytes": read_number(cg.file("memory", "memory.limit_in_bytes"),
                                        V1_UNLIMITED),
            "cpus": cpus_of(quota, period),
            "pids": read_number(os.path.join(pids_dir, "pids.max")) if pids_dir else None}


def limits_v2(cg):
    """Return the limits set on a v2 cgroup: memory bytes, cpus, pids (None: none)."""
    d = cg.dirs[""]
    quota, _sep, period = (read_optional(os.path.join(d, "cpu.max")) or "max").partition(" ")
    cpus = cpus_of(int(quota), int(period)) if quota.strip().isdigit() and \
        period.strip().isdigit() else None
    return {"memory_bytes": read_number(os.path.join(d, "memory.max")), "cpus": cpus,
            "pids": read_number(os.path.join(d, "pids.max"))}


# -- top: the processes of a cgroup --------------------------------------------

def cgroup_pids(cgroup):
    """Return the pids in CGROUP's cgroup.procs (v1: the pids or memory controller's)."""
    if cgroup.version == CGROUP_V2:
        directory = cgroup.dirs[""]
    else:
        directory = cgroup.dirs.get("pids") or cgroup.dir("memory")
    text = read_text(os.path.join(directory, "cgroup.procs"))
    return sorted(int(word) for word in text.split() if word.isdigit())


def user_name(uid, cache):
    """Return the host's name of UID (the number if it has none), memoised in CACHE."""
    if uid not in cache:
        try:
            cache[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            cache[uid] = str(uid)
    return cache[uid]


def read_process(pid, proc="/proc", ticks=None, names=None):
    """Return {pid, ppid, uid, user, cpu_ns, command, args} of PID, or None if it is gone."""
    base = os.path.join(proc, str(pid))
    stat = read_optional(os.path.join(base, "stat"))
    status = read_optional(os.path.join(base, "status"))
    if stat is None or status is None or ")" not in stat:
        return None
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = ticks or os.sysconf("SC_CLK_TCK")
    uid = next((int(line.split()[1]) for line in status.splitlines()
                if line.startswith("Uid:")), 0)
    try:
        with open(os.path.join(base, "cmdline"), "rb") as f:
            cmdline = f.read()
    except OSError:
        cmdline = b""
    args = [a.decode("utf-8", "replace") for a in cmdline.rstrip(b"\0").split(b"\0")] \
        if cmdline else []
    # fields[0] is field 3 of stat (state): utime and stime are fields 14 and 15.
    cpu_ticks = int(fields[11]) + int(fields[12])
    return {"pid": pid, "ppid": int(fields[1]), "uid": uid,
            "user": user_name(uid, names if names is not None else {}),
            "cpu_ns": cpu_ticks * 10**9 // ticks,
            "command": " ".join(args) if args else f"[{comm}]", "args": args}


def processes(cgroup, proc="/proc"):
    """Return the process records of CGROUP's processes (those gone meanwhile left out)."""
    ticks, names = os.sysconf("SC_CLK_TCK"), {}
    found = (read_process(pid, proc, ticks, names) for pid in cgroup_pids(cgroup))
    return [p for p in found if p is not None]
