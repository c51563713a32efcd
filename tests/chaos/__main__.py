"""The long chaos run: `.venv/bin/python -m tests.chaos --kills 300 --seed 7`."""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import tests.chaos  # noqa: F401  (sets up sys.path for the imports below)

import helpers  # noqa: E402
import mkbundle  # noqa: E402
from tests.chaos.disk import SmallDisk  # noqa: E402
from tests.chaos.engine import Chaos  # noqa: E402


def parse_args(argv):
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.chaos",
                                     description="Run the chaos workload against a private root.")
    parser.add_argument("--kills", type=int, default=300, help="manager SIGKILLs (default 300)")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="random seed")
    parser.add_argument("--max-alive", type=int, default=8, help="containers alive at once")
    parser.add_argument("--heavy-lines", type=int, default=50000,
                        help="lines printed by output-heavy containers")
    parser.add_argument("--shim-kills", action="store_true",
                        help="also SIGKILL shims (re-adoption, docs/durability.md)")
    parser.add_argument("--full-disk", action="store_true",
                        help="state root on a small tmpfs, filled to ENOSPC at random moments")
    parser.add_argument("--disk-mib", type=int, default=64, help="its size (default 64 MiB)")
    parser.add_argument("--containerd", action="store_true",
                        help="SIGKILL a private containerd instead (tests/chaos/ctrd.py)")
    parser.add_argument("--serving-kills", action="store_true",
                        help="with --containerd: also SIGKILL tether's serving process")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the workload; exit 1 if any invariant was violated."""
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    if opts.containerd:
        from tests.chaos import ctrd
        return ctrd.main(opts)
    tmp = tempfile.mkdtemp(prefix="tc", dir="/tmp")
    rootfs = os.path.join(tmp, "rootfs")
    disk = SmallDisk(os.path.join(tmp, "disk"), opts.disk_mib << 20) if opts.full_disk else None
    root = os.path.join(disk.path if disk else tmp, "root")
    mkbundle.build_rootfs(rootfs)
    started = time.monotonic()
    report = None
    try:
        if disk:
            disk.mount()
        os.mkdir(root, 0o711)
        print(f"chaos: seed {opts.seed}, root {root}", flush=True)
        report = Chaos(root, rootfs, opts.seed, opts.kills, max_alive=opts.max_alive,
                       heavy_lines=opts.heavy_lines, shim_kills=opts.shim_kills, disk=disk,
                       log_path=os.path.join(tmp, "manager.log")).run()
    finally:
        for pid in helpers.processes_mentioning(root):
            helpers.kill_if_alive(pid)
        helpers.runc_remove_all(os.path.join(root, "runc"))
        if disk:
            # The tmpfs goes whatever happened; on a failure its state is copied out first.
            if report is None or report.violations:
                subprocess.run(["cp", "-a", root, os.path.join(tmp, "root.kept")], check=False)
            disk.unmount()
    print(report.summary())
    print(report.details())
    print(f"chaos: {time.monotonic() - started:.0f} s")
    if report.repeated:
        print("chaos: exit events repeated after a restart:", " ".join(report.repeated))
    if report.undelivered:
        print("chaos: undelivered exit events:", " ".join(report.undelivered))
    for line in report.notes:
        print("counted apart:", line)
    for line in report.violations:
        print("violation:", line)
    if report.violations:
        print(f"chaos: state kept in {tmp}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
