"""Parse the shim's command line and load the process spec it runs.

A small table-driven parser instead of argparse: the shim is long-lived and
argparse (with gettext) costs ~0.4 MB per process (../shared/FACTS.md).
"""

import os

from shim.contract import cjson, layout

USAGE = "usage: tether-shim --id ID --bundle DIR --state-dir DIR [options]"

# (flag, attribute, kind, metavar, help); kind is "flag", "str", "int" or "size".
OPTIONS = (
    ("--id", "id", "str", "ID", "container id ([A-Za-z0-9][A-Za-z0-9_.-]{0,63})"),
    ("--bundle", "bundle", "str", "DIR", "OCI bundle directory (holds config.json)"),
    ("--state-dir", "state_dir", "str", "DIR",
     "process directory (ROOT/containers/ID/init or .../EXECID); created if missing"),
    ("--runtime", "runtime", "str", "RUNTIME",
     "runc (default), the path of a runc-compatible CLI, or native (run on the host)"),
    ("--runtime-root", "runtime_root", "str", "DIR", "passed to the runtime as --root"),
    ("--exec", "exec", "flag", None, "run an exec process in the running container"),
    ("--process", "process", "str", "FILE", "OCI process spec (JSON) for --exec"),
    ("--tty", "tty", "flag", None, "allocate a terminal (must match process.terminal)"),
    ("--stdin", "stdin", "flag", None, "create the stdin FIFO and connect it to the process"),
    ("--console-size", "console_size", "size", "COLSxROWS",
     "terminal size set before the process starts"),
    ("--log-max-size", "log_max_size", "int", "BYTES",
     "rotate output.log when it would grow past BYTES (default: never)"),
    ("--log-max-files", "log_max_files", "int", "N",
     "rotated files kept (default 1); output.log.N counts up, the oldest expire"),
    ("--start", "start", "flag", None,
     "also start the process (implied for --exec); default: leave it created"),
    ("--foreground", "foreground", "flag", None,
     "do not detach; log to stderr too (debugging)"),
    ("--fork-detach", "fork_detach", "flag", None,
     "(for managers) already in a session of its own with stdio on /dev/null: "
     "detach with one fork instead of python-daemon"),
    ("--sync-fd", "sync_fd", "int", "N",
     "write the start-up result as one JSON line to fd N, then close it"),
    ("--result-fd", "result_fd", "int", "N",
     "(internal) the detached shim's result pipe to its invoker"),
)
_BY_FLAG = {opt[0]: opt for opt in OPTIONS}


class ConfigError(Exception):
    """The command line, bundle or process spec is unusable."""

    def __init__(self, message, sync_fd=None, result_fd=None):
        super().__init__(message)
        self.sync_fd = sync_fd
        self.result_fd = result_fd


class HelpRequested(Exception):
    """--help was given."""


class Config:
    """The parsed command line."""

    def __init__(self):
        for _flag, attr, kind, _metavar, _help in OPTIONS:
            setattr(self, attr, False if kind == "flag" else None)
        self.runtime = "runc"
        self.runtime_path = None
        self.proc_dir = None


def format_help():
    """Return the --help text."""
    lines = [USAGE, "", "Own one container process: its stdio, log and exit status.", "",
             "options:"]
    for flag, _attr, _kind, metavar, text in OPTIONS:
        left = f"{flag} {metavar}" if metavar else flag
        lines.append(f"  {left:<28}{text}")
    lines.append(f"  {'-h, --help':<28}show this help and exit")
    return "\n".join(lines) + "\n"


def _is_number(text):
    """Return True for ASCII decimal digits only ("²".isdigit() is true, int("²") fails)."""
    return text.isascii() and text.isdigit()


def parse_console_size(text):
    """Parse COLSxROWS into (cols, rows)."""
    cols, sep, rows = text.lower().partition("x")
    if not sep or not _is_number(cols) or not _is_number(rows):
        raise ConfigError(f"invalid --console-size {text!r}: expected COLSxROWS, e.g. 80x24")
    size = (int(cols), int(rows))
    if not all(0 < n < 65536 for n in size):
        raise ConfigError(f"invalid --console-size {text!r}: out of range 1..65535")
    return size


def _convert(flag, kind, text):
    if kind == "size":
        return parse_console_size(text)
    if kind == "int":
        if not _is_number(text):
            raise ConfigError(f"invalid {flag} {text!r}: expected a non-negative integer")
        return int(text)
    return text


def _split_args(argv):
    """Yield (flag, value-or-None) pairs; value given as --flag=value or the next arg."""
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            raise HelpRequested()
        flag, eq, value = arg.partition("=")
        opt = _BY_FLAG.get(flag)
        if opt is None:
            raise ConfigError(f"unknown argument {arg!r} (see --help)")
        if opt[2] == "flag":
            if eq:
                raise ConfigError(f"{flag} takes no value")
            yield opt, None
            continue
        if not eq:
            if not args:
                raise ConfigError(f"{flag} needs a value ({opt[3]})")
            value = args.pop(0)
        yield opt, value


def parse_args(argv):
    """Parse ARGV into a Config; raise ConfigError or HelpRequested."""
    cfg = Config()
    try:
        for (flag, attr, kind, _m, _h), value in _split_args(argv):
            setattr(cfg, attr, True if kind == "flag" else _convert(flag, kind, value))
        check_config(cfg)
    except ConfigError as err:
        err.sync_fd, err.result_fd = cfg.sync_fd, cfg.result_fd
        raise
    return cfg


