"""checkpoint through the CLI with real runc: a dump, or CRIU's failure as one clear line.

Debian 12's CRIU 3.17 fails on this machine's kernel ("vdso: Unexpected rt vDSO
area bounds"); the test then checks that this reason reaches the user.
"""

import json
import os

from cliutil import manager, tether  # noqa: F401


def one_error_line(err):
    assert err.startswith("tether: ") and err.count("\n") == 1, err
    return err[len("tether: "):-1]


def test_checkpoint_dumps_or_says_why_criu_failed_in_one_line(tether, rootfs, tmp):
    rc, _out, err = tether("run", "-d", "st-ckpt", "--rootfs", rootfs, "--", "sleep", "1000")
    assert rc == 0, err
    images = os.path.join(tmp, "img")
    rc, out, err = tether("checkpoint", "st-ckpt", "--image-path", images, "--leave-running")
    if rc == 0:  # a CRIU that works on this kernel
        assert out == images + "\n" and os.path.exists(os.path.join(images, "inventory.img"))
    else:
        line = one_error_line(err)
        assert rc == 125 and line.startswith("checkpoint st-ckpt: runc checkpoint: criu failed")
        assert "; CRIU: " in line and f"(log {images}/dump.log)" in line
    assert json.loads(tether("state", "st-ckpt")[1])["status"] == "running"


def test_checkpoint_is_refused_for_a_stopped_or_native_container(tether, rootfs, tmp):
    assert tether("run", "st-ckpt-done", "--rootfs", rootfs, "--", "true")[0] == 0
    rc, _out, err = tether("checkpoint", "st-ckpt-done", "--image-path", tmp)
    assert rc == 125
    assert one_error_line(err) == "checkpoint st-ckpt-done: container is stopped, not running"
    rc, _out, err = tether("run", "-d", "st-ckpt-n", "--rootfs", rootfs, "--runtime", "native",
                           "--", "sleep", "1000")
    assert rc == 0, err
    rc, _out, err = tether("checkpoint", "st-ckpt-n", "--image-path", tmp)
    assert rc == 125 and "native runtime cannot checkpoint" in one_error_line(err)
