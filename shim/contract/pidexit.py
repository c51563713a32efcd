"""Learn a process's exit without being its parent; copy another process's fds.

Re-adoption (docs/durability.md) needs both: a shim that takes over a running
container is not its parent, so waitpid(2) is not for it, and the container's
pipes and PTY master must outlive the shim that made them. Stdlib only (ctypes
is loaded on first use of get_fd), so that the manager and the shim share it.

An exit is read, in order, from:
1. the process's zombie: field 52 of /proc/PID/stat is the wait status while
   the process waits for its parent to reap it (Linux >= 3.5);
2. the pidfd: PIDFD_GET_INFO with PIDFD_INFO_EXIT gives the wait status once
   the process was reaped, to any holder of a pidfd opened before the exit
   (Linux >= 6.15; measured on 6.18 in tests/durability/test_du_pidexit.py).
If the process is gone and neither is available, the exit is unknown.
"""

import errno
import os
import struct

PIDFD_GET_INFO = 0xC040FF0B  # _IOWR(0xFF, 11, struct pidfd_info) of 64 bytes (VER0)
PIDFD_INFO_EXIT = 1 << 3
_INFO_SIZE = 64
_EXIT_CODE_OFFSET = 60  # mask, cgroupid (u64), 11 u32 ids, then __s32 exit_code
SYS_PIDFD_GETFD = 438  # the same number on every architecture (the 424+ block)

FROM_ZOMBIE = "zombie"
FROM_PIDFD = "pidfd"


def read_stat(pid):
    """Return the fields of /proc/PID/stat after the command name, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat[stat.rindex(b")") + 2:].split()


def open_pidfd(pid, starttime):
    """Return a pidfd of PID if it is the process that started at STARTTIME, else None.

    Checked after the open: a pidfd pins its process, so once the start time
    matches, a later reuse of the pid number cannot fool its holder.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    fields = read_stat(pid)
    if fields is None or int(fields[19]) != starttime:
        os.close(pidfd)
        return None
    os.set_inheritable(pidfd, False)
    return pidfd


def zombie_status(pid, starttime):
    """Return the wait status of PID if it is that process's zombie, else None."""
    fields = read_stat(pid)
    if fields is None or int(fields[19]) != starttime or fields[0] != b"Z":
        return None
    # Field 52 (exit_code) needs ptrace read access; it reads 0 without it.
    return int(fields[49]) if len(fields) >= 50 else None


def pidfd_exit_status(pidfd):
    """Return the wait status the kernel kept for PIDFD's reaped process, or None."""
    import fcntl
    buf = bytearray(_INFO_SIZE)
    struct.pack_into("Q", buf, 0, PIDFD_INFO_EXIT)
    try:
        fcntl.ioctl(pidfd, PIDFD_GET_INFO, buf)
    except OSError as err:
        if err.errno in (errno.ENOTTY, errno.EINVAL, errno.ESRCH):
            return None  # before 6.13 no ioctl; before 6.15 no exit info
        raise
    mask, = struct.unpack_from("Q", buf, 0)
    if not mask & PIDFD_INFO_EXIT:
        return None  # still running, or a zombie nobody has reaped yet
    return struct.unpack_from("i", buf, _EXIT_CODE_OFFSET)[0]


def exit_status(pidfd, pid, starttime):
    """Return (wait_status, source) of an exited process, or (None, None) if not known."""
    status = zombie_status(pid, starttime)
    if status is not None:
        return status, FROM_ZOMBIE
    status = pidfd_exit_status(pidfd)
    if status is not None:
        return status, FROM_PIDFD
    # Reaped between the two reads: the pidfd has it now if the kernel keeps it.
    status = pidfd_exit_status(pidfd)
    return (status, FROM_PIDFD) if status is not None else (None, None)


def has_exited(pidfd):
    """Return True once PIDFD's process has exited (its pidfd polls readable)."""
    import select
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


_SYSCALL = []


def get_fd(pidfd, target_fd):
    """Return a copy (close-on-exec) of TARGET_FD of PIDFD's process: pidfd_getfd(2)."""
    # Needs ptrace attach rights over the process (same user and no Yama
    # restriction, or CAP_SYS_PTRACE): the manager and its shims qualify.
    if not _SYSCALL:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        _SYSCALL.append((libc.syscall, ctypes))
    syscall, ctypes = _SYSCALL[0]
    fd = syscall(ctypes.c_long(SYS_PIDFD_GETFD), ctypes.c_long(pidfd),
                 ctypes.c_long(target_fd), ctypes.c_long(0))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"pidfd_getfd fd {target_fd}: {os.strerror(err)}")
    return fd
