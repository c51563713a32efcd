"""What the containerd tests share (a module of its own: `from conftest import` finds
whichever conftest.py is first on sys.path when several test folders run)."""

import os

import helpers

RUNTIME = "io.containerd.tether.v1"
NAMESPACE = "tt"


def wait_until(condition, timeout=10.0, what="condition"):
    """Poll CONDITION until it returns a true value; fail after TIMEOUT seconds."""
    return helpers.wait_until(condition, timeout, what=what)


def pids_with(text):
    """Return the pids whose command line contains TEXT."""
    found = []
    needle = text.encode()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if needle in f.read():
                        found.append(int(name))
            except OSError:
                pass
    return found
