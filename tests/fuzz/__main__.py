"""The long fuzzing run: `.venv/bin/python -m tests.fuzz --requests 10000`."""

import argparse
import os
import shutil
import sys
import tempfile
import time

import tests.fuzz  # noqa: F401  (sets up sys.path for the imports below)

import daemonutil  # noqa: E402
import helpers  # noqa: E402
import mkbundle  # noqa: E402
from tests.fuzz.fuzzer import Fuzzer  # noqa: E402


def main(argv=None):
    """Fuzz a private manager; exit 1 on any failure."""
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz",
                                     description="Fuzz the API from its OpenAPI document.")
    parser.add_argument("--requests", type=int, default=10000, help="at least this many")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    tmp = tempfile.mkdtemp(prefix="tf", dir="/tmp")
    rootfs, root = os.path.join(tmp, "rootfs"), os.path.join(tmp, "root")
    os.mkdir(root, 0o711)
    mkbundle.build_rootfs(rootfs)
    daemon = daemonutil.Daemon(root).start()
    started = time.monotonic()
    try:
        result = Fuzzer(daemon, rootfs).run(opts.requests, opts.seed)
        alive = daemon.proc.poll() is None and daemon.ok("GET", "/v1/health") == {"ok": True}
    finally:
        daemon.kill()
        for pid in helpers.processes_mentioning(root):
            helpers.kill_if_alive(pid)
        helpers.runc_remove_all(os.path.join(root, "runc"))
    print(result.summary(), f"in {time.monotonic() - started:.0f} s; manager alive: {alive}")
    for line in result.failures[:50]:
        print("failure:", line)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if alive and not result.failures else 1


if __name__ == "__main__":
    sys.exit(main())
