"""tether: the command line of the Tether manager.

`tether daemon` runs the manager; every other command is a client of its API
socket. Only what a command needs is imported, so that the CLI starts fast:
the daemon (asyncio and friends) is imported by `tether daemon` alone, and
argparse only for help, errors and unusual command lines (manager.cli.fastparse
parses the plain ones from the same add_argument calls).
"""

import os
import sys

from shim.contract import layout

from manager.cli import dispatch, fastparse
from manager.cli.flags import (
    add_checkpoint_options, add_create_options, add_daemon_options, add_delete_options, add_events_options,
    add_exec_options, add_global_options, add_id, add_id_and_exec_id, add_kill_options,
    add_list_options, add_logs_options, add_print_spec_options, add_resize_options,
    add_run_options, add_stats_options, add_top_options, add_update_options)

ERROR_EXIT = 125
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
    ("checkpoint", [], dispatch.cmd_checkpoint, add_checkpoint_options,
     "dump a running container with CRIU",
     "Dump a running container's processes with CRIU (runc checkpoint) into DIR;\n"
     "without --leave-running the container stops. CRIU's own error, if any, is\n"
     "in the one error line (Debian 12's CRIU 3.17 fails on kernels like 6.18).",
     "tether checkpoint web --image-path /srv/ckpt/web --leave-running"),
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
    # Not required: no command prints the help (parse_args), as docker does.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    head, tail = split_args(argv)
    opts = fastparse.parse(head, add_global_options, COMMANDS)
    if opts is None or (tail is not None and not hasattr(opts, "args")):
        parser = build_parser()
        opts = parser.parse_args(head)
        if opts.command is None:  # a bare `tether` (or global options only): the help
            parser.print_help()
            sys.exit(0)
        if tail is not None and not hasattr(opts, "args"):
            parser.error(f"{opts.command}: unexpected arguments after --: {' '.join(tail)}")
    if tail is not None:
        opts.args = opts.args + tail
    opts.socket = opts.socket or os.path.join(opts.root, layout.SOCKET)
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
    """Run the tether command line; return the exit status.

    As the program (ARGV None: the console script), every command but the
    daemon ends here with os._exit once stdout and stderr are flushed: the
    interpreter's teardown (modules, objects, the collector) cost each command
    ~3.5 ms (`tether list`, median of 30: 22.9 -> 17.4 ms), and nothing of ours
    needs it: terminals are restored and sockets closed before a handler returns.
    """
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    code = run_command(opts)
    if argv is None and opts.command != "daemon":
        exit_now(code)
    return code


def exit_now(code):
    """Flush stdout and stderr, then end the process with CODE without the teardown."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = 141  # the reader went away, as in run_command
    except OSError:
        code = code or ERROR_EXIT
    os._exit(code)


def run_command(opts):
    """Run the command of OPTS; return the exit status."""
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
