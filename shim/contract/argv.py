"""The shim's command line: one table that builds it (the manager) and parses it (the shim).

A small table-driven parser instead of argparse: the shim is long-lived and
argparse (with gettext) costs ~0.4 MB per process (../shared/FACTS.md).
"""

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
ATTRS = tuple(opt[1] for opt in OPTIONS)
_BY_FLAG = {opt[0]: opt for opt in OPTIONS}
_KINDS = {opt[1]: opt[2] for opt in OPTIONS}


class ArgvError(ValueError):
    """The command line does not parse."""


class HelpRequested(Exception):
    """-h or --help was given."""


def format_size(size):
    """Format (cols, rows) as COLSxROWS."""
    return "%dx%d" % (int(size[0]), int(size[1]))


def _is_number(text):
    """Return True for ASCII decimal digits only ("²".isdigit() is true, int("²") fails)."""
    return text.isascii() and text.isdigit()


def parse_size(text):
    """Parse COLSxROWS into (cols, rows); ArgvError if malformed or out of range."""
    cols, sep, rows = text.lower().partition("x")
    if not sep or not _is_number(cols) or not _is_number(rows):
        raise ArgvError(f"invalid --console-size {text!r}: expected COLSxROWS, e.g. 80x24")
    size = (int(cols), int(rows))
    if not all(0 < n < 65536 for n in size):
        raise ArgvError(f"invalid --console-size {text!r}: out of range 1..65535")
    return size


def build_argv(values):
    """Return the options for VALUES ({attribute: value}); None and False are left out."""
    unknown = set(values) - set(_KINDS)
    if unknown:
        raise ValueError(f"build shim argv: unknown options {sorted(unknown)}")
    argv = []
    for flag, attr, kind, _metavar, _help in OPTIONS:
        value = values.get(attr)
        if kind == "flag":
            argv += [flag] if value else []
        elif value is not None:
            argv += [flag, format_size(value) if kind == "size" else str(value)]
    return argv


def _convert(flag, kind, text):
    if kind == "size":
        return parse_size(text)
    if kind == "int":
        if not _is_number(text):
            raise ArgvError(f"invalid {flag} {text!r}: expected a non-negative integer")
        return int(text)
    return text


def parse_argv(argv):
    """Yield (attribute, value) per option of ARGV; raise ArgvError or HelpRequested.

    A generator, so that the caller keeps what parsed before an error (the
    --sync-fd to report it on).
    """
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            raise HelpRequested()
        flag, eq, value = arg.partition("=")
        opt = _BY_FLAG.get(flag)
        if opt is None:
            raise ArgvError(f"unknown argument {arg!r} (see --help)")
        _flag, attr, kind, metavar, _help = opt
        if kind == "flag":
            if eq:
                raise ArgvError(f"{flag} takes no value")
            yield attr, True
            continue
        if not eq:
            if not args:
                raise ArgvError(f"{flag} needs a value ({metavar})")
            value = args.pop(0)
        yield attr, _convert(flag, kind, value)
