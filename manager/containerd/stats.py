"""Stats: the cgroup v1 metrics of a container's process, as io.containerd.cgroups.v1.Metrics.

Read from the cgroup files of each v1 controller the process is in
(/proc/PID/cgroup), the same files containerd's cgroups library reads, so
`ctr task metrics` prints the table it prints for runc.v2. A controller the
host lacks is left out. cgroup v2 hosts are refused with a message (the v2
Metrics message is not written yet; this machine is cgroup v1).
"""

import os

from manager.containerd.messages import MEMORY_STAT_FIELDS

CGROUP_ROOT = "/sys/fs/cgroup"
USER_HZ = os.sysconf("SC_CLK_TCK")


class StatsError(Exception):
    """The metrics cannot be read."""


def controller_paths(pid):
    """Return {controller: directory} of PID's v1 cgroups."""
    paths = {}
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise StatsError(f"read /proc/{pid}/cgroup: {err.strerror}") from err
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(","):
            if name:
                paths[name] = os.path.join(CGROUP_ROOT, name, path.lstrip("/"))
    if not paths:
        raise StatsError("metrics: cgroup v2 is not supported (only v1 metrics)")
    return paths


def read_int(path, default=0):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def read_pairs(path):
    """Return {key: int} of a `key value` file."""
    pairs = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                    pairs[parts[0]] = int(parts[1])
    except OSError:
        pass
    return pairs


def memory_entry(base, prefix):
    return {"usage": read_int(f"{base}/{prefix}usage_in_bytes"),
            "limit": read_int(f"{base}/{prefix}limit_in_bytes"),
            "max": read_int(f"{base}/{prefix}max_usage_in_bytes"),
            "failcnt": read_int(f"{base}/{prefix}failcnt")}


def read_memory(base):
    stat = read_pairs(f"{base}/memory.stat")
    names = {"pg_pg_in": "pgpgin", "pg_pg_out": "pgpgout", "pg_fault": "pgfault",
             "pg_maj_fault": "pgmajfault"}
    memory = {}
    for name in MEMORY_STAT_FIELDS:
        key = names.get(name, name)
        memory[name] = stat.get(key, 0)
        if name not in ("hierarchical_memory_limit", "hierarchical_swap_limit"):
            memory["total_" + name] = stat.get("total_" + key, 0)
    memory["usage"] = memory_entry(base, "memory.")
    memory["swap"] = memory_entry(base, "memory.memsw.")
    memory["kernel"] = memory_entry(base, "memory.kmem.")
    memory["kernel_tcp"] = memory_entry(base, "memory.kmem.tcp.")
    return memory


def read_cpu(cpuacct, cpu):
    per_cpu = []
    try:
        with open(f"{cpuacct}/cpuacct.usage_percpu") as f:
            per_cpu = [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        pass
    ticks = read_pairs(f"{cpuacct}/cpuacct.stat")
    to_ns = 1_000_000_000 // USER_HZ
    throttle = read_pairs(f"{cpu}/cpu.stat")
    return {"usage": {"total": read_int(f"{cpuacct}/cpuacct.usage"),
                      "user": ticks.get("user", 0) * to_ns,
                      "kernel": ticks.get("system", 0) * to_ns, "per_cpu": per_cpu},
            "throttling": {"periods": throttle.get("nr_periods", 0),
                           "throttled_periods": throttle.get("nr_throttled", 0),
                           "throttled_time": throttle.get("throttled_time", 0)}}


def read_blkio_entries(path):
    entries = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and ":" in parts[0]:
                    major, minor = parts[0].split(":")
                    entries.append({"op": parts[1], "major": int(major), "minor": int(minor),
                                    "value": int(parts[2])})
    except (OSError, ValueError):
        pass
    return entries


def read_metrics(pid):
    """Return the Metrics dict of the cgroups of PID."""
    paths = controller_paths(pid)
    metrics = {}
    if "pids" in paths:
        limit = 0
        try:
            with open(os.path.join(paths["pids"], "pids.max")) as f:
                text = f.read().strip()
            limit = 0 if text == "max" else int(text)
        except (OSError, ValueError):
            pass
        metrics["pids"] = {"current": read_int(os.path.join(paths["pids"], "pids.current")),
                           "limit": limit}
    if "cpuacct" in paths:
        metrics["cpu"] = read_cpu(paths["cpuacct"], paths.get("cpu", paths["cpuacct"]))
    if "memory" in paths:
        base = paths["memory"]
        metrics["memory"] = read_memory(base)
        oom = read_pairs(f"{base}/memory.oom_control")
        metrics["memory_oom_control"] = {"oom_kill_disable": oom.get("oom_kill_disable", 0),
                                         "under_oom": oom.get("under_oom", 0),
                                         "oom_kill": oom.get("oom_kill", 0)}
    if "blkio" in paths:
        base = paths["blkio"]
        metrics["blkio"] = {
            "io_service_bytes_recursive":
                read_blkio_entries(f"{base}/blkio.throttle.io_service_bytes_recursive"),
            "io_serviced_recursive":
                read_blkio_entries(f"{base}/blkio.throttle.io_serviced_recursive")}
    return metrics
