"""Every state file of a container is 0600 (its directories 0700), whoever wrote it."""

import os
import stat

import shimutil
from shim.contract import layout

SCRIPT = ["sh", "-c", "sleep 0.3; echo hi; exit 3"]  # alive when its starttime is read


def modes_under(path):
    """Return {relative path: mode} of everything under PATH."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            found[os.path.relpath(full, path)] = stat.S_IMODE(os.lstat(full).st_mode)
    return found


def test_du_every_file_a_shim_and_its_runtime_write_is_0600(root, make_bundle):
    started = shimutil.start_shim(root, make_bundle(SCRIPT), "du-modes", "--start")
    try:
        assert shimutil.finish(started)["exit_code"] == 3
        cdir = os.path.join(layout.containers_dir(root), "du-modes")
        modes = modes_under(cdir)
        assert {"init/pid", "init/starttime", "init/shim.pid", "init/exitStatus",
                "init/process.json", "init/runtime.log", "container.json"} <= set(modes)
        wrong = {name: oct(mode) for name, mode in modes.items()
                 if mode != (0o700 if os.path.isdir(os.path.join(cdir, name)) else 0o600)}
        assert wrong == {}
    finally:
        shimutil.runc(root, "delete", "--force", "du-modes", check=False)