def check_config(cfg):
    """Check required flags and their combinations; resolve paths."""
    for flag, attr in (("--id", "id"), ("--bundle", "bundle"), ("--state-dir", "state_dir")):
        if not getattr(cfg, attr):
            raise ConfigError(f"missing {flag} (see --help)")
    try:
        layout.validate_id(cfg.id)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if cfg.exec and not cfg.process:
        raise ConfigError("--exec needs --process FILE")
    if cfg.process and not cfg.exec:
        raise ConfigError("--process is only for --exec")
    if cfg.log_max_files is not None and cfg.log_max_size is None:
        raise ConfigError("--log-max-files needs --log-max-size")
    if cfg.log_max_size is not None:
        cfg.log_max_files = 1 if cfg.log_max_files is None else cfg.log_max_files
        if cfg.log_max_size < 1 or cfg.log_max_files < 1:
            raise ConfigError("--log-max-size and --log-max-files must be at least 1")
    for flag, fd in (("--sync-fd", cfg.sync_fd), ("--result-fd", cfg.result_fd)):
        if fd is not None and not fd_is_open(fd):
            raise ConfigError(f"{flag} {fd}: not an open file descriptor")
    if cfg.console_size and not cfg.tty:
        raise ConfigError("--console-size needs --tty")
    # Absolute paths: the detached shim runs elsewhere (to_argv hands them on).
    cfg.bundle = os.path.abspath(cfg.bundle)
    cfg.state_dir = cfg.proc_dir = os.path.abspath(cfg.state_dir)
    for attr in ("runtime_root", "process"):
        if getattr(cfg, attr):
            setattr(cfg, attr, os.path.abspath(getattr(cfg, attr)))
    if "/" in cfg.runtime:
        cfg.runtime = os.path.abspath(cfg.runtime)
    cfg.runtime_path = resolve_runtime(cfg.runtime)
    if cfg.exec:
        cfg.start = True  # runc has no created state for execs


def fd_is_open(fd):
    """Return True if FD is an open file descriptor."""
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def to_argv(cfg):
    """Return a command line that parses back into CFG (with absolute paths)."""
    argv = []
    for flag, attr, kind, _metavar, _help in OPTIONS:
        value = getattr(cfg, attr)
        if kind == "flag":
            argv += [flag] if value else []
        elif value is not None:
            argv += [flag, "%dx%d" % value if kind == "size" else str(value)]
    return argv


def resolve_runtime(name):
    """Return the runtime's executable path, or None for native."""
    if name == "native":
        return None
    if "/" in name:
        path = os.path.abspath(name)
        if not os.access(path, os.X_OK):
            raise ConfigError(f"find runtime {path}: not an executable file")
        return path
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or ".", name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    raise ConfigError(f"find runtime {name!r}: not found in PATH; install runc "
                      "or use --runtime native")


def _read_json_file(path, what):
    try:
        with open(path, "rb") as f:
            obj = cjson.loads(f.read(4 << 20))
    except FileNotFoundError:
        raise ConfigError(f"read {what} {path}: no such file") from None
    except OSError as err:
        raise ConfigError(f"read {what} {path}: {err.strerror}") from None
    except ValueError as err:
        raise ConfigError(f"read {what} {path}: malformed JSON ({err})") from None
    if not isinstance(obj, dict):
        raise ConfigError(f"read {what} {path}: expected a JSON object")
    return obj


def check_process(process, where):
    """Check the fields of an OCI process spec the shim relies on."""
    args = process.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"invalid process in {where}: 'args' must be a non-empty list of strings")
    env = process.get("env", [])
    if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
        raise ConfigError(f"invalid process in {where}: 'env' must be a list of strings")
    if not isinstance(process.get("cwd", "/"), str):
        raise ConfigError(f"invalid process in {where}: 'cwd' must be a string")


def load_process(cfg):
    """Return the process spec to run: the bundle's process, or --process for an exec."""
    try:
        return _load_process(cfg)
    except ConfigError as err:
        err.sync_fd, err.result_fd = cfg.sync_fd, cfg.result_fd
        raise


def _load_process(cfg):
    if not os.path.isdir(cfg.bundle):
        raise ConfigError(f"open bundle {cfg.bundle}: no such directory")
    if cfg.exec:
        path = cfg.process
        process = _read_json_file(path, "process spec")
        check_process(process, path)
        process = dict(process, terminal=cfg.tty)
        if cfg.console_size:
            process["consoleSize"] = {"width": cfg.console_size[0],
                                      "height": cfg.console_size[1]}
        return process
    path = os.path.join(cfg.bundle, "config.json")
    spec = _read_json_file(path, "bundle config")
    process = spec.get("process")
    if not isinstance(process, dict):
        raise ConfigError(f"invalid bundle config {path}: no 'process' object")
    check_process(process, path)
    if bool(process.get("terminal")) != cfg.tty:
        have = "true" if process.get("terminal") else "false"
        raise ConfigError(f"tty mismatch: {path} has process.terminal {have} but --tty was "
                          f"{'given' if cfg.tty else 'not given'}")
    return process
