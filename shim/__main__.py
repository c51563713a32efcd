"""tether-shim: own one container process; main reads as its steps.

parse -> load the process spec -> detach (the invoker waits for the result)
-> choose the driver (runc or native) -> prepare files -> create -> start
-> report -> serve until the exit -> record it (exitStatus) -> drain the output.
"""

import os
import sys

from shim import config
from shim.contract import argv as argv_table, startup

# Steps the zygote's child leaves for the loop's first turn after the runtime's
# spawn (the title: ~0.8 ms of ctypes and page copies before `runc run` otherwise).
_AT_RUNTIME_SPAWN = []


def main(argv=None):
    """Run the shim; return the exit status for the invoking process."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        cfg = config.parse_args(argv)
        process = config.load_process(cfg)
    except config.HelpRequested:
        sys.stdout.write(config.format_help())
        return 0
    except config.ConfigError as err:
        failed = startup.failure(err)
        startup.send_result([err.sync_fd, err.result_fd], failed, close=False)
        return startup.print_result(failed)
    return start_parsed(cfg, process)


def start_parsed(cfg, process):
    """Go on with a parsed command line CFG and its process spec: detach, or run here."""
    if cfg.result_fd is not None:  # the lean interpreter of a detached shim
        return run_shim(cfg, process, [cfg.result_fd, cfg.sync_fd])
    if cfg.foreground:
        return enter_shim(cfg, process, None)
    import shim.detach as detach
    if cfg.fork_detach:
        return detach.fork_detached(lambda: enter_shim(cfg, process, None))
    return detach.run_detached(cfg, lambda result_fd: enter_shim(cfg, process, result_fd))


def zygote():
    """Fork a shim for each request on the socket whose fd is argv[1]; return 0 at EOF.

    A request is one SEQPACKET message: the shim's options as a JSON list, with
    the write end of its sync pipe attached (SCM_RIGHTS). The manager's spawner
    keeps one zygote: a create skips the interpreter's start-up and imports
    (~35 ms), and every shim is a fork of this process, so the pages none of
    them writes (most of the interpreter, the modules, their code) stay shared.
    """
    import gc
    gc.disable()  # until the freeze: no collection leaves holes for the shims to fill
    import fcntl  # noqa: F401 (pipe sizes): imported after a fork, ~150 kB of pages copied
    import socket
    from shim import detach, oom, proctitle, shimlog, spawn
    from shim.contract import hooks, zygotemsg  # noqa: F401 (hooks: every exit asks it)
    from shim import runc_driver, supervisor  # noqa: F401
    libc = supervisor.load_libc()  # ctypes, for the subreaper flag and the title of each shim
    sock = socket.socket(fileno=int(sys.argv[1]))
    proctitle.set_title(libc, ["tether-shim", "--zygote"])
    gc.freeze()  # each shim's collector then leaves these objects' pages alone
    gc.enable()
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 1)
        except OSError:
            return 0
        if not data:
            return 0  # the spawner is gone: so are we (the shims go on)
        try:
            options = zygotemsg.decode_request(data)
        except ValueError:
            options = None
        if len(fds) != 1 or options is None:
            for fd in fds:
                os.close(fd)
            continue  # the spawner sees EOF on the sync pipe: no result
        fork_shim(options, fds[0], sock, libc)


def fork_shim(options, sync_fd, sock, libc):
    """Fork: the child runs the shim of OPTIONS (it detaches with one more fork).

    The options are parsed and the process spec is read before the fork, by the
    zygote's warm code: in the child they cost ~1 ms of first-run code and copied
    pages. A bad command line is left to the child's main(), which reports it.
    """
    argv = [*options, *argv_table.build_argv({"sync_fd": sync_fd, "fork_detach": True})]
    try:
        cfg = config.parse_args(argv)
        process = config.load_process(cfg)
    except Exception:  # noqa: BLE001 -- never the zygote's end: the child's main() reports it
        cfg = process = None
    pid = os.fork()
    if pid == 0:
        code = startup.EXIT_FAILED
        try:
            sock.close()
            os.setsid()
            import shim.proctitle as proctitle  # no fromlist: importlib._handle_fromlist not run
            _AT_RUNTIME_SPAWN.append(lambda: proctitle.set_title(libc, ["tether-shim", *options]))
            code = main(argv) if cfg is None else start_parsed(cfg, process)
        finally:
            os._exit(code)
    os.close(sync_fd)
    os.waitpid(pid, 0)  # it exits as soon as the shim has forked away


def enter_shim(cfg, process, result_fd):
    """Become the subreaper, then go on in a lean interpreter (or here if exec fails)."""
    import shim.supervisor as supervisor
    try:
        supervisor.become_subreaper()  # kept across execve; ctypes stays out of the lean shim
    except OSError as err:
        failed = startup.failure(f"start shim: {err.strerror}")
        startup.send_result([result_fd, cfg.sync_fd], failed)
        return startup.print_result(failed) if result_fd is None else failed["exit_code"]
    if not sys.flags.no_site and sys.executable:
        exec_lean(config.to_argv(cfg), result_fd, cfg.sync_fd)
    return run_shim(cfg, process, [result_fd, cfg.sync_fd], foreground=cfg.foreground)


def exec_lean(argv, result_fd, sync_fd):
    """Re-exec as `python -I -S` (no site, python-daemon or ctypes: ~3 MB less per shim)."""
    # Returns only if the exec failed (the shim then carries on in this process).
    from shim.contract.boot import boot_code
    boot = boot_code("shim.__main__", "main")
    args = list(argv)
    if result_fd is not None:
        args += ["--result-fd", str(result_fd)]
    for fd in (result_fd, sync_fd):
        if fd is not None:
            os.set_inheritable(fd, True)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", boot, *args])
    except OSError as err:
        sys.stderr.write(f"tether-shim: exec {sys.executable}: {err.strerror}; "
                         "going on without a lean interpreter\n")


def run_shim(cfg, process, result_fds, foreground=False):
    """Prepare, create, start and serve the process; report the start-up to RESULT_FDS."""
    import shim.shimlog as shimlog
    import shim.supervisor as supervisor
    from shim.spawn import StartError
    for fd in result_fds:
        if fd is not None:
            os.set_inheritable(fd, False)  # never into the runtime or the container
    log = shimlog.ShimLog(to_stderr=foreground)
    shim = supervisor.Shim(cfg, process, log, choose_driver(cfg))
    for step in _AT_RUNTIME_SPAWN:
        shim.loop.defer(step)
    try:
        shim.prepare()
        shim.create()
        if cfg.start:
            shim.start()
    except StartError as err:
        return fail_start(shim, log, err, err.exit_code, result_fds, foreground)
    except Exception as err:  # any other failure must still reach the starter
        return fail_start(shim, log, f"start {cfg.id}: {err}", startup.EXIT_FAILED, result_fds,
                          foreground, trace=True)
    report_started(shim, log, result_fds, foreground)
    code = serve(shim, log)
    log.close()
    return code if foreground else 0


def choose_driver(cfg):
    """Return the driver class of cfg.runtime: native forks on the host, else an OCI runtime."""
    if cfg.runtime == "native":
        from shim.native_driver import NativeDriver
        return NativeDriver
    from shim.runc_driver import RuncDriver
    return RuncDriver


def report_started(shim, log, result_fds, foreground):
    """Send the start-up result (shim pid, process pid) to RESULT_FDS."""
    started = startup.success(os.getpid(), shim.pid)
    startup.send_result(result_fds, started)
    if foreground:
        startup.print_result(started)
    log("info", "start-up reported", **started)


def serve(shim, log):
    """Serve until the exit, record it (exitStatus first), drain; return the exit code."""
    try:
        try:
            shim.serve()
        finally:
            shim.record_exit()
            start_exit_hook(shim, log)
        shim.drain()
        shim.close()
        log("info", "shim exiting")
    except Exception:  # nobody sees the daemon's stderr: leave the reason in shim.log
        import traceback
        log("error", "shim failed while serving", traceback=traceback.format_exc())
        raise
    return shim.exit_code()


def start_exit_hook(shim, log):
    """Fork the init process's exit hook once exitStatus is written (shim/hookrunner.py)."""
    if shim.cfg.exec or shim.exit is None:
        return
    import shim.contract.hooks as hooks  # the zygote's: no import after the fork
    if not os.path.lexists(os.path.join(os.path.dirname(shim.cfg.proc_dir), hooks.SPEC)):
        # No hook asked for: hookrunner and the `signal` module it needs (enum) are
        # not imported, ~1.3 ms between exitStatus and the end of the output.
        return
    import shim.hookrunner as hookrunner
    try:
        hookrunner.start_hook(shim.cfg.proc_dir, shim.cfg.id, log)
    except Exception as err:  # the hook is a notification: the shim's exit goes on
        log("error", f"start the exit hook: {err}")


def fail_start(shim, log, message, exit_code, result_fds, foreground, trace=False):
    """Undo the start-up, report MESSAGE with EXIT_CODE, return EXIT_CODE."""
    fields = {}
    if trace:
        import traceback
        fields["traceback"] = traceback.format_exc()
    log("error", f"start-up failed: {message}", exit_code=exit_code, **fields)
    try:
        shim.abort()
    finally:
        failed = startup.failure(message, exit_code)
        # Left open until we exit: EOF then tells the starter the failed shim is gone.
        startup.send_result(result_fds, failed, close=False)
        if foreground:
            startup.print_result(failed)
        log.close()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
