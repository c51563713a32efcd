"""The long chaos run: `.venv/bin/python -m tests.chaos --kills 300 --seed 7`."""

import argparse
import os
import shutil
import sys
import tempfile
import time

import tests.chaos  # noqa: F401  (sets up sys.path for the imports below)

import helpers  # noqa: E402
import mkbundle  # noqa: E402
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
    return parser.parse_args(argv)


def main(argv=None):
    """Run the workload; exit 1 if any invariant was violated."""
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    tmp = tempfile.mkdtemp(prefix="tc", dir="/tmp")
    rootfs = os.path.join(tmp, "rootfs")
    root = os.path.join(tmp, "root")
    os.mkdir(root, 0o711)
    mkbundle.build_rootfs(rootfs)
    print(f"chaos: seed {opts.seed}, root {root}", flush=True)
    started = time.monotonic()
    try:
        report = Chaos(root, rootfs, opts.seed, opts.kills, max_alive=opts.max_alive,
                       heavy_lines=opts.heavy_lines, shim_kills=opts.shim_kills).run()
    finally:
        for pid in helpers.processes_mentioning(root):
            helpers.kill_if_alive(pid)
        helpers.runc_remove_all(os.path.join(root, "runc"))
    print(report.summary())
    print(report.details())
    print(f"chaos: {time.monotonic() - started:.0f} s")
    if report.repeated:
        print("chaos: exit events repeated after a restart:", " ".join(report.repeated))
    if report.undelivered:
        print("chaos: undelivered exit events:", " ".join(report.undelivered))
    for line in report.violations:
        print("violation:", line)
    if report.violations:
        print(f"chaos: state kept in {tmp}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
