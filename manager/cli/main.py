"""tether: the command line of the Tether manager.

`tether daemon` runs the manager; every other command is a client of its API
socket. Only what a command needs is imported, so that the CLI starts fast:
the daemon (asyncio and friends) is imported by `tether daemon` alone, and
argparse only for help, errors and unusual command lines (manager.cli.fastparse
parses the plain ones from the same add_argument calls).
"""

import os
import sys

from manager import __version__
from manager.cli import dispatch, fastparse
from shim.contract import layout

ERROR_EXIT = 125
LOG_LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("json", "table")
DESCRIPTION = "Run OCI containers that outlive their manager."
EPILOG = ("examples:\n  tether daemon --detach\n"
          "  tether run --rm demo --rootfs /srv/rootfs -- echo hello\n"
          "  tether run -d web --rootfs /srv/rootfs -- httpd -f -p 8080\n"
          "  tether logs -f web; tether exec -t web -- sh\n"
          "  tether delete --force web\n\n"
          "exit codes: run, exec and wait exit with the process's code (128+N for\n"
          "signal N); tether's own errors exit 125 with one line on stderr.\n"
          "completion: contrib/completion/ (bash, zsh); systemd: contrib/tether.service")


class UsageError(Exception):
    """Bad input found before any request was made."""


def fail(message, exit_code=ERROR_EXIT):
    """Print one error line on stderr; return EXIT_CODE."""
    line = str(message).strip().splitlines()[0] if str(message).strip() else "failed"
    sys.stderr.write(f"tether: {line}\n")
    sys.stderr.flush()
    return exit_code


# -- argument groups shared by several commands -----------------------------

def add_global_options(p):
    """Add the options before the command: --root, --socket, --version."""
    p.add_argument("--root", metavar="DIR", default=layout.default_root(),
                   help="state directory (env TETHER_ROOT; default %(default)s)")
    p.add_argument("--socket", metavar="PATH", help="API socket (default ROOT/tether.sock)")
    p.add_argument("--version", action="version", version=f"tether {__version__}")


def add_id(p, what="container"):
    """Add the container ID positional."""
    p.add_argument("id", metavar="ID", help=f"{what} id")


def add_exec_id(p, help_text="the exec process to act on (default: the init process)"):
    """Add --exec-id EID."""
    p.add_argument("--exec-id", metavar="EID", help=help_text)


def add_process_options(p):
    """Add the options that shape a process: -t, -i, --env, --cwd."""
    p.add_argument("-t", "--tty", action="store_true",
                   help="allocate a terminal (implies -i; attached, stdin must be a tty)")
    p.add_argument("-i", "--interactive", action="store_true",
                   help="keep stdin open and forward it when attached")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V",
                   help="add an environment variable (repeatable)")
    p.add_argument("-w", "--cwd", metavar="P", help="working directory inside the container")


def add_spec_options(p):
    """Add the config.json options of --rootfs containers and of `tether spec`."""
    g = p.add_argument_group("config.json options (with --rootfs)")
    g.add_argument("-u", "--user", metavar="UID:GID", help="run the process as UID:GID (numbers)")
    g.add_argument("--hostname", metavar="NAME", help="hostname in the container (default tether)")
    g.add_argument("-m", "--memory", metavar="SIZE", help="memory limit: 64m, 1g, bytes")
    g.add_argument("--cpus", metavar="N", help="CPU limit in cores: 0.5, 2")
    g.add_argument("--pids-limit", metavar="N", help="maximum number of processes")
    g.add_argument("--mount", "-v", "--volume", action="append", default=[],
                   metavar="SRC:DST[:ro]",
                   help="bind-mount host path SRC at DST, read-only with :ro (repeatable)")
    g.add_argument("--net", "--network", choices=spec_nets(), metavar="host|none",
                   help="network: none (own namespace, loopback only; default) or host")


def spec_nets():
    """Return the --net choices."""
    from manager.core import spec
    return spec.NETS


