"""The kernel's process-events connector (CN_PROC): the exit status of any process.

A fallback for learning the exit of a process the manager is not the parent
of, where the pidfd cannot (Linux < 6.15, docs/durability.md): root with
CAP_NET_ADMIN in the initial user and pid namespaces subscribes to a netlink
multicast group and receives PROC_EVENT_EXIT for every task on the host, with
its wait status and a CLOCK_MONOTONIC time stamp. It sees only what happens
while subscribed, and it can lose events: a socket whose buffer overflows
reads ENOBUFS, after which every watched pid must be checked another way.
"""

import collections
import errno
import os
import socket
import struct
import time

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2
PROC_EVENT_EXIT = 0x80000000
NLMSG_DONE = 3
_NLMSG = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")  # idx, val, seq, ack, len, flags
_EVENT_HEAD = struct.Struct("=IIQ")  # what, cpu, timestamp_ns
_EXIT = struct.Struct("=IIIIII")  # pid, tgid, exit_code, exit_signal, parent pid, parent tgid
RCVBUF = 4 << 20  # a host's fork storm: 1 MiB overflowed at ~8,000 events in a burst

ExitEvent = collections.namedtuple("ExitEvent", "pid status monotonic_ns parent_pid")


def control_message(op):
    """Return the netlink datagram that subscribes (LISTEN) or unsubscribes (IGNORE)."""
    payload = struct.pack("=I", op)
    cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(payload), 0) + payload
    return _NLMSG.pack(_NLMSG.size + len(cn), NLMSG_DONE, 0, 0, 0) + cn


def parse_exits(data):
    """Return the ExitEvents of whole processes (thread group leaders) in one datagram."""
    exits, offset = [], 0
    while offset + _NLMSG.size <= len(data):
        length = _NLMSG.unpack_from(data, offset)[0]
        if length < _NLMSG.size or offset + length > len(data):
            break
        body = offset + _NLMSG.size + _CN_MSG.size
        if body + _EVENT_HEAD.size + _EXIT.size <= offset + length:
            what, _cpu, stamp = _EVENT_HEAD.unpack_from(data, body)
            if what == PROC_EVENT_EXIT:
                pid, tgid, status, _sig, ppid, _ptgid = _EXIT.unpack_from(
                    data, body + _EVENT_HEAD.size)
                if pid == tgid:  # a thread's exit is not its process's
                    exits.append(ExitEvent(pid, status, stamp, ppid))
        offset += (length + 3) & ~3  # NLMSG_ALIGN
    return exits


def wall_time_ns(monotonic_ns):
    """Convert an event's CLOCK_MONOTONIC stamp to wall-clock nanoseconds."""
    return time.time_ns() - time.monotonic_ns() + monotonic_ns


class ProcEvents:
    """Subscribe to CN_PROC; call back with the exit of each watched pid."""

    def __init__(self, on_overflow=None):
        self.sock = None
        self.on_overflow = on_overflow
        self.overflows = 0
        self.events = 0
        self._watched = {}

    def open(self):
        """Subscribe; raise PermissionError where the connector is not for us."""
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                             NETLINK_CONNECTOR)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.bind((0, CN_IDX_PROC))
            sock.send(control_message(PROC_CN_MCAST_LISTEN))
        except OSError as err:
            sock.close()
            raise PermissionError(err.errno, f"subscribe to process events: {err.strerror}") \
                from err
        sock.setblocking(False)
        self.sock = sock
        return self

    def fileno(self):
        """Return the socket's fd (for add_reader or select)."""
        return self.sock.fileno()

    def watch(self, pid, callback):
        """Call CALLBACK(ExitEvent) when PID exits (while subscribed)."""
        self._watched[pid] = callback

    def unwatch(self, pid):
        """Stop watching PID."""
        self._watched.pop(pid, None)

    def read_events(self):
        """Read every pending datagram; dispatch watched exits; return how many were read."""
        count = 0
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return count
            except OSError as err:
                if err.errno != errno.ENOBUFS:
                    raise
                # Events were lost: whoever watches must look again (pidfd, /proc).
                self.overflows += 1
                if self.on_overflow is not None:
                    self.on_overflow()
                continue
            count += 1
            self.events += 1
            for event in parse_exits(data):
                callback = self._watched.pop(event.pid, None)
                if callback is not None:
                    callback(event)

    def close(self):
        """Unsubscribe and close."""
        if self.sock is None:
            return
        try:
            self.sock.send(control_message(PROC_CN_MCAST_IGNORE))
        except OSError:
            pass
        self.sock.close()
        self.sock = None


def available():
    """Return None if this process may subscribe, else the reason it may not."""
    if os.geteuid() != 0:
        return "process events need root (CAP_NET_ADMIN in the initial namespaces)"
    try:
        ProcEvents().open().close()
    except PermissionError as err:
        return str(err)
    return None
