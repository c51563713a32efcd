"""Exit -> event: the container's exit (a pidfd on the host) until its event arrives.

busybox's date has no sub-second format, so the moment of exit is taken on
the host: a pidfd on the container process becomes readable when it exits.
The event: a `tether events --json` line, conmon's exit file (inotify), a
`ctr events` line.
"""

import ctypes
import os
import selectors
import struct
import subprocess
import time

from bench import measure, peers

CONTENDERS = ["tether", "conmon", "ctr"]
IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x8, 0x80, 0x100
ARGS = ["/bin/usleep", "300000"]


def open_inotify(directory):
    """Return an inotify fd watching DIRECTORY for new files."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0 or libc.inotify_add_watch(fd, directory.encode(),
                                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0:
        raise OSError(ctypes.get_errno(), f"inotify on {directory}")
    return fd


def inotify_names(fd):
    """Return the file names in the pending inotify events of FD."""
    data, names = os.read(fd, 65536), []
    while data:
        _wd, _mask, _cookie, size = struct.unpack_from("iIII", data)
        names.append(data[16:16 + size].rstrip(b"\0").decode())
        data = data[16 + size:]
    return names


def wait_exit_and_event(pid, event_fd, is_event, timeout=10.0):
    """Return ms from PID's exit (pidfd) to the first IS_EVENT(EVENT_FD) that is true."""
    pidfd = os.pidfd_open(pid)
    sel = selectors.DefaultSelector()
    sel.register(pidfd, selectors.EVENT_READ, "exit")
    sel.register(event_fd, selectors.EVENT_READ, "event")
    exited = seen = None
    deadline = time.monotonic() + timeout
    try:
        while seen is None and time.monotonic() < deadline:
            for key, _ in sel.select(deadline - time.monotonic()):
                stamp = measure.now_ms()
                if key.data == "exit" and exited is None:
                    exited = stamp
                    sel.unregister(pidfd)
                elif key.data == "event" and is_event(event_fd):
                    seen = stamp
    finally:
        sel.close()
        os.close(pidfd)
    if exited is None or seen is None:
        raise RuntimeError("exit or event not seen within the timeout")
    return seen - exited


def has_line(fd, word, cid):
    """Return True if what FD has now holds a line with WORD and the quoted CID."""
    data = os.read(fd, 65536)
    return any(word in line and (b'"%s"' % cid.encode()) in line for line in data.split(b"\n"))


class Subscriber:
    """A streaming subscriber command whose stdout is read raw."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)

    def close(self):
        """Stop the subscriber."""
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def measure_one(ws, name, cid, subs):
    """Start CID under NAME, wait for its exit and event; return ms."""
    if name == "tether":
        peers.run_quiet([*ws.tether.cli, "run", "-d", cid, "--bundle", ws.bundles["exit"]])
        pid = ws.tether.client().state(cid)["pid"]
        ms = wait_exit_and_event(pid, subs[name].fd,
                                 lambda fd: has_line(fd, b'"exit"', cid))
        ws.tether.client().delete(cid, force=True)
        return ms
    if name == "conmon":
        _conmon_pid, pid = ws.conmon.create(cid, ws.bundles["exit"])
        ws.conmon.start(cid)
        ms = wait_exit_and_event(pid, subs[name], lambda fd: cid in inotify_names(fd))
        ws.conmon.remove(cid)
        return ms
    peers.run_quiet(ws.containerd.run_argv(cid, ws.rootfs, ARGS, "-d"))
    pid = ws.containerd.task_pid(cid)
    ms = wait_exit_and_event(pid, subs[name].fd,
                             lambda fd: has_line(fd, b"/tasks/exit", cid))
    ws.containerd.remove(cid)
    return ms


def run(ws, results, runs):
    """Measure exit -> event for each contender, alternating."""
    subs = {"tether": Subscriber([*ws.tether.cli, "events", "--json"]),
            "conmon": open_inotify(ws.conmon.exit_dir),
            "ctr": Subscriber(ws.containerd.ctr("events"))}
    count = [0]

    def one(name):
        count[0] += 1
        return measure_one(ws, name, ws.cid(f"e{count[0]}"), subs)
    try:
        time.sleep(0.3)  # let the subscribers connect before the first exit
        samples = measure.alternate(CONTENDERS, runs, one)
    finally:
        subs["tether"].close()
        subs["ctr"].close()
        os.close(subs["conmon"])
    for name in CONTENDERS:
        results.add("exitevent", "exit -> event", name, "ms", samples[name])
