"""The bounded chaos run of the default suite (>= 30 manager SIGKILLs).

CHAOS_KILLS and CHAOS_SEED change it; the long run is `python -m tests.chaos`.
"""

import os

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
