"""Check and convert the CLI's arguments before any request is made (pure functions).

re and signal are imported by the checks that need them: every command imports
this module, and they cost ~12 ms and ~5 ms (enum) to the others.
"""

from shim.contract import layout


def parse_signal(text):
    """Return the number of signal TEXT (TERM, SIGTERM, term or 15); ValueError if unknown."""
    import signal
    if text.isdigit():
        number = int(text)
        if 1 <= number <= signal.SIGRTMAX:
            return number
        raise ValueError(f"invalid signal {text!r}: numbers run from 1 to {int(signal.SIGRTMAX)}")
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise ValueError(f"invalid signal {text!r}: not a signal name or number") from None


def parse_env(items):
    """Return ITEMS (K=V strings) after checking their shape."""
    for item in items:
        if "=" not in item or item.startswith("="):
            raise ValueError(f"invalid --env {item!r}: expected K=V")
    return list(items)


def parse_labels(items):
    """Return the labels dict of ITEMS (K=V strings)."""
    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"invalid --label {item!r}: expected K=V")
        labels[key] = value
    return labels


def parse_duration_ns(text):
    """Return nanoseconds of a duration such as 90s, 10m, 1h30m; ValueError if malformed."""
    from manager.cli import times
    return times.parse_duration_ns(text)


def parse_since(text, now_ns, flag="--since"):
    """Return a --since/--until TEXT as RFC 3339 UTC (manager.cli.times lists the forms)."""
    from manager.cli import times
    return layout.format_time(times.parse_time_flag(flag, text, now_ns))


def parse_count(text, what, minimum=0):
    """Return TEXT as an integer >= MINIMUM; ValueError naming WHAT otherwise."""
    if not (text.isascii() and text.isdigit()) or int(text) < minimum:
        raise ValueError(f"invalid {what} {text!r}: expected an integer >= {minimum}")
    return int(text)


def check(opts):
    """Validate and convert the options of any command in place; ValueError if bad."""
    if getattr(opts, "id", None) is not None:
        layout.validate_id(opts.id, "container id")
    if getattr(opts, "exec_id", None) is not None:
        layout.validate_id(opts.exec_id, "exec id")
        if opts.exec_id == layout.INIT:
            raise ValueError("invalid exec id 'init': reserved for the init process")
    if hasattr(opts, "env"):
        opts.env = parse_env(opts.env)
    if hasattr(opts, "label"):
        opts.labels = parse_labels(opts.label)
    if hasattr(opts, "mount"):
        opts.spec = parse_spec_options(opts)
    if hasattr(opts, "format"):
        opts.json = parse_format(opts.json, opts.format)
    CHECKS.get(opts.command, lambda _opts: None)(opts)


def parse_spec_options(opts):
    """Return the config.json options of OPTS (default_spec's keywords)."""
    spec = None  # its import only when a value needs it: `run --bundle` has none
    if opts.user or opts.memory or opts.cpus or opts.mount:
        from manager.core import spec
    return {"user": spec.parse_user(opts.user) if opts.user else None,
            "hostname": parse_hostname(opts.hostname) if opts.hostname else None,
            "memory": spec.parse_memory(opts.memory) if opts.memory else None,
            "cpus": spec.parse_cpus(opts.cpus) if opts.cpus else None,
            "pids_limit": parse_count(opts.pids_limit, "--pids-limit", 1)
            if opts.pids_limit else None,
            "mounts": [spec.parse_mount(m) for m in opts.mount], "net": opts.net}


def parse_hostname(text):
    """Return TEXT if it is a valid hostname; ValueError otherwise."""
    if not 0 < len(text) <= 64 or not all(c.isalnum() or c in "-." for c in text):
        raise ValueError(f"invalid --hostname {text!r}: expected letters, digits, '-' and '.'")
    return text


def spec_options_given(spec_opts):
    """Return the flags among the config.json options that were given."""
    return [k for k, v in spec_opts.items() if v not in (None, [])]


