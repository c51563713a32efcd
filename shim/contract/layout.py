"""The on-disk layout shared by the shim and the manager (stdlib only): every name in ROOT.

ROOT/containers/ID/container.json and ROOT/containers/ID/PROC/..., where PROC
is ``init`` or an exec id. See docs/design.md, "State directory", and
docs/shim.md for what each file holds and who writes it.
"""

import os
import time

from shim.contract import VERSION, cjson

# No json or re at import time: every long-lived shim imports this module, and
# they cost ~1.1 MB per process (bench/CHANGES.md); ID_RE is built on first use.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_ID_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ID_REST = _ID_FIRST | frozenset("_.-")
INIT = "init"

# In ROOT (the manager's).
CONTAINERS = "containers"
SOCKET = "tether.sock"  # the manager's API
MANAGER_PID = "tether.pid"  # the running manager's pid, locked while it runs
MANAGER_LOG = "tether.log"  # the detached manager's log
EVENTS_LOG = "events.log"  # the event journal (rotated to events.log.1)
RUNTIME_ROOT = "runc"  # runc's --root for the manager's containers
DELETED_PREFIX = ".deleted-"  # a tree being deleted (remove_tree); scans finish the job

# In ROOT/containers/ID.
CONTAINER_JSON = "container.json"
BUNDLE_DIR = "bundle"  # the bundle the manager makes from a rootfs
BUNDLE_CONFIG = "config.json"  # OCI: a bundle's spec (also in a given bundle)

# In a process directory ROOT/containers/ID/PROC: the shim's ...
CONTRACT = "contract"  # the contract version the shim speaks (shim.contract.VERSION)
PROCESS_JSON = "process.json"
SHIM_PID = "shim.pid"
PID = "pid"
STARTTIME = "starttime"
STDIN = "stdin"
STDIN_CLOSED = ".stdin-closed"  # empty: close_stdin was asked (the manager keeps no stdin copy)
STDOUT = "stdout"
STDERR = "stderr"
CONTROL = "control"
EXIT_FIFO = "exit"
EXIT_STATUS = "exitStatus"
OUTPUT_LOG = "output.log"  # rotated names: shim.contract.logformat
DROPPED = ".dropped-bytes"  # output bytes a full disk dropped, a running count
DROPPED_WIDTH = 20  # its decimal count, space-padded, then a newline: rewritten in place
SHIM_LOG = "shim.log"
RUNTIME_LOG = "runtime.log"
CONSOLE_SOCKET = "console.sock"
# ... and the manager's.
TIMES_JSON = "times.json"  # {"created_at", "started_at"} of the process
SPEC_JSON = "spec.json"  # an exec's OCI process spec (the shim's --process)
RESOURCES_JSON = "resources.json"  # the limits `tether update` set (manager/core/usage.py)
EXIT_REPORTED = "exitReported"  # empty: the exit (or the shim's loss) was published

DIR_MODE = 0o700
ROOT_MODE = 0o711
FIFO_MODE = 0o600


