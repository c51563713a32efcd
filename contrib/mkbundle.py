#!/usr/bin/env python3
"""Build an OCI bundle (rootfs + config.json) from Debian's busybox-static.

    python3 contrib/mkbundle.py DIR [--tty] [--memory BYTES] [-- ARGS...]

DIR/rootfs gets /bin/busybox and a symlink for each applet; DIR/config.json is
runc's default spec with ARGS (default: sh). Needs `apt-get install busybox-static`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from manager.core.spec import default_spec  # noqa: E402

BUSYBOX = "/bin/busybox"


def build_rootfs(rootfs):
    """Create ROOTFS with a static busybox and its applet links."""
    if not os.path.exists(BUSYBOX):
        sys.exit(f"mkbundle: {BUSYBOX} not found: apt-get install -y busybox-static")
    for d in ("bin", "dev", "proc", "sys", "tmp", "etc", "root"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    for applet in applets:
        link = os.path.join(rootfs, "bin", applet)
        if applet != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(rootfs, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")


def write_config(bundle, args, tty=False, memory=None):
    """Write BUNDLE/config.json for ARGS."""
    spec = default_spec(args=args or ["sh"], tty=tty, memory=memory)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f, indent=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="bundle directory to create (rootfs is reused if present)")
    parser.add_argument("--tty", action="store_true", help="set process.terminal")
    parser.add_argument("--memory", type=int, help="memory limit in bytes")
    parser.add_argument("args", nargs="*", help="process args (after --)")
    opts = parser.parse_args(argv)
    rootfs = os.path.join(opts.dir, "rootfs")
    if not os.path.exists(os.path.join(rootfs, "bin", "busybox")):
        build_rootfs(rootfs)
    write_config(opts.dir, opts.args, tty=opts.tty, memory=opts.memory)
    print(os.path.abspath(opts.dir))


if __name__ == "__main__":
    main()
