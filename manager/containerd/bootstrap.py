"""The `start` action: answer with the address of a listening serving process.

1. Read (and drop) the runtime options on stdin: Create brings them again.
2. Find the task's group (groups.py) and take its start lock.
3. If the group's socket accepts a connection, its serving process answers
   for this task too; else bind and listen on a new socket and start a
   serving process on it (the listening fd is inherited: containerd connects
   at once, and the kernel queues the connection until the process accepts).
4. Mark the task pending (the serving process does not exit between this
   answer and the task's Create), write BUNDLE/address (containerd reads it
   after its own restart) and print the address.
The serving process gets /dev/null and its log file as stdio: containerd reads
our stdout and stderr until EOF.
"""

import _socket  # socket.py's enum and selectors imports cost `start` ~14 ms
import fcntl
import os
import sys

from shim.contract import layout

from manager.containerd import groups

PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

def start(flags):
    """Run `start` in the bundle directory; return the exit status."""
    try:
        sys.stdin.buffer.read()
    except (OSError, ValueError):
        pass
    bundle = os.getcwd()
    try:
        root = groups.group_root(flags["namespace"], groups.group_name(bundle))
        address = "unix://" + ensure_server(root, flags, flags["id"])
        layout.atomic_write(os.path.join(bundle, "address"), address.encode(), 0o600,
                            durable=False)
    except (OSError, ValueError) as err:
        sys.stderr.write(f"containerd-shim-tether-v1 start {flags['id']}: {err}\n")
        return 1
    sys.stdout.write(address)
    sys.stdout.flush()
    return 0


def lock_group(root):
    """Create ROOT if needed; return the fd of its start lock, held."""
    os.makedirs(os.path.join(root, "pending"), 0o711, exist_ok=True)
    fd = os.open(os.path.join(root, "start.lock"),
                 os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def ensure_server(root, flags, task_id):
    """Return the socket path of ROOT's serving process, starting one if none listens."""
    path = groups.socket_path(root, flags.get("address", ""))
    lock_fd = lock_group(root)
    try:
        if not answers(path):
            spawn_server(root, path, flags)
        layout.atomic_write(groups.pending_path(root, task_id), b"", 0o600, durable=False)
    finally:
        os.close(lock_fd)
    return path


def answers(path):
    """Return True if a serving process accepts connections on PATH."""
    probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def spawn_server(root, path, flags):
    """Listen on PATH and start a serving process for the group at ROOT on it."""
    import socket  # only here: `start` for a running group skips their imports
    import subprocess
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(128)
    # The code that answers is the code that serves: our package first on the
    # path (as the shim's BOOT does), site-packages for the core's pyinotify.
    # No TLS is ever spoken: without ssl (asyncio imports it if it can) the
    # process maps no libcrypto (~2 MB PSS less, docs/containerd.md).
    boot = (f"import sys; sys.modules['ssl'] = None; sys.path[:0] = [{PARENT!r}]; "
            "from manager.containerd.command import main; sys.exit(main())")
    argv = [sys.executable, "-I", "-c", boot,
            "-namespace", flags["namespace"], "-address", flags.get("address", ""),
            "-id", flags["id"], "-root", root, "-socket", path,
            "-listen-fd", str(listener.fileno())]
    if flags.get("debug"):
        argv.append("-debug")
    argv.append("serve")
    log_fd = os.open(os.path.join(root, "serve.log"),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd,
                         pass_fds=(listener.fileno(),), cwd="/", start_new_session=True,
                         close_fds=True)
    finally:
        os.close(log_fd)
        listener.close()
