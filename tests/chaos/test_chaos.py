"""The bounded chaos run of the default suite (>= 30 manager SIGKILLs).

CHAOS_KILLS and CHAOS_SEED change it; the long run is `python -m tests.chaos`.
"""

import os

import helpers
from chaos.ctrd import CtrdChaos
from chaos.disk import SmallDisk
from chaos.engine import Chaos

KILLS = int(os.environ.get("CHAOS_KILLS", "30"))
SEED = int(os.environ.get("CHAOS_SEED", "20261123"))


def test_chaos_loses_no_exit_no_line_and_leaks_nothing(root, rootfs):
    report = Chaos(root, rootfs, SEED, KILLS, max_alive=6, heavy_lines=20000).run()
    print(report.summary())
    print(report.details())
    assert report.kills >= KILLS
    assert not report.violations, "\n".join([report.summary(), *report.violations])
    assert (report.lost_exits, report.lost_lines, report.leaks, report.corrupt) == (0, 0, 0, 0)


SHIM_KILLS = int(os.environ.get("CHAOS_SHIM_KILLS_RUN", "15"))  # manager kills of this run


def test_chaos_with_shim_sigkills_loses_nothing(root, rootfs):
    report = Chaos(root, rootfs, SEED + 1, SHIM_KILLS, max_alive=6, heavy_lines=20000,
                   shim_kills=True).run()
    print(report.summary())
    print(report.details())
    assert report.shim_kills > 0
    assert not report.violations, "\n".join([report.summary(), *report.violations])
    assert (report.lost_exits, report.lost_lines, report.leaks, report.corrupt) == (0, 0, 0, 0)


DISK_KILLS = int(os.environ.get("CHAOS_DISK_KILLS", "15"))  # manager kills of this run


def test_chaos_with_full_disk_moments_keeps_every_exit(tmp, rootfs):
    disk = SmallDisk(os.path.join(tmp, "disk"), 64 << 20)
    disk.mount()
    root = os.path.join(disk.path, "root")
    try:
        os.mkdir(root, 0o711)
        report = Chaos(root, rootfs, SEED + 2, DISK_KILLS, max_alive=6, heavy_lines=20000,
                       disk=disk, log_path=os.path.join(tmp, "manager.log")).run()
    finally:
        for pid in helpers.processes_mentioning(root):
            helpers.kill_if_alive(pid)
        helpers.runc_remove_all(os.path.join(root, "runc"))
        disk.unmount()
    print(report.summary())
    print(report.details())
    print("\n".join(report.notes))
    assert report.full_disk_moments > 0
    assert not report.violations, "\n".join([report.summary(), *report.violations])
    assert (report.lost_exits, report.lost_lines, report.leaks, report.corrupt) == (0, 0, 0, 0)


CTRD_KILLS = int(os.environ.get("CHAOS_CONTAINERD_KILLS", "15"))


def test_chaos_containerd_sigkills_lose_no_exit_no_line(tmp, rootfs):
    path = os.path.join(tmp, "cd")
    os.mkdir(path)
    report = CtrdChaos(path, rootfs, SEED + 3, CTRD_KILLS, max_alive=6, serving_kills=True).run()
    print(report.summary())
    assert report.kills >= CTRD_KILLS
    assert not report.violations, "\n".join([report.summary(), *report.violations])
