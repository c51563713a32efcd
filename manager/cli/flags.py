"""The command line's declarations: the add_argument calls of each command.

manager.cli.main's COMMANDS table names these; argparse builds the help and
the errors from them, manager.cli.fastparse the plain command lines.
"""

from shim.contract import layout

LOG_LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("json", "table")


def version():
    """Return the version line of --version."""
    from manager import __version__
    return f"tether {__version__}"


def add_global_options(p):
    """Add the options before the command: --root, --socket, --version."""
    p.add_argument("--root", metavar="DIR", default=layout.default_root(),
                   help="state directory (env TETHER_ROOT; default %(default)s)")
    p.add_argument("--socket", metavar="PATH", help="API socket (default ROOT/tether.sock)")
    p.add_argument("--version", action="version", version=version())


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
    p.add_argument("--checkpoint", metavar="DIR",
                   help="restore from a checkpoint's images (runc restore; it then runs)")
    add_exit_hook_options(p)


def add_exit_hook_options(p):
    """Add the exit hook's options (podman's conmon spelling)."""
    g = p.add_argument_group("exit hook (run by the shim once the exit status is written, "
                             "also with no manager)")
    g.add_argument("--exit-command", metavar="PATH",
                   help="run PATH with TETHER_ID, TETHER_EXIT_CODE, TETHER_EXIT_SIGNAL set")
    g.add_argument("--exit-command-arg", action="append", default=[], metavar="ARG",
                   help="an argument of the exit command (repeatable; =ARG for one "
                        "starting with -: --exit-command-arg=-c)")
    g.add_argument("--exit-delay", metavar="DURATION",
                   help="wait this long before the exit command (10s, 1m)")
    g.add_argument("--exit-timeout", metavar="DURATION",
                   help="kill the exit command after this long (default 60s)")


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


def add_checkpoint_options(p):
    """Add the options of checkpoint."""
    add_id(p)
    p.add_argument("--image-path", metavar="DIR",
                   help="where CRIU writes the images (default ./checkpoint-ID)")
    p.add_argument("--leave-running", action="store_true",
                   help="keep the container running after the dump")
