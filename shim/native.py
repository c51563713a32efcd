"""The native runtime: run the process spec directly on the host, held until start.

The forked child waits for one byte on the start pipe, then sets itself up
and execs. Exec errors come back like ptyprocess does it:
  1. the shim creates an error pipe with close-on-exec;
  2. the child writes "CODE MESSAGE" to it if anything before exec fails;
  3. the shim reads it: EOF alone means the exec succeeded.
"""

import errno
import os

from shim import console, signals
from shim.spawn import EXIT_FAILED, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND

RLIMIT_PREFIX = "RLIMIT_"


def exec_error(arg0, err):
    """Return (exit code, message) for a failed exec of ARG0."""
    if not isinstance(err, OSError):
        return EXIT_FAILED, f'exec: "{arg0}": {err}'
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        if "/" in arg0:
            return EXIT_NOT_FOUND, f'exec: "{arg0}": stat {arg0}: no such file or directory'
        return EXIT_NOT_FOUND, f'exec: "{arg0}": executable file not found in $PATH'
    if err.errno in (errno.EACCES, errno.ENOEXEC, errno.EISDIR, errno.EPERM):
        return EXIT_NOT_EXECUTABLE, f'exec: "{arg0}": permission denied'
    return EXIT_FAILED, f'exec: "{arg0}": {err.strerror}'


def env_dict(env_list):
    """Turn ["K=V", ...] into a dict (later entries win)."""
    env = {}
    for item in env_list:
        key, _sep, value = item.partition("=")
        env[key] = value
    return env


def resolve_cwd(cwd, bundle):
    """Return the host directory to run in: absolute as given, relative to the bundle."""
    return cwd if os.path.isabs(cwd) else os.path.join(bundle, cwd)


def fork_native(process, bundle, stdio_fds, tty_fd=None):
    """Fork the held child; return (pid, start_w, error_r)."""
    start_r, start_w = os.pipe()
    error_r, error_w = os.pipe()  # close-on-exec: EOF tells the shim the exec worked
    pid = os.fork()
    if pid == 0:
        try:
            _run_child(process, bundle, stdio_fds, tty_fd, start_r, error_w)
        finally:
            os._exit(EXIT_NOT_FOUND)
    os.close(start_r)
    os.close(error_w)
    return pid, start_w, error_r


def _run_child(process, bundle, stdio_fds, tty_fd, start_r, error_w):
    """Set up stdio, wait for the start byte, apply the spec and exec. Never returns."""
    what = "set up the process"
    try:
        signals.reset_signals_in_child()
        os.setsid()
        _adopt_stdio(stdio_fds, tty_fd)
        _close_other_fds((start_r, error_w))
        if os.read(start_r, 1) != b"\x01":
            os._exit(EXIT_FAILED)  # the shim gave up before start
        what = "apply rlimits"
        _apply_rlimits(process.get("rlimits") or [])
        what = "set the user"
        _apply_user(process.get("user") or {})
        cwd = resolve_cwd(process.get("cwd") or "/", bundle)
        what = f"chdir {cwd}"
        os.chdir(cwd)
        args = process["args"]
        what = None
        os.execvpe(args[0], args, env_dict(process.get("env") or []))
    except (OSError, ValueError) as err:
        if what is None:
            code, message = exec_error(process["args"][0], err)
        else:
            code, message = EXIT_FAILED, f"{what}: {getattr(err, 'strerror', None) or err}"
        os.write(error_w, f"{code} {message}".encode())
        os._exit(code)


def _adopt_stdio(stdio_fds, tty_fd):
    if tty_fd is not None:
        import fcntl
        fcntl.ioctl(tty_fd, console.TIOCSCTTY, 0)  # the terminal becomes ours
        stdio_fds = (tty_fd, tty_fd, tty_fd)
    for target, fd in enumerate(stdio_fds):
        os.dup2(fd, target)  # dup2 clears close-on-exec on the copy


def _close_other_fds(keep):
    """Close every fd above 2 except KEEP: the held child must not pin the shim's files."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _apply_rlimits(rlimits):
    import resource
    for item in rlimits:
        name = item.get("type", "")
        limit = getattr(resource, name, None) if name.startswith(RLIMIT_PREFIX) else None
        if limit is None:
            raise OSError(errno.EINVAL, f"unknown rlimit {name!r}")
        resource.setrlimit(limit, (item.get("soft", 0), item.get("hard", 0)))


def _apply_user(user):
    uid, gid = user.get("uid", os.getuid()), user.get("gid", os.getgid())
    if os.getuid() == 0:
        os.setgroups(list(user.get("additionalGids") or []))
    os.setgid(gid)
    os.setuid(uid)
    if user.get("umask") is not None:
        os.umask(user["umask"])


def read_exec_error(data):
    """Parse what the child wrote to the error pipe: (code, message)."""
    code, _sep, message = data.decode(errors="replace").partition(" ")
    return (int(code) if code.isdigit() else EXIT_FAILED), message