def add_create_options(p):
    """Add the options of create and run."""
    add_id(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("-b", "--bundle", metavar="DIR", help="OCI bundle (config.json + rootfs)")
    source.add_argument("--rootfs", metavar="DIR",
                        help="root filesystem; tether writes runc's default config.json")
    p.add_argument("args", nargs="*", metavar="ARGS",
                   help="with --rootfs: the command to run (after --; default sh)")
    add_process_options(p)
    add_spec_options(p)
    p.add_argument("--runtime", metavar="NAME", help="OCI runtime: runc (default), a path, native")
    p.add_argument("-l", "--label", action="append", default=[], metavar="K=V",
                   help="attach a label (repeatable)")


def add_run_options(p):
    """Add the options of run."""
    add_create_options(p)
    p.add_argument("-d", "--detach", action="store_true",
                   help="print the id and return once the container runs")
    p.add_argument("--rm", action="store_true", help="delete the container when it exits")


def add_exec_options(p):
    """Add the options of exec."""
    add_id(p)
    p.add_argument("args", nargs="*", metavar="ARGS", help="the command to run (after --)")
    p.add_argument("-d", "--detach", action="store_true", help="print the exec id and return")
    add_process_options(p)
    add_exec_id(p, "name the exec process (default: chosen by the manager)")


def add_print_spec_options(p):
    """Add the options of spec."""
    p.add_argument("--rootfs", metavar="DIR", default="rootfs",
                   help="root.path of the config (default rootfs, relative to the bundle)")
    p.add_argument("args", nargs="*", metavar="ARGS", help="the command to run (after --)")
    add_process_options(p)
    add_spec_options(p)


def add_daemon_options(p):
    """Add the options of daemon."""
    p.add_argument("--detach", action="store_true", help="daemonize (python-daemon)")
    p.add_argument("--runtime-root", metavar="DIR", help="runc --root (default ROOT/runc)")
    p.add_argument("--socket-group", metavar="G", help="group allowed to use the socket")
    p.add_argument("--log-level", choices=LOG_LEVELS, default="info", metavar="LEVEL",
                   help="debug, info (default), warning or error; JSON lines on stderr")


def add_format_options(p, json_help):
    """Add --json and its docker spelling --format json|table."""
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--format", choices=FORMATS, metavar="json|table",
                   help="json (as --json) or table (the default)")


def add_list_options(p):
    """Add the options of list."""
    add_format_options(p, "print a JSON array of state objects")
    p.add_argument("-q", "--quiet", action="store_true", help="print the ids only")


def add_events_options(p):
    """Add the options of events."""
    add_format_options(p, "print each event as a JSON line")
    p.add_argument("--since", metavar="TIME",
                   help="first replay the kept events since TIME (RFC 3339, Unix seconds, "
                        "or a duration such as 10m)")
    p.add_argument("--after", metavar="SEQ",
                   help="first replay the kept events numbered after SEQ (resume: give the "
                        "seq of the last event you saw)")


def add_kill_options(p):
    """Add the options of kill."""
    add_id(p)
    p.add_argument("signal", nargs="?", metavar="SIGNAL",
                   help="name (TERM, SIGTERM) or number (default TERM)")
    p.add_argument("-s", "--signal", dest="signal_option", metavar="SIGNAL",
                   help="the signal, as docker kill -s spells it")
    p.add_argument("-a", "--all", action="store_true",
                   help="signal every process of the container")
    add_exec_id(p)


def add_delete_options(p):
    """Add the options of delete."""
    add_id(p)
    p.add_argument("-f", "--force", action="store_true", help="kill the container first")


