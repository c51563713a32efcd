"""Restore (create/run --checkpoint DIR) with real runc: the shim runs `runc restore`.

With Debian 12's CRIU on this kernel no dump exists to restore from, and CRIU
fails before reading one; either way the user gets runc's and CRIU's reason in
one line, and nothing is left behind.
"""

import json
import os

from cliutil import manager, tether  # noqa: F401


def one_error_line(err):
    assert err.startswith("tether: ") and err.count("\n") == 1, err
    return err[len("tether: "):-1]


def test_a_failed_restore_is_one_line_and_leaves_nothing(tether, rootfs, tmp):
    images = os.path.join(tmp, "img")
    os.mkdir(images)
    rc, _out, err = tether("run", "-d", "st-restore", "--rootfs", rootfs, "--checkpoint",
                           images, "--", "sleep", "1000")
    assert rc == 125
    line = one_error_line(err)
    assert line.startswith("restore st-restore: ") and "restore" in line[20:], line
    rc, _out, err = tether("state", "st-restore")
    assert rc == 125 and "no such container" in err
    assert json.loads(tether("list", "--json")[1]) == []


def test_restore_is_refused_for_the_native_runtime(tether, rootfs, tmp):
    rc, _out, err = tether("run", "-d", "st-restore-n", "--rootfs", rootfs, "--runtime",
                           "native", "--checkpoint", tmp, "--", "true")
    assert rc == 125 and "native runtime cannot restore" in one_error_line(err)
