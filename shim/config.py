"""Check the shim's command line (parsed by shim.contract.argv) and load its process spec."""

import os

from shim.contract import argv as argv_table, cjson, layout
from shim.contract.argv import OPTIONS, HelpRequested  # noqa: F401 (shim.__main__ catches it)

USAGE = "usage: tether-shim --id ID --bundle DIR --state-dir DIR [options]"


class ConfigError(Exception):
    """The command line, bundle or process spec is unusable."""

    def __init__(self, message, sync_fd=None, result_fd=None):
        super().__init__(message)
        self.sync_fd = sync_fd
        self.result_fd = result_fd


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


def parse_console_size(text):
    """Parse COLSxROWS into (cols, rows)."""
    try:
        return argv_table.parse_size(text)
    except argv_table.ArgvError as err:
        raise ConfigError(str(err)) from None


def parse_args(argv):
    """Parse ARGV into a Config; raise ConfigError or HelpRequested."""
    cfg = Config()
    try:
        try:
            for attr, value in argv_table.parse_argv(argv):
                setattr(cfg, attr, value)
        except argv_table.ArgvError as err:
            raise ConfigError(str(err)) from None
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
    return argv_table.build_argv({attr: getattr(cfg, attr) for attr in argv_table.ATTRS})


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
    path = os.path.join(cfg.bundle, layout.BUNDLE_CONFIG)
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