def __getattr__(name):
    """Build ID_RE (a compiled ID_PATTERN) on first use, importing re only then."""
    if name == "ID_RE":
        import re
        globals()["ID_RE"] = re.compile(ID_PATTERN)
        return globals()["ID_RE"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_valid_id(value):
    """Return True if VALUE matches ID_PATTERN (without the re module)."""
    return (isinstance(value, str) and 0 < len(value) <= 64 and value[0] in _ID_FIRST
            and all(c in _ID_REST for c in value))


class StateError(Exception):
    """A state file is missing, truncated or malformed."""


def validate_id(value, what="id"):
    """Return VALUE if it is a valid container or exec id, else raise ValueError."""
    if not is_valid_id(value):
        raise ValueError(
            f"invalid {what} {value!r}: must match [A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}")
    return value


def default_root():
    """Return the default state root: /run/tether for root, else XDG_RUNTIME_DIR/tether."""
    env = os.environ.get("TETHER_ROOT")
    if env:
        return env
    if os.geteuid() == 0:
        return "/run/tether"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/tether-{os.geteuid()}"
    return os.path.join(runtime_dir, "tether")


def containers_dir(root):
    """Return ROOT/containers."""
    return os.path.join(root, CONTAINERS)


def container_dir(root, container_id):
    """Return the directory of a container, after validating its id."""
    return os.path.join(containers_dir(root), validate_id(container_id))


def process_dir(root, container_id, exec_id=None):
    """Return the directory of the init process (exec_id None) or of an exec."""
    name = INIT if exec_id is None else validate_id(exec_id, "exec id")
    if name == INIT and exec_id is not None:
        raise ValueError("invalid exec id 'init': reserved for the init process")
    return os.path.join(container_dir(root, container_id), name)


def now_ns():
    """Return the wall-clock time in nanoseconds."""
    return time.time_ns()


def format_time(ns):
    """Format nanoseconds since the epoch as RFC 3339 with nanoseconds, UTC."""
    if ns is None:
        return None
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_time(text):
    """Parse an RFC 3339 UTC timestamp (as format_time writes) into nanoseconds."""
    import re
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z", text)
    if not m:
        raise ValueError(f"invalid timestamp {text!r}")
    fields = [int(x) for x in m.groups()[:6]]
    import calendar
    secs = calendar.timegm((*fields, 0, 0, 0))
    frac = (m.group(7) or "").ljust(9, "0")
    return secs * 1_000_000_000 + int(frac)


def fsync_dir(path):
    """Fsync a directory so that a rename in it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(path, data, mode, durable=True):
    """Write DATA to a hidden temp file beside PATH; return its path."""
    directory, name = os.path.split(path)
    tmp_path = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp_path, flags, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp_path)
        raise
    os.close(fd)
    return tmp_path


def atomic_write(path, data, mode=0o600, durable=True):
    """Write DATA (bytes) to PATH atomically: hidden temp file, fsync, rename, fsync dir.

    DURABLE=False skips the fsyncs: still whole or absent for any reader after
    any process crash, but not promised across a power loss. For the facts of
    a live process (its pid, start time, spec): after a power loss the process
    is gone and a lost or empty file reads as a broken directory (`unknown`),
    which is what it is then. What must outlive the machine (exitStatus,
    container.json) stays durable.
    """
    tmp_path = write_temp(path, data, mode, durable)
    try:
        os.rename(tmp_path, path)
    except BaseException:
        os.unlink(tmp_path)
        raise
    if durable:
        fsync_dir(os.path.dirname(path) or ".")


def create_once(path, data, mode=0o600, durable=True):
    """Write DATA to PATH atomically unless PATH exists; return False if it did.

    The final name is made with link(2), which fails if it exists, so a file
    written this way is never replaced (the exit status is the commit point).
    """
    tmp_path = write_temp(path, data, mode, durable)
    try:
        os.link(tmp_path, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp_path)
    if durable:
        fsync_dir(os.path.dirname(path) or ".")
    return True


def publish_once(path, data, mode=0o600):
    """Create PATH with DATA unless it exists (False then): visible at once, durable next.

    As create_once, whole or absent for every reader, but the link comes
    before the fsyncs: the manager (woken by inotify) reads the exit status
    without waiting for the disk. A power loss in the instant between may lose
    the file; the container died with the machine then anyway.
    """
    directory, name = os.path.split(path)
    tmp_path = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW |
                 os.O_CLOEXEC, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.link(tmp_path, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp_path)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(directory or ".")
    return True


def dump_json(obj):
    """Serialize OBJ as compact JSON bytes with a trailing newline."""
    return cjson.dumps(obj).encode() + b"\n"


def write_json(path, obj, mode=0o600, durable=True):
    """Write OBJ as JSON to PATH atomically."""
    atomic_write(path, dump_json(obj), mode, durable)


def read_json(path):
    """Read a JSON object from PATH; raise StateError if it is missing or malformed."""
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except FileNotFoundError as err:
        raise StateError(f"read {path}: no such file") from err
    except OSError as err:
        raise StateError(f"read {path}: {err.strerror}") from err
    try:
        obj = cjson.loads(data)
    except ValueError as err:
        raise StateError(f"read {path}: malformed JSON ({err})") from err
    if not isinstance(obj, dict):
        raise StateError(f"read {path}: expected a JSON object")
    return obj


def read_int(path):
    """Read a decimal integer (a pid file); raise StateError if missing or malformed."""
    try:
        with open(path, "rb") as f:
            text = f.read(64).strip()
    except FileNotFoundError as err:
        raise StateError(f"read {path}: no such file") from err
    except OSError as err:
        raise StateError(f"read {path}: {err.strerror}") from err
    if not text.isdigit():
        raise StateError(f"read {path}: not an integer: {text[:20]!r}")
    return int(text)


def proc_starttime(pid):
    """Return field 22 of /proc/PID/stat (start time in clock ticks), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[19])


