"""Turn signals into loop events: no-op handlers plus set_wakeup_fd on a pipe."""

import os

try:
    # The C module: `signal` itself imports enum (and collections, functools),
    # ~0.8 MB of private memory in every long-lived shim (bench/CHANGES.md).
    import _signal as signal
except ImportError:  # not CPython
    import signal

# Signals the shim handles through the loop; TERM/INT/HUP are logged and ignored
# (the container is signalled through the runtime, never by killing the shim).
HANDLED = (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
IGNORED = (signal.SIGPIPE, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
# Reset to the default in every child: an ignored signal stays ignored across exec.
CHILD_DEFAULTS = HANDLED + IGNORED


def _ignore_in_handler(_signum, _frame):
    """Do nothing: the signal number reaches the loop through the wakeup fd."""


def install_signals(loop, on_signal):
    """Route HANDLED signals to ON_SIGNAL(signum) from the loop; ignore IGNORED."""
    read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    for signum in HANDLED:
        signal.signal(signum, _ignore_in_handler)
    for signum in IGNORED:
        signal.signal(signum, signal.SIG_IGN)

    def read_signals():
        """Dispatch each signal number waiting in the wakeup pipe."""
        try:
            data = os.read(read_fd, 512)
        except BlockingIOError:
            return
        # A full pipe drops bytes; one SIGCHLD byte is enough to reap everything.
        for signum in dict.fromkeys(data):
            on_signal(signum)

    loop.add_reader(read_fd, read_signals)
    return read_fd, write_fd


def reset_signals_in_child():
    """Restore default dispositions in a forked child before it runs anything."""
    signal.set_wakeup_fd(-1)
    for signum in CHILD_DEFAULTS:
        signal.signal(signum, signal.SIG_DFL)
