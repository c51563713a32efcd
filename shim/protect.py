"""Keep the OOM killer off the shim: it holds the container's exit code and output.

Lowering oom_score_adj below its current value needs CAP_SYS_RESOURCE
(proc(5)); root on some hosts lacks it (this project's test machines: EACCES).
Then the shim goes on unprotected, and says so once. Called after the runtime
created the process: the container was forked before, so it keeps the value
the bundle asks for (runc sets process.oomScoreAdj) or the one it inherited.
"""

import os

SHIM_OOM_SCORE_ADJ = -1000  # conmon's choice: never pick the shim
OOM_SCORE_ADJ_PATH = "/proc/self/oom_score_adj"
CAP_SYS_RESOURCE = 24


def read_score(path=OOM_SCORE_ADJ_PATH):
    """Return the oom_score_adj at PATH."""
    with open(path, "rb") as f:
        return int(f.read().strip())


def lower_oom_score(log, value=SHIM_OOM_SCORE_ADJ, path=OOM_SCORE_ADJ_PATH):
    """Set our oom_score_adj to VALUE if that lowers it; return True if we are protected."""
    try:
        if read_score(path) <= value:
            return True
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"%d" % value)
        finally:
            os.close(fd)
    except OSError as err:
        log("warning", f"lower oom_score_adj to {value} in {path}: {err.strerror}; the shim "
                       "is unprotected from the OOM killer (it needs CAP_SYS_RESOURCE)",
            oom_protected=False)
        return False
    return True


def has_capability(bit, status_path="/proc/self/status"):
    """Return True if capability BIT is in our effective set."""
    with open(status_path) as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False
