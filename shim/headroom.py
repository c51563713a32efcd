"""Leave the state filesystem's last space to the contract, not to the output log.

The log may fill what is free down to a keep (KEEP_MIN, or 1/1000 of the
filesystem, at most KEEP_MAX): what an exec's process directory, a rotation,
the manager's event journal and the exit-status fallback need. Free space
(statvfs, f_bavail) is read once per CHECK_EVERY bytes written, and at every
write while output is held back (one syscall a chunk), so that logging
resumes with the first write after space returns: a lone line then is not
lost (tests/integration/test_faults_shim.py, the full-disk recovery).
"""

import os

KEEP_MIN = 256 << 10
KEEP_MAX = 16 << 20
CHECK_EVERY = 64 << 10


def free_bytes(path):
    """Return the bytes an unprivileged writer may still use on PATH's filesystem."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def keep_for(path):
    """Return the bytes to keep free on PATH's filesystem."""
    st = os.statvfs(path)
    return min(max(KEEP_MIN, st.f_blocks * st.f_frsize // 1000), KEEP_MAX)


class Headroom:
    """Decide whether a write of N bytes may go to a file under PATH."""

    def __init__(self, path, keep=None):
        self.path = path
        self.keep = keep_for(path) if keep is None else keep
        self._since_check = 0
        self._free = free_bytes(path)
        self.held_back = False

    def allows(self, nbytes):
        """Return True if NBYTES more leave the keep free (then they count as written)."""
        if self.held_back or self._since_check + nbytes >= CHECK_EVERY:
            self._refresh()
        self.held_back = self._free - self._since_check - nbytes < self.keep
        if not self.held_back:
            self._since_check += nbytes
        return not self.held_back

    def _refresh(self):
        try:
            self._free = free_bytes(self.path)
        except OSError:
            return  # the directory went away: the write will say so itself
        self._since_check = 0
