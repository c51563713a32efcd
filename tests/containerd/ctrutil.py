"""What the containerd tests share (a module of its own: `from conftest import` finds
whichever conftest.py is first on sys.path when several test folders run)."""

import os
import subprocess
import threading
import time

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


def subscribed_events(socket, timeout=20.0):
    """Start `ctr events` on SOCKET; return it (a Popen, lines on stdout) once subscribed.

    ctr gives no sign of its subscription: probe namespaces are created (each
    an event) until one is printed; the lines up to it are skipped. Killed and
    an AssertionError if none is printed in TIMEOUT seconds.
    """
    events = subprocess.Popen(["ctr", "--address", socket, "events"], stdout=subprocess.PIPE,
                              stdin=subprocess.DEVNULL)
    stop, made = threading.Event(), []

    def probe():
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            if time.monotonic() > deadline:
                events.kill()  # the reader meets EOF
                return
            made.append(f"probe-{os.getpid()}-{len(made)}")
            subprocess.run(["ctr", "--address", socket, "namespaces", "create", made[-1]],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
            stop.wait(0.2)  # retry interval: a probe made before the subscription is not seen

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        while True:
            line = events.stdout.readline()
            if not line:
                events.wait()
                raise AssertionError(f"ctr events printed no probe event in {timeout} s")
            if b" /namespaces/create " in line:
                return events
    finally:
        stop.set()
        prober.join()
        for name in made:
            subprocess.run(["ctr", "--address", socket, "namespaces", "remove", name],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
