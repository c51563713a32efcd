"""The CLI's handlers, one per command: each imports its module only when it runs.

A plain `tether list` must not pay for the attached commands' terminal and
streaming code (tests/unit/test_cli_lean.py), so the table in main.py names
these functions, and each one imports the function that does the work."""


def cmd_create(client, opts):
    """tether create: manager.cli.attached.cmd_create."""
    from manager.cli.attached import cmd_create
    return cmd_create(client, opts)


def cmd_start(client, opts):
    """tether start: manager.cli.commands.cmd_start."""
    from manager.cli.commands import cmd_start
    return cmd_start(client, opts)


def cmd_run(client, opts):
    """tether run: manager.cli.attached.cmd_run."""
    from manager.cli.attached import cmd_run
    return cmd_run(client, opts)


def cmd_exec(client, opts):
    """tether exec: manager.cli.attached.cmd_exec."""
    from manager.cli.attached import cmd_exec
    return cmd_exec(client, opts)


def cmd_list(client, opts):
    """tether list: manager.cli.commands.cmd_list."""
    from manager.cli.commands import cmd_list
    return cmd_list(client, opts)


def cmd_state(client, opts):
    """tether state: manager.cli.commands.cmd_state."""
    from manager.cli.commands import cmd_state
    return cmd_state(client, opts)


def cmd_kill(client, opts):
    """tether kill: manager.cli.commands.cmd_kill."""
    from manager.cli.commands import cmd_kill
    return cmd_kill(client, opts)


def cmd_pause(client, opts):
    """tether pause: manager.cli.commands.cmd_pause."""
    from manager.cli.commands import cmd_pause
    return cmd_pause(client, opts)


def cmd_resume(client, opts):
    """tether resume: manager.cli.commands.cmd_resume."""
    from manager.cli.commands import cmd_resume
    return cmd_resume(client, opts)


def cmd_delete(client, opts):
    """tether delete: manager.cli.commands.cmd_delete."""
    from manager.cli.commands import cmd_delete
    return cmd_delete(client, opts)


def cmd_wait(client, opts):
    """tether wait: manager.cli.commands.cmd_wait."""
    from manager.cli.commands import cmd_wait
    return cmd_wait(client, opts)


def cmd_attach(client, opts):
    """tether attach: manager.cli.attached.cmd_attach."""
    from manager.cli.attached import cmd_attach
    return cmd_attach(client, opts)


def cmd_logs(client, opts):
    """tether logs: manager.cli.commands.cmd_logs."""
    from manager.cli.commands import cmd_logs
    return cmd_logs(client, opts)


def cmd_events(client, opts):
    """tether events: manager.cli.commands.cmd_events."""
    from manager.cli.commands import cmd_events
    return cmd_events(client, opts)


def cmd_resize(client, opts):
    """tether resize: manager.cli.commands.cmd_resize."""
    from manager.cli.commands import cmd_resize
    return cmd_resize(client, opts)


def cmd_stats(client, opts):
    """tether stats: manager.cli.resources.cmd_stats."""
    from manager.cli.resources import cmd_stats
    return cmd_stats(client, opts)


def cmd_top(client, opts):
    """tether top: manager.cli.resources.cmd_top."""
    from manager.cli.resources import cmd_top
    return cmd_top(client, opts)


def cmd_update(client, opts):
    """tether update: manager.cli.resources.cmd_update."""
    from manager.cli.resources import cmd_update
    return cmd_update(client, opts)


def cmd_checkpoint(client, opts):
    """tether checkpoint: manager.cli.resources.cmd_checkpoint."""
    from manager.cli.resources import cmd_checkpoint
    return cmd_checkpoint(client, opts)
