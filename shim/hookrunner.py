"""Run the exit hook after the exit status is written, in a process of its own.

The shim forks the runner and goes on (drain, exit): the hook never holds up
the exit status, the event (the manager reacts to exitStatus) or the removal
(the manager waits for the shim, not for the hook). Steps, in the runner:
1. setsid, stdio to /dev/null, every inherited fd closed: the exit FIFO and the
   output pipes must not outlive the shim in here;
2. wait the delay, then start the hook in a process group of its own, with
   TETHER_ID, TETHER_EXIT_CODE and TETHER_EXIT_SIGNAL, its output on a pipe;
3. read the output (the first MAX_OUTPUT bytes are kept) until the hook exits
   or the timeout: then SIGKILL its group;
4. record the outcome in PROC_DIR/exitHookResult and a line in shim.log.
"""

import os
import select
import signal
import time

from shim.contract import hooks, layout

MAX_OUTPUT = 4096
NO_FORK_CODE = 127


def start_hook(proc_dir, container_id, log):
    """Fork the runner of the init process's exit hook, if one was asked for; return its pid."""
    spec = hooks.read_spec(os.path.dirname(proc_dir))
    if spec is None:
        return None
    try:
        status = layout.read_exit_status(proc_dir)
    except layout.StateError as err:
        log("error", f"exit hook {spec['path']}: not run: {err}")
        return None
    try:
        pid = os.fork()
    except OSError as err:
        log("error", f"exit hook {spec['path']}: fork: {err.strerror}")
        return None
    if pid == 0:
        try:
            run(proc_dir, container_id, spec, status)
        finally:
            os._exit(0)
    log("info", "exit hook started", path=spec["path"], runner_pid=pid)
    return pid


def isolate():
    """Step 1: a session of its own, default signals, stdio on /dev/null, no inherited fd."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                   signal.SIGPIPE, signal.SIGWINCH):
        signal.signal(signum, signal.SIG_DFL)  # Python ignores SIGPIPE; the hook must not
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") > 0 else 65536)


def hook_env(container_id, status):
    """Return the hook's environment: a plain PATH and the exit's facts."""
    code, sig = status.get("exit_code"), status.get("signal")
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TETHER_ID": container_id, "TETHER_EXIT_CODE": "" if code is None else str(code),
            "TETHER_EXIT_SIGNAL": "" if sig is None else str(sig)}


def spawn(spec, env):
    """Step 2: start the hook with its output on a pipe; return (pid, read end)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            os.dup2(write_fd, 1)
            os.dup2(write_fd, 2)
            os.close(read_fd)
            os.close(write_fd)
            os.execve(spec["path"], [spec["path"], *spec["args"]], env)
        except OSError as err:
            os.write(2, f"exec {spec['path']}: {err.strerror}\n".encode())
        finally:
            os._exit(NO_FORK_CODE)
    os.close(write_fd)
    return pid, read_fd


def collect(pid, read_fd, timeout_ns):
    """Step 3: read the output until the hook exits or TIMEOUT_NS; return (status, output, timed out)."""
    deadline = time.monotonic_ns() + timeout_ns
    pidfd = os.pidfd_open(pid)
    output, timed_out, open_fds = b"", False, [read_fd, pidfd]
    try:
        while pidfd in open_fds:
            left = (deadline - time.monotonic_ns()) / 1e9
            if left <= 0:
                timed_out = True
                os.killpg(pid, signal.SIGKILL)
                break
            ready, _, _ = select.select(open_fds, [], [], left)
            if read_fd in ready:
                chunk = os.read(read_fd, 65536)
                if chunk:
                    output = (output + chunk)[:MAX_OUTPUT]
                else:
                    open_fds.remove(read_fd)
            if pidfd in ready:
                open_fds.remove(pidfd)
        output = drain_available(read_fd, output) if read_fd in open_fds else output
        _pid, status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
        os.close(read_fd)
    return status, output, timed_out


def drain_available(read_fd, output):
    """Return OUTPUT with what is left in the pipe (a background child may keep it open)."""
    os.set_blocking(read_fd, False)
    try:
        while len(output) < MAX_OUTPUT:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            output += chunk
    except BlockingIOError:
        pass
    return output[:MAX_OUTPUT]


def run(proc_dir, container_id, spec, status):
    """The runner: steps 1-4."""
    isolate()
    log_fd = os.open(os.path.join(proc_dir, layout.SHIM_LOG),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    if spec["delay_ns"]:
        time.sleep(spec["delay_ns"] / 1e9)  # the delay asked for (conmon's --exit-delay)
    started_ns = time.monotonic_ns()
    result = {"path": spec["path"], "started_at": layout.format_time(layout.now_ns()),
              "exit_code": None, "signal": None, "timed_out": False, "output": "",
              "error": None}
    try:
        pid, read_fd = spawn(spec, hook_env(container_id, status))
        wait_status, output, timed_out = collect(pid, read_fd, spec["timeout_ns"])
        code, sig = layout.exit_code_from_wait(wait_status)
        result.update(exit_code=code, signal=sig, timed_out=timed_out,
                      output=output.decode("utf-8", "replace"))
        if timed_out:
            result["error"] = f"killed after the timeout of {spec['timeout_ns'] / 1e9:g} s"
    except OSError as err:
        result["error"] = f"run {spec['path']}: {err.strerror}"
    result["duration_ms"] = round((time.monotonic_ns() - started_ns) / 1e6, 3)
    record(proc_dir, log_fd, result)


def record(proc_dir, log_fd, result):
    """Step 4: exitHookResult, then one shim.log line."""
    level = "info" if result["exit_code"] == 0 and not result["error"] else "warning"
    try:
        hooks.write_result(proc_dir, result)
    except OSError as err:
        level, result = "error", dict(result, error=f"write {hooks.RESULT}: {err.strerror}")
    line = {"time": layout.format_time(layout.now_ns()), "level": level,
            "msg": "exit hook ended", **result}
    try:
        os.write(log_fd, layout.dump_json(line))
    except OSError:
        pass  # the directory may be gone (deleted meanwhile): nothing left to tell
    os.close(log_fd)