def add_logs_options(p):
    """Add the options of logs."""
    add_id(p)
    p.add_argument("-f", "--follow", action="store_true", help="follow until the process exits")
    p.add_argument("--since", metavar="TIME",
                   help="only records since TIME (RFC 3339 with a zone, a date, Unix "
                        "seconds, or a duration such as 10m, 1h30m)")
    p.add_argument("--until", metavar="TIME",
                   help="only records before TIME (the same forms); ends -f there")
    p.add_argument("-n", "--tail", metavar="N", help="only the last N records (all: every one)")
    p.add_argument("-t", "--timestamps", action="store_true",
                   help="prefix each line with its time")
    add_exec_id(p)


def add_resize_options(p):
    """Add the options of resize."""
    add_id(p)
    p.add_argument("cols", metavar="COLS", help="columns")
    p.add_argument("rows", metavar="ROWS", help="rows")
    add_exec_id(p)


def add_stats_options(p):
    """Add the options of stats."""
    p.add_argument("ids", nargs="*", metavar="ID",
                   help="containers (default: every running one)")
    p.add_argument("--no-stream", action="store_true",
                   help="print one table (two samples half a second apart) and return")
    add_format_options(p, "print JSON: one line per container per second, or an array "
                          "with --no-stream")


def add_top_options(p):
    """Add the options of top."""
    add_id(p)
    add_format_options(p, "print the processes as a JSON object")


def add_update_options(p):
    """Add the options of update."""
    add_id(p)
    p.add_argument("-m", "--memory", metavar="SIZE", help="memory limit: 64m, 1g, bytes")
    p.add_argument("--cpus", metavar="N", help="CPU limit in cores: 0.5, 2")
    p.add_argument("--pids-limit", metavar="N", help="maximum number of processes")


def add_id_and_exec_id(p):
    """Add ID and --exec-id."""
    add_id(p)
    add_exec_id(p)


