"""Detach with python-daemon while the invoking process waits for the start-up result."""

import os

from shim.contract import startup


def run_detached(cfg, body):
    """Run BODY(result_fd) in a daemon; print its start-up result here and return its status."""
    # python-daemon's first fork makes its parent exit at once, so we fork first:
    # our child becomes the daemon (two more forks, setsid) and reports through a
    # pipe made before the forks; this process, the invoker, waits for that line.
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = startup.EXIT_FAILED
        try:
            os.close(read_fd)
            _daemonize(cfg, [write_fd, cfg.sync_fd])
            code = body(write_fd)
        finally:
            os._exit(code)
    os.close(write_fd)
    if cfg.sync_fd is not None:
        os.close(cfg.sync_fd)  # only the daemon's copy stays open, until it reports
    line = _read_line(read_fd)
    outcome = startup.parse_result(line)
    if not outcome.get("ok"):
        _read_to_eof(read_fd)  # a failed shim closes the pipe by exiting: wait for that
    os.close(read_fd)
    os.waitpid(pid, 0)  # python-daemon's first fork: exits as soon as it has forked
    return startup.print_result(outcome)


def fork_detached(body):
    """Fork once: return 0 here at once; the child runs BODY() and exits with its status."""
    # Our starter (the manager) made us a session leader with stdio on /dev/null
    # and waits for this process only. After one fork the shim is not its child
    # and, no longer a session leader, can never get a controlling terminal:
    # what python-daemon's double fork gives, without its import (~1.3 MB, ~20 ms).
    if os.fork():
        return 0
    code = startup.EXIT_FAILED
    try:
        os.umask(0o022)
        os.chdir("/")
        code = body()
    finally:
        os._exit(code)


def _read_line(fd):
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


def _read_to_eof(fd):
    while os.read(fd, 4096):
        pass


def _daemonize(cfg, keep_fds):
    """Become a daemon: own session, not in the caller's group, umask 022, fds kept."""
    import signal

    import daemon
    context = daemon.DaemonContext(
        working_directory="/",  # the process directory may not exist yet
        umask=0o022,
        detach_process=True,
        prevent_core=False,  # a core limit would be inherited by the container
        files_preserve=[fd for fd in keep_fds if fd is not None],
        # SIGTERM must not be the shim's death; the shim installs its own handlers.
        signal_map={signal.SIGTERM: None, signal.SIGINT: None, signal.SIGHUP: None},
    )
    context.open()
    # python-daemon closes 0-2 and opens /dev/null into them with os.open, which
    # makes them close-on-exec; the lean re-exec must keep them, or fds 0-2
    # would be reused for the shim's own files.
    for fd in (0, 1, 2):
        os.set_inheritable(fd, True)
