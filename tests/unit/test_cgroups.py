"""manager.core.cgroups on fake /proc and cgroupfs trees: v1, v2 and hybrid hosts."""

import os

import pytest

from manager.core import cgroups

MOUNTINFO_HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / {base}/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / {base}/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / {base}/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / {base}/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 /outer {base}/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / {base}/unified rw,relatime - cgroup2 cgroup2 rw
"""
PROC_CGROUP_V1 = """\
8:pids:/outer/tether-x-c1
7:blkio:/tether-x-c1
4:memory:/tether-x-c1
2:cpuacct:/tether-x-c1
1:cpu:/tether-x-c1
0::/
"""
MOUNTINFO_V2 = "25 1 0:26 / {base} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
PROC_CGROUP_V2 = "0::/system.slice/tether-x-c1\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def fake_proc(tmp, mountinfo, proc_cgroup, pid=42):
    proc = os.path.join(tmp, "proc")
    write(os.path.join(proc, "self", "mountinfo"), mountinfo)
    write(os.path.join(proc, str(pid), "cgroup"), proc_cgroup)
    write(os.path.join(proc, "meminfo"), "MemTotal:       1000 kB\nMemFree: 1 kB\n")
    return proc


def test_v1_controllers_are_found_per_mount_also_under_a_mount_root(tmp):
    base = os.path.join(tmp, "cg")
    proc = fake_proc(tmp, MOUNTINFO_HYBRID.format(base=base), PROC_CGROUP_V1)
    cg = cgroups.Finder(proc).of_pid(42)
    assert cg.version == cgroups.CGROUP_V1
    assert cg.dir("memory") == f"{base}/memory/tether-x-c1"
    assert cg.dir("pids") == f"{base}/pids/tether-x-c1"  # the mount's root /outer is cut off


def test_v1_sample_reads_every_controller(tmp):
    base = os.path.join(tmp, "cg")
    proc = fake_proc(tmp, MOUNTINFO_HYBRID.format(base=base), PROC_CGROUP_V1)
    mem, cpu = f"{base}/memory/tether-x-c1", f"{base}/cpu/tether-x-c1"
    write(f"{base}/cpuacct/tether-x-c1/cpuacct.usage", "123456789\n")
    write(f"{mem}/memory.usage_in_bytes", "10000\n")
    write(f"{mem}/memory.limit_in_bytes", "65536\n")
    write(f"{mem}/memory.stat", "cache 4000\ntotal_cache 4000\ntotal_inactive_file 3000\n")
    write(f"{mem}/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    write(f"{base}/pids/tether-x-c1/pids.current", "3\n")
    write(f"{base}/pids/tether-x-c1/pids.max", "max\n")
    write(f"{base}/blkio/tether-x-c1/blkio.throttle.io_service_bytes",
          "8:0 Read 100\n8:0 Write 20\n8:0 Sync 5\n8:16 Read 1\n8:0 Total 120\nTotal 121\n")
    write(f"{cpu}/cpu.cfs_quota_us", "50000\n")
    write(f"{cpu}/cpu.cfs_period_us", "100000\n")
    s = cgroups.sample(cgroups.Finder(proc).of_pid(42), proc)
    assert s["cpu"] == {"usage_ns": 123456789}
    assert s["memory"] == {"usage_bytes": 7000, "raw_usage_bytes": 10000, "limit_bytes": 65536,
                           "cache_bytes": 4000, "host_bytes": 1024000}
    assert s["pids"] == {"current": 3, "limit": None}
    assert s["blkio"] == {"read_bytes": 101, "write_bytes": 20}
    assert s["oom_kills"] == 2
    assert s["limits"] == {"memory_bytes": 65536, "cpus": 0.5, "pids": None}
    assert s["cgroup_version"] == 1


def test_v1_unlimited_memory_is_none(tmp):
    base = os.path.join(tmp, "cg")
    proc = fake_proc(tmp, MOUNTINFO_HYBRID.format(base=base), PROC_CGROUP_V1)
    write(f"{base}/memory/tether-x-c1/memory.limit_in_bytes", "9223372036854771712\n")
    s = cgroups.sample(cgroups.Finder(proc).of_pid(42), proc)
    assert s["memory"]["limit_bytes"] is None and s["limits"]["cpus"] is None


def test_v2_sample_reads_the_unified_directory(tmp):
    base = os.path.join(tmp, "cg2")
    proc = fake_proc(tmp, MOUNTINFO_V2.format(base=base), PROC_CGROUP_V2)
    d = f"{base}/system.slice/tether-x-c1"
    write(f"{d}/cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n")
    write(f"{d}/cpu.max", "150000 100000\n")
    write(f"{d}/memory.current", "8192\n")
    write(f"{d}/memory.max", "max\n")
    write(f"{d}/memory.stat", "anon 4096\nfile 4096\ninactive_file 1024\n")
    write(f"{d}/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    write(f"{d}/pids.current", "2\n")
    write(f"{d}/pids.max", "64\n")
    write(f"{d}/io.stat", "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n"
                          "8:16 rbytes=1 wbytes=2\n")
    write(f"{d}/cgroup.procs", "7\n5\n")
    cg = cgroups.Finder(proc).of_pid(42)
    assert cg.version == cgroups.CGROUP_V2 and cg.dir("memory") == d
    s = cgroups.sample(cg, proc)
    assert s["cpu"] == {"usage_ns": 2500000}
    assert s["memory"]["usage_bytes"] == 7168 and s["memory"]["limit_bytes"] is None
    assert s["pids"] == {"current": 2, "limit": 64}
    assert s["blkio"] == {"read_bytes": 4097, "write_bytes": 514}
    assert s["oom_kills"] == 1
    assert s["limits"] == {"memory_bytes": None, "cpus": 1.5, "pids": 64}
    assert cgroups.cgroup_pids(cg) == [5, 7]


def test_no_mount_for_the_process_is_an_error(tmp):
    proc = fake_proc(tmp, "", PROC_CGROUP_V1)
    with pytest.raises(cgroups.CgroupError, match="no cgroup mount"):
        cgroups.Finder(proc).of_pid(42)


def test_a_process_gone_is_an_error_naming_the_file(tmp):
    proc = fake_proc(tmp, MOUNTINFO_V2.format(base=tmp), PROC_CGROUP_V2)
    with pytest.raises(cgroups.CgroupError, match="/proc/43/cgroup"):
        cgroups.Finder(proc).of_pid(43)


@pytest.mark.parametrize("text, expected", [
    ("42 (sh) S 1 42 42 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0 99", (1, 3 * 10**9)),
    ("43 (a) b) R 7 1 1 0 -1 0 0 0 0 0 100 0 0 0 20 0 1 0 99", (7, 10**9)),
])
def test_process_records_come_from_stat_status_and_cmdline(tmp, text, expected):
    pid = int(text.split()[0])
    proc = os.path.join(tmp, "proc")
    write(f"{proc}/{pid}/stat", text)
    write(f"{proc}/{pid}/status", "Name:\tsh\nUid:\t0\t0\t0\t0\nGid:\t0\n")
    write(f"{proc}/{pid}/cmdline", "sleep\0" + "100\0")
    record = cgroups.read_process(pid, proc, ticks=100)
    assert (record["ppid"], record["cpu_ns"]) == expected
    assert record["user"] == "root" and record["command"] == "sleep 100"


def test_a_process_without_cmdline_shows_its_name_in_brackets(tmp):
    proc = os.path.join(tmp, "proc")
    write(f"{proc}/9/stat", "9 (zombie) Z 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99")
    write(f"{proc}/9/status", "Uid:\t4242\t4242\t4242\t4242\n")
    write(f"{proc}/9/cmdline", "")
    record = cgroups.read_process(9, proc, ticks=100)
    assert (record["command"], record["uid"]) == ("[zombie]", 4242)


def test_a_process_gone_between_procs_and_stat_is_left_out(tmp):
    assert cgroups.read_process(999999, os.path.join(tmp, "proc")) is None


def test_mountinfo_escapes_are_undone():
    mounts = cgroups.parse_mountinfo(
        "1 2 0:3 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n")
    assert mounts[0].point == "/sys/fs/my cgroup"
