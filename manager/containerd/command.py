"""containerd-shim-tether-v1: containerd's shim v2 binary for Tether.

containerd runs it as
    containerd-shim-tether-v1 -namespace NS -address SOCK -publish-binary BIN -id ID start
    containerd-shim-tether-v1 -namespace NS -address SOCK -publish-binary BIN -id ID \
        -bundle DIR delete
`start` (run in the bundle directory) answers with the address of a serving
process that already listens, starting one if the task's group has none;
`delete` cleans up after a task whose serving process is gone (and after
every task at teardown), printing a DeleteResponse with the true exit status.
"""

import os
import sys

from manager import __version__

# Go's flag package: -name value, --name value, -name=value; booleans alone.
VALUE_FLAGS = ("namespace", "address", "publish-binary", "id", "bundle", "socket", "root",
               "listen-fd")
BOOL_FLAGS = ("debug", "v", "version")
ACTIONS = ("start", "delete", "serve")


class UsageError(Exception):
    """A command line this program does not understand."""


def parse_args(argv):
    """Return (flags dict, action) from a Go-flag-style ARGV."""
    flags = {}
    rest = list(argv)
    while rest and rest[0].startswith("-") and rest[0] not in ("-", "--"):
        name, _, value = rest.pop(0).lstrip("-").partition("=")
        if name in BOOL_FLAGS:
            flags[name] = value not in ("false", "0")
        elif name in VALUE_FLAGS:
            if not value:
                if not rest:
                    raise UsageError(f"flag needs an argument: -{name}")
                value = rest.pop(0)
            flags[name] = value
        else:
            raise UsageError(f"flag provided but not defined: -{name}")
    if rest and rest[0] == "--":
        rest.pop(0)
    if flags.get("v") or flags.get("version"):
        return flags, "version"
    if not rest or rest[0] not in ACTIONS:
        raise UsageError(f"unknown action {rest[0] if rest else '(none)'}: want start or delete")
    return flags, rest[0]


def main(argv=None):
    """Run one action; return the exit status."""
    try:
        flags, action = parse_args(sys.argv[1:] if argv is None else argv)
        if action == "version":
            print(f"containerd-shim-tether-v1 (tether {__version__})")
            return 0
        for name in ("namespace", "id"):
            if not flags.get(name):
                raise UsageError(f"-{name} is required")
    except UsageError as err:
        sys.stderr.write(f"containerd-shim-tether-v1: {err}\n")
        return 2
    if action == "start":
        from manager.containerd import bootstrap
        status = bootstrap.start(flags)
        # containerd waits for our exit: the interpreter's teardown (~2 ms) is skipped.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    if action == "delete":
        from manager.containerd import cleanup
        return cleanup.delete(flags)
    from manager.containerd import serve
    return serve.run(flags)


if __name__ == "__main__":
    sys.exit(main())
