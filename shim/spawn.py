"""Run the OCI runtime (runc or compatible): argv, spawn, and its error messages.

Every invocation is spawned with os.posix_spawn and reaped by the shim's one
reaper; the shim never reads runc's stdout to learn that it ended (runc#1721).
"""

import os

from shim import signals
from shim.contract import layout
from shim.contract.startup import EXIT_FAILED, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND  # noqa: F401

# The console socket is named through the process directory's fd in the runtime:
# `runc create` chdirs into the bundle (so a relative path fails) and an absolute
# path may exceed sun_path's 108 bytes; /proc/self/fd/3/console.sock is short.
PROC_DIR_FD = 3
CONSOLE_SOCKET_ARG = f"/proc/self/fd/{PROC_DIR_FD}/{layout.CONSOLE_SOCKET}"


class StartError(Exception):
    """The process could not be created or started; carries the exit code to report."""

    def __init__(self, message, exit_code=EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


def runtime_base(cfg):
    """Return the runtime argv prefix: path, --root, --log (JSON)."""
    argv = [cfg.runtime_path]
    if cfg.runtime_root:
        argv += ["--root", cfg.runtime_root]
    log_path = os.path.join(cfg.proc_dir, layout.RUNTIME_LOG)
    return argv + ["--log", log_path, "--log-format", "json"]


def create_argv(cfg, console_socket=None, start=False):
    """Return `runtime create` for the init process (`runtime run --detach` with START)."""
    # `run --detach` is create and start in one runtime process: one Go start-up
    # (~10 ms) less than `create` then `start`.
    verb = ["run", "--detach"] if start else ["create"]
    argv = runtime_base(cfg) + [*verb, "--bundle", cfg.bundle,
                                "--pid-file", os.path.join(cfg.proc_dir, layout.PID)]
    if console_socket:
        argv += ["--console-socket", console_socket]
    return argv + [cfg.id]


def restore_argv(cfg, image_path, console_socket=None):
    """Return `runtime restore --detach` of the init process from IMAGE_PATH (CRIU images)."""
    argv = runtime_base(cfg) + ["restore", "--detach", "--image-path", image_path,
                                "--bundle", cfg.bundle,
                                "--pid-file", os.path.join(cfg.proc_dir, layout.PID)]
    if console_socket:
        argv += ["--console-socket", console_socket]
    return argv + [cfg.id]


def exec_argv(cfg, process_path, console_socket=None):
    """Return `runtime exec -d` for an exec process described by PROCESS_PATH."""
    argv = runtime_base(cfg) + ["exec", "-d", "--process", process_path,
                                "--pid-file", os.path.join(cfg.proc_dir, layout.PID)]
    if console_socket:
        argv += ["--console-socket", console_socket]
    return argv + [cfg.id]


def start_argv(cfg):
    """Return `runtime start`."""
    return runtime_base(cfg) + ["start", cfg.id]


def delete_argv(cfg):
    """Return `runtime delete --force` (used only to undo our own failed start-up)."""
    return runtime_base(cfg) + ["delete", "--force", cfg.id]


def spawn_process(argv, stdin_fd, stdout_fd, stderr_fd, dir_fd=None):
    """Start ARGV with the given stdio (and DIR_FD as fd 3); return its pid."""
    actions = [(os.POSIX_SPAWN_DUP2, fd, target)
               for target, fd in enumerate((stdin_fd, stdout_fd, stderr_fd))]
    if dir_fd is not None:
        actions.append((os.POSIX_SPAWN_DUP2, dir_fd, PROC_DIR_FD))
    # setsid: the runtime (and the container it forks) never shares our session.
    return os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions,
                          setsigdef=signals.CHILD_DEFAULTS, setsid=True)


def read_runtime_error(log_path, offset=0):
    """Return the "msg" of the last error record runc wrote to LOG_PATH after OFFSET."""
    import json
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            data = f.read(1 << 20)
    except OSError:
        return None
    message = None
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in ("error", "fatal"):
            message = str(record.get("msg", "")) or message
    return message


def exit_code_for_error(message):
    """Map a runtime error message to 127 (not found), 126 (not executable) or 125."""
    text = (message or "").lower()
    # runc: `exec: "nope": executable file not found in $PATH`,
    #       `exec: "/nope": stat /nope: no such file or directory`,
    #       `exec: "/etc/passwd": permission denied`.
    if 'exec: "' not in text and "exec format error" not in text:
        return EXIT_FAILED
    if "executable file not found" in text or "no such file or directory" in text:
        return EXIT_NOT_FOUND
    if "permission denied" in text or "exec format error" in text:
        return EXIT_NOT_EXECUTABLE
    return EXIT_FAILED


def describe_failure(name, verb, status, message):
    """Return the error line for a failed `NAME VERB` that ended with wait STATUS."""
    if message:
        prefix = f"{name} {verb}"
        return message if message.startswith(prefix) else f"{prefix}: {message}"
    code, sig = layout.exit_code_from_wait(status)
    how = f"was killed by signal {sig}" if sig else f"exited with status {code}"
    return f"{name} {verb} {how} (no error in its log)"