# name, aliases, handler, add-arguments, summary, description, example
COMMANDS = [
    ("daemon", [], None, add_daemon_options, "run the manager",
     "Run the manager in the foreground (systemd-friendly), or daemonized with --detach.\n"
     "It serves the API on ROOT/tether.sock and finds running containers again on start.\n"
     "It logs JSON lines on stderr (ROOT/tether.log with --detach), tells systemd it is\n"
     "ready through $NOTIFY_SOCKET (Type=notify; contrib/tether.service), and serves\n"
     "Prometheus metrics at GET /v1/metrics. Stopping it leaves the containers running.",
     "tether daemon --detach\n  tether daemon --log-level debug 2>&1 | jq -c .\n"
     "  curl -s --unix-socket /run/tether/tether.sock http://tether/v1/metrics"),
    ("spec", [], None, add_print_spec_options, "print a config.json",
     "Print an OCI config.json, in the shape `runc spec` writes, with the same\n"
     "options as create --rootfs: edit it, then use it with --bundle. Needs no manager.",
     "tether spec -- httpd -f -p 8080 > /srv/web/config.json\n"
     "  tether spec --memory 64m --cpus 0.5 --net host -u 1000:1000 -- sh"),
    ("create", [], dispatch.cmd_create, add_create_options, "create a container",
     "Create a container: its shim is started and the runtime's create is done;\n"
     "the status is `created`. With --rootfs, tether writes the bundle's config.json\n"
     "(runc's default spec) shaped by the config.json options below; with --bundle,\n"
     "the bundle's own config.json is used as it is.",
     "tether create web --rootfs /srv/rootfs -- httpd -f -p 8080\n"
     "  tether create db --rootfs /srv/rootfs --memory 256m --cpus 1 --pids-limit 100 \\\n"
     "      --mount /srv/data:/data --user 1000:1000 -- sh -c 'exec mydb /data'\n"
     "  tether create app --bundle /srv/app        # a bundle's own config.json"),
    ("start", [], dispatch.cmd_start, add_id, "start a created container",
     "Start the init process of a created container; its status becomes `running`.",
     "tether start web"),
    ("run", [], dispatch.cmd_run, add_run_options, "create and start a container",
     "Create and start a container. Attached (the default) it forwards stdout and\n"
     "stderr (and stdin with -i or -t) and exits with the container's exit code.\n"
     "With -t: detach with ctrl-p ctrl-q; `tether attach` reconnects.",
     "tether run --rm -t shell --rootfs /srv/rootfs -- sh\n"
     "  tether run -d web --bundle /srv/web\n"
     "  tether run --rm hi --rootfs /srv/rootfs --net host --hostname hi -- uname -n"),
    ("exec", [], dispatch.cmd_exec, add_exec_options, "run another process in a container",
     "Run another process in a running container, under its own shim. Attached it\n"
     "exits with the process's exit code; with -d it prints the exec id.",
     "tether exec -t web -- sh\n  tether exec web -- sh -c 'echo hi'"),
    ("list", ["ls"], dispatch.cmd_list, add_list_options, "list containers",
     "List the containers: a table, or a JSON array of state objects with --json.",
     "tether list\n  tether list -q\n  tether list --json"),
    ("state", [], dispatch.cmd_state, add_id, "print a container's state",
     "Print the state object of a container as JSON.", "tether state web"),
    ("kill", [], dispatch.cmd_kill, add_kill_options, "send a signal",
     "Send a signal (a name or a number; default TERM) to the init process, to an\n"
     "exec process with --exec-id, or to every process with --all.",
     "tether kill web KILL\n  tether kill -s KILL web\n  tether kill web 9"),
    ("pause", [], dispatch.cmd_pause, add_id, "freeze a container",
     "Freeze every process of a container through the runtime.", "tether pause web"),
    ("resume", [], dispatch.cmd_resume, add_id, "thaw a container",
     "Thaw a paused container through the runtime.", "tether resume web"),
    ("delete", ["rm"], dispatch.cmd_delete, add_delete_options, "delete a container",
     "Delete a stopped container and all its state; --force kills it first.",
     "tether delete --force web"),
    ("wait", [], dispatch.cmd_wait, add_id_and_exec_id, "wait for a process to exit",
     "Block until the init process (or an exec) exits; print its exit code and\n"
     "exit with it (128+N for death by signal N).", "tether wait web"),
    ("attach", [], dispatch.cmd_attach, add_id_and_exec_id, "attach to a running process",
     "Connect this terminal to a running process: raw mode with a tty (detach\n"
     "with ctrl-p ctrl-q, which exits 0), else stdin/stdout/stderr. Exits with the\n"
     "process's exit code if it ends while attached.", "tether attach web"),
    ("logs", [], dispatch.cmd_logs, add_logs_options, "print a container's output",
     "Print the persisted output as the process wrote it: stdout to stdout, stderr\n"
     "to stderr; -f follows it until the process exits.", "tether logs -f --tail 20 web\n"
     "  tether logs --since 10m --timestamps web\n"
     "  tether logs --since 2026-11-23T09:00:00+01:00 --until 1795000000 web"),
    ("events", [], dispatch.cmd_events, add_events_options, "stream events",
     "Stream lifecycle events (create, start, exit, oom, delete, pause, resume,\n"
     "shim-lost) as lines, or as JSON lines with --json (with their seq, the\n"
     "number in the event journal: --after SEQ resumes exactly where a previous\n"
     "reader stopped, also across manager restarts).",
     "tether events --json\n  tether events --since 10m\n  tether events --json --after 41"),
    ("resize", [], dispatch.cmd_resize, add_resize_options, "set a terminal's size",
     "Set the terminal size of a process (attach does this by itself on SIGWINCH).",
     "tether resize web 120 40"),
    ("stats", [], dispatch.cmd_stats, add_stats_options, "show containers' resource usage",
     "Show CPU %, memory usage / limit, memory %, pids, block I/O and OOM kills,\n"
     "read by the manager from each container's cgroup, redrawn every second as\n"
     "docker stats does (--no-stream: once). CPU % is of one core: 200% = two busy.",
     "tether stats\n  tether stats --no-stream web db\n  tether stats --no-stream --json web"),
    ("top", [], dispatch.cmd_top, add_top_options, "list a container's processes",
     "List the processes in a container's cgroup: PID (on the host), USER, CPU TIME, CMD.",
     "tether top web"),
    ("update", [], dispatch.cmd_update, add_update_options, "change a container's limits",
     "Change the memory, CPU or pids limit of a running container through the\n"
     "runtime (runc update); `state` shows them under resources, `stats` reads\n"
     "them back. The native runtime has no cgroup: it refuses.",
     "tether update web --memory 256m --cpus 1.5 --pids-limit 200"),
]


