"""ctr run on io.containerd.tether.v1: attached, detached, exit codes, output."""

import subprocess


def test_attached_run_prints_output_and_exits_with_the_code(cd, rootfs, cid):
    done = subprocess.run(cd.run_argv(cid, rootfs, ["/bin/sh", "-c", "echo hi; echo err >&2; exit 3"],
                                      "--rm"),
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.stdout == b"hi\n", done.stderr
    assert done.stderr == b"err\n"
    assert done.returncode == 3
    assert cd.ctr("container", "list", "-q").stdout.split() == []