def check_create(opts):
    """Check the process source of create and run."""
    if opts.bundle and opts.args:
        raise ValueError("ARGS need --rootfs: with --bundle the bundle's config.json is used")
    if opts.bundle and (opts.env or opts.cwd):
        raise ValueError("--env and --cwd need --rootfs: with --bundle the bundle's "
                         "config.json is used")
    given = spec_options_given(opts.spec)
    if opts.bundle and given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ValueError(f"{flags} need --rootfs: with --bundle the bundle's config.json is "
                         "used (tether spec prints one to edit)")
    opts.exit_hook = parse_exit_hook(opts)


def parse_exit_hook(opts):
    """Return the create body's exit_command of --exit-command and its options, or None."""
    import os
    if opts.exit_command is None:
        if opts.exit_command_arg or opts.exit_delay or opts.exit_timeout:
            raise ValueError("--exit-command-arg, --exit-delay and --exit-timeout need "
                             "--exit-command")
        return None
    hook = {"path": os.path.abspath(opts.exit_command), "args": list(opts.exit_command_arg)}
    for flag, key, text in (("--exit-delay", "delay_ns", opts.exit_delay),
                            ("--exit-timeout", "timeout_ns", opts.exit_timeout)):
        if text is not None:
            try:
                hook[key] = parse_duration_ns(text)
            except ValueError:
                raise ValueError(f"invalid {flag} {text!r}: expected a duration such as "
                                 "10s, 1m") from None
    return hook


def check_exec(opts):
    """Check that exec has a command."""
    if not opts.args:
        raise ValueError("missing the command to run: tether exec ID -- ARGS...")


def parse_format(as_json, text):
    """Return True for JSON output from --json and --format json|table."""
    if as_json and text == "table":
        raise ValueError("--json and --format table disagree: give one of them")
    return as_json or text == "json"


def check_kill(opts):
    """Convert the signal (SIGNAL or -s SIGNAL; default TERM) to its number."""
    if opts.signal is not None and opts.signal_option is not None:
        raise ValueError(f"two signals: {opts.signal!r} and -s {opts.signal_option!r}: "
                         "give one")
    given = opts.signal_option if opts.signal_option is not None else opts.signal
    # An empty SIGNAL is refused, not taken as the default.
    opts.signal = parse_signal("TERM" if given is None else given)


def check_logs(opts):
    """Convert --tail (N or all), --since and --until."""
    if opts.tail == "all":
        opts.tail = None
    elif opts.tail is not None:
        opts.tail = parse_count(opts.tail, "--tail")
    now = layout.now_ns()
    if opts.since is not None:
        opts.since = parse_since(opts.since, now)
    opts.until_ns = None
    if opts.until is not None:
        from manager.cli import times
        opts.until_ns = times.parse_time_flag("--until", opts.until, now)
        opts.until = layout.format_time(opts.until_ns)


def check_events(opts):
    """Convert --since and --after."""
    if opts.since is not None:
        opts.since = parse_since(opts.since, layout.now_ns())
    if opts.after is not None:
        opts.after = parse_count(opts.after, "--after")


def check_update(opts):
    """Convert the limits of update into its body; at least one is needed."""
    from manager.core import spec
    update = {}
    if opts.memory is not None:
        update["memory"] = spec.parse_memory(opts.memory)
    if opts.cpus is not None:
        update["cpus"] = spec.parse_cpus(opts.cpus)
    if opts.pids_limit is not None:
        update["pids_limit"] = parse_count(opts.pids_limit, "--pids-limit", 1)
    if not update:
        raise ValueError("nothing to change: give --memory, --cpus or --pids-limit")
    opts.update = update


def check_stats(opts):
    """Check the container ids of stats."""
    for cid in opts.ids:
        layout.validate_id(cid, "container id")


def check_resize(opts):
    """Convert COLS and ROWS."""
    opts.cols = parse_count(opts.cols, "COLS", 1)
    opts.rows = parse_count(opts.rows, "ROWS", 1)


CHECKS = {"create": check_create, "run": check_create, "exec": check_exec,
          "kill": check_kill, "logs": check_logs, "events": check_events,
          "resize": check_resize, "update": check_update, "stats": check_stats}