def build_parser():
    """Return the argparse parser of the tether command line (help, errors, completion)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        """An ArgumentParser whose errors are one line and exit 125, as tether's own errors."""

        def error(self, message):
            """Print `tether: MESSAGE` and exit 125."""
            fail(message)
            sys.exit(ERROR_EXIT)

    raw = argparse.RawDescriptionHelpFormatter
    parser = Parser(prog="tether", formatter_class=raw, description=DESCRIPTION, epilog=EPILOG)
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, aliases, handler, add_options, summary, description, example in COMMANDS:
        p = sub.add_parser(name, aliases=aliases, help=summary, description=description,
                           epilog=f"example:\n  {example}", formatter_class=raw)
        add_options(p)
        p.set_defaults(handler=handler, command=name)
    return parser


def split_args(argv):
    """Split ARGV at the first `--`: (tether's arguments, the process's ARGS or None)."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, None


def parse_args(argv):
    """Parse ARGV; everything after `--` goes verbatim to the process's ARGS."""
    if not argv:
        build_parser().print_help()  # a bare `tether`, as docker: the help, exit 0
        sys.exit(0)
    head, tail = split_args(argv)
    opts = fastparse.parse(head, add_global_options, COMMANDS)
    if opts is None or (tail is not None and not hasattr(opts, "args")):
        parser = build_parser()
        opts = parser.parse_args(head)
        if tail is not None and not hasattr(opts, "args"):
            parser.error(f"{opts.command}: unexpected arguments after --: {' '.join(tail)}")
    if tail is not None:
        opts.args = opts.args + tail
    opts.socket = opts.socket or os.path.join(opts.root, "tether.sock")
    return opts


def check_opts(opts):
    """Validate ids and values before any request is made; raise UsageError."""
    from manager.cli import checks
    try:
        checks.check(opts)
    except ValueError as err:
        raise UsageError(f"{opts.command}: {err}") from err


def run_daemon(opts):
    """Run the manager (imported here: the client commands never load it)."""
    from manager.server import daemon
    return daemon.run(opts.root, socket_path=opts.socket, detach=opts.detach,
                      runtime_root=opts.runtime_root, socket_group=opts.socket_group,
                      log_level=opts.log_level)


def print_spec(opts):
    """Print the config.json of the options (no manager needed)."""
    from manager.cli import jsontext
    from manager.core import spec
    config = spec.default_spec(rootfs=opts.rootfs, args=opts.args or None, env=opts.env,
                               cwd=opts.cwd or "/", tty=opts.tty, **opts.spec)
    sys.stdout.write(jsontext.dumps_indented(config) + "\n")
    return 0


def run_client_command(opts):
    """Run a client command against the manager's socket."""
    from manager.client.methods import Client, ClientError
    try:
        return opts.handler(Client(opts.socket), opts) or 0
    except ClientError as err:
        return fail(err.message, err.exit_code or ERROR_EXIT)


def main(argv=None):
    """Run the tether command line; return the exit status."""
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        check_opts(opts)
        if opts.command == "daemon":
            return run_daemon(opts)
        if opts.command == "spec":
            return print_spec(opts)
        return run_client_command(opts)
    except UsageError as err:
        return fail(err)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (tether logs | head): exit quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