def pid_alive(pid, starttime):
    """Return True if PID runs and is the same process (same start time)."""
    if not pid or pid <= 0:
        return False
    current = proc_starttime(pid)
    return current is not None and current == starttime


def exit_code_from_wait(status):
    """Map a waitpid status to (exit_code, signal): 128+N for death by signal N."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 128 + sig, sig
    return os.waitstatus_to_exitcode(status), None


def encode_exit_status(exit_code, signal=None, exited_at_ns=None, oom_killed=False, **extra):
    """Return the exitStatus record: {"exit_code", "signal", "exited_at", "oom_killed", ...EXTRA}.

    read_exit_status needs exit_code and exited_at; readers ignore fields they
    do not know, so EXTRA (such as dropped_bytes) needs no new contract version.
    """
    obj = {
        "exit_code": exit_code,
        "signal": signal,
        "exited_at": format_time(exited_at_ns if exited_at_ns is not None else now_ns()),
        "oom_killed": bool(oom_killed),
        **extra,
    }
    return dump_json(obj)


def write_exit_status(proc_dir, exit_code, signal=None, exited_at_ns=None, oom_killed=False):
    """Write PROC_DIR/exitStatus once; return False if it was already written."""
    data = encode_exit_status(exit_code, signal, exited_at_ns, oom_killed)
    return publish_once(os.path.join(proc_dir, EXIT_STATUS), data)


def read_exit_status(proc_dir):
    """Read PROC_DIR/exitStatus; None if absent, StateError if malformed."""
    path = os.path.join(proc_dir, EXIT_STATUS)
    if not os.path.exists(path):
        return None
    obj = read_json(path)
    if not isinstance(obj.get("exit_code"), int) or not isinstance(obj.get("exited_at"), str):
        raise StateError(f"read {path}: missing exit_code or exited_at")
    return obj


def read_dropped(path):
    """Return the count in a DROPPED file at PATH (OSError, ValueError if unreadable)."""
    with open(path, "rb") as f:
        return int(f.read(DROPPED_WIDTH + 1).strip() or 0)


def contract_data():
    """Return the content of PROC_DIR/contract: this contract's VERSION."""
    return b"%d\n" % VERSION


def read_contract_version(proc_dir):
    """Return the contract version of PROC_DIR: 0 without the file; StateError if malformed."""
    path = os.path.join(proc_dir, CONTRACT)
    if not os.path.exists(path):
        return 0  # written by a shim of the release before versions
    return read_int(path)


def encode_shim_pid(pid):
    """Return the shim.pid record of the running process PID: {"pid", "starttime"}."""
    return dump_json({"pid": pid, "starttime": proc_starttime(pid)})


def write_shim_pid(proc_dir, pid):
    """Write PROC_DIR/shim.pid: the shim's pid and start time."""
    atomic_write(os.path.join(proc_dir, SHIM_PID), encode_shim_pid(pid))


def read_shim_pid(proc_dir):
    """Read PROC_DIR/shim.pid as (pid, starttime); StateError if missing or malformed."""
    path = os.path.join(proc_dir, SHIM_PID)
    obj = read_json(path)
    pid, starttime = obj.get("pid"), obj.get("starttime")
    if not isinstance(pid, int) or not isinstance(starttime, int):
        raise StateError(f"read {path}: missing pid or starttime")
    return pid, starttime


def make_private_dir(path, mode=DIR_MODE):
    """Create PATH with MODE (not following a symlink at PATH); exist is an error."""
    os.mkdir(path, mode)
    os.chmod(path, mode, follow_symlinks=False)


def remove_tree(path):
    """Delete PATH: rename it to a hidden name first, so readers never see half of it."""
    import shutil
    parent, name = os.path.split(path.rstrip("/"))
    hidden = os.path.join(parent, f"{DELETED_PREFIX}{name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(path, hidden)
    except FileNotFoundError:
        return
    shutil.rmtree(hidden, ignore_errors=True)
