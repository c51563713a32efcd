"""Show a forked shim as `tether-shim --id ID ...` in ps and /proc/PID/cmdline.

A shim forked by the zygote inherits the zygote's command line (a python -c
boot line), and nobody could tell the shims apart. As setproctitle does, we
write the new title over the process's original argument area (CPython keeps
its own copy of argv); the spawner starts the zygote with a blank argument
of 1 KiB as room there. The title is cut to that room. comm (ps -e, pgrep) becomes "tether-shim".
"""

import ctypes

PR_SET_NAME = 15

def argument_area():
    """Return (start, end) of this process's argument area (/proc/self/stat)."""
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # Fields 48 and 49 of proc(5), counted from 1 (the two before the ")" cut off).
    return int(fields[45]), int(fields[46])


def set_title(libc, argv):
    """Make /proc/self/cmdline read ARGV (cut to the room there is); return True if done."""
    zero = ctypes.c_ulong(0)
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(argv[0].encode()[:15]), zero, zero, zero)
    try:
        start, end = argument_area()
    except (OSError, ValueError, IndexError):
        return False
    size = end - start
    if size <= 1:
        return False
    data = b"\0".join(a.encode(errors="surrogateescape") for a in argv)[:size - 1]
    ctypes.memmove(start, data.ljust(size, b"\0"), size)
    return True
