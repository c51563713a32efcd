"""The fds a shim hands on: its record of them (fds.json) and their passing (SCM_RIGHTS).

A shim records which of its fds keep the container's stdio (the pipes' read
ends, the PTY master, the stdin pipe's write end), each with its inode, so
that the manager can copy them (pidfd_getfd, shim.contract.pidexit.get_fd)
and check that a copy is the very pipe or terminal, not whatever a reused fd
number holds. The manager passes its copies to the shim that adopts the
process: over a unix socket with SCM_RIGHTS, names and fds in one message.
Stdlib only; socket is imported on use (it costs a long-lived shim memory).
"""

import os

from shim.contract import cjson, layout

FDS_JSON = "fds.json"
NAMES = ("stdout", "stderr", "terminal", "stdin", "process")
# terminal: the PTY master; process: a pidfd of the container process (passed, never recorded)
MAX_FDS = 8


def describe(fds):
    """Return the fds.json object for FDS (name -> fd): fd numbers and their identities."""
    record = {}
    for name, fd in fds.items():
        if name not in NAMES:
            raise ValueError(f"describe fds: unknown name {name!r}")
        st = os.fstat(fd)
        record[name] = {"fd": fd, "dev": st.st_dev, "ino": st.st_ino}
    return record


def write_record(proc_dir, fds):
    """Write PROC_DIR/fds.json for FDS (0600: it names the container's pipes)."""
    layout.write_json(os.path.join(proc_dir, FDS_JSON), describe(fds), mode=0o600,
                      durable=False)


def read_record(proc_dir):
    """Read PROC_DIR/fds.json as name -> (fd, dev, ino); StateError if malformed."""
    path = os.path.join(proc_dir, FDS_JSON)
    obj = layout.read_json(path)
    record = {}
    for name, item in obj.items():
        if name not in NAMES or not isinstance(item, dict) or \
                not all(isinstance(item.get(k), int) for k in ("fd", "dev", "ino")):
            raise layout.StateError(f"read {path}: bad entry {name!r}")
        record[name] = (item["fd"], item["dev"], item["ino"])
    return record


def same_file(fd, dev, ino):
    """Return True if FD is the file (DEV, INO)."""
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (dev, ino)


def send_fds(sock, fds, extra=None):
    """Send FDS (name -> fd) and EXTRA (a JSON object) in one SCM_RIGHTS message."""
    import socket
    names = sorted(fds)
    message = cjson.dumps({"names": names, "extra": extra or {}}).encode()
    socket.send_fds(sock, [message], [fds[name] for name in names])


def receive_fds(sock):
    """Receive one send_fds message: (name -> fd, extra). ValueError if it is not one."""
    import socket
    data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, MAX_FDS)
    try:
        obj = cjson.loads(data.decode())
        names = obj["names"]
        if not isinstance(names, list) or len(names) != len(fds) or \
                not all(name in NAMES for name in names):
            raise ValueError(f"receive fds: {len(fds)} fds for names {names!r}")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        for fd in fds:
            os.close(fd)
        raise ValueError(f"receive fds: malformed message ({err})") from err
    return dict(zip(names, fds)), obj.get("extra") or {}
