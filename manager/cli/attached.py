"""The CLI's process commands: create, run, exec and attach.

manager.client.attach_client (terminals, signals, frames: ~0.7 ms of imports)
is imported by the attached paths alone: `run -d` and `create` never load it.
"""

import os
import sys

from manager.client.methods import ClientError
from shim.contract import cjson, layout

STDIN_FD = 0


def need_terminal(command):
    """Refuse -t when stdin is not a terminal (raw mode and resizes need one)."""
    if not os.isatty(STDIN_FD):
        raise ClientError(f"{command}: the input device is not a TTY: "
                          "drop -t, or use -d and attach later from a terminal")


def check_bundle(opts):
    """Return the absolute bundle or rootfs path after checking it exists."""
    path = os.path.abspath(opts.bundle or opts.rootfs)
    if opts.bundle and not os.path.isfile(os.path.join(path, layout.BUNDLE_CONFIG)):
        raise ClientError(f"{opts.command} {opts.id}: read bundle {path}/config.json: "
                          "no such file")
    if opts.rootfs and not os.path.isdir(path):
        raise ClientError(f"{opts.command} {opts.id}: read rootfs {path}: no such directory")
    return path


def bundle_terminal(bundle):
    """Return process.terminal of BUNDLE/config.json (False if unreadable: the manager says)."""
    try:
        with open(os.path.join(bundle, layout.BUNDLE_CONFIG), "rb") as f:
            config = cjson.loads(f.read())
        return bool(config["process"]["terminal"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def resolve_tty(opts):
    """Set opts.tty from -t, or from the bundle's process.terminal without -t."""
    opts.tty_given = opts.tty
    if opts.bundle and not opts.tty:
        opts.tty = bundle_terminal(check_bundle(opts))


def build_create_body(opts, console_size=None):
    """Return the create body of OPTS (docs/api.md)."""
    body = {"id": opts.id, "stdin": opts.interactive or opts.tty, "labels": opts.labels}
    path = check_bundle(opts)
    if opts.bundle:
        body["bundle"] = path
        if opts.tty_given:
            body["tty"] = True  # else the bundle's process.terminal decides
    else:
        body.update(rootfs=path, tty=opts.tty, args=opts.args or ["sh"], env=opts.env)
        if opts.cwd:
            body["cwd"] = opts.cwd
        body.update(spec_body(opts.spec))
    if opts.runtime:
        body["runtime"] = opts.runtime
    if opts.exit_hook:
        body["exit_command"] = opts.exit_hook
    if opts.checkpoint:
        body["checkpoint"] = os.path.abspath(opts.checkpoint)
    if console_size:
        body["console_size"] = console_size
    return body


def spec_body(spec_opts):
    """Return the create body's config.json fields of SPEC_OPTS (docs/api.md)."""
    body = {k: v for k, v in spec_opts.items() if v not in (None, [])}
    if "user" in body:
        body["user"] = {"uid": body["user"][0], "gid": body["user"][1]}
    return body


def build_exec_body(opts, console_size=None):
    """Return the exec body of OPTS (docs/api.md)."""
    body = {"args": opts.args, "env": opts.env, "tty": opts.tty,
            "stdin": opts.interactive or opts.tty}
    if opts.exec_id:
        body["exec_id"] = opts.exec_id
    if opts.cwd:
        body["cwd"] = opts.cwd
    if console_size:
        body["console_size"] = console_size
    return body


def attached_terminal(opts, attached):
    """Check the terminal for -t; return its size (None without a tty on stdin)."""
    if not opts.tty:
        return None
    if attached:
        need_terminal(opts.command)
    from manager.client import attach_client
    return attach_client.terminal_size(STDIN_FD)


def pump(client, opts, cid, exec_id, stream, tty, stdin):
    """Pump an open attach stream; return the exit code, or None when detached."""
    from manager.client import attach_client
    sock, rest = stream
    stdin_fd = STDIN_FD if stdin else None
    session = attach_client.AttachSession(client, cid, exec_id, sock, rest, tty, stdin_fd)
    if not tty:
        return session.run()
    with attach_client.RawTerminal(STDIN_FD):
        return session.run()


def cmd_create(client, opts):
    """Create a container."""
    resolve_tty(opts)
    client.create(build_create_body(opts, attached_terminal(opts, False)))


def cmd_run(client, opts):
    """Create and start a container, attached unless -d; return its exit code."""
    resolve_tty(opts)
    body = build_create_body(opts, attached_terminal(opts, not opts.detach))
    # --rm is the manager's job: it removes the container once it has exited
    # and every attach stream has sent its output, also if this client dies.
    body["auto_remove"] = opts.rm
    if opts.detach:
        body["start"] = True  # one request; the shim runs `runc run --detach`
        client.create(body)
        sys.stdout.write(opts.id + "\n")
        return 0
    from manager.client import attach_client
    code = run_attached(client, opts, body)
    return 0 if code is attach_client.DETACHED else code


def run_attached(client, opts, body):
    """Create, start and attach in one request; pump until exit or detach."""
    # The stream starts at the log's beginning: no output is lost. Until its
    # 101 arrives the container may not be ours (an id taken): never delete it.
    from manager.client import attach_client
    stream = attach_client.open_run(client.socket_path, body)
    try:
        return pump(client, opts, opts.id, None, stream, opts.tty, body["stdin"])
    except BaseException:
        if opts.rm:  # the manager removes it once it exits; a broken stream must not wait
            remove_quietly(client, opts.id)
        raise


def remove_quietly(client, cid):
    """Delete CID for --rm after a failure; report, but do not mask, the first error."""
    try:
        client.delete(cid, force=True)
    except ClientError as err:
        if err.status == 404:  # the manager's auto-removal came first
            return
        sys.stderr.write(f"tether: run --rm: delete {cid}: {err.message}\n")


def cmd_exec(client, opts):
    """Run a process in a container; return its exit code unless -d."""
    body = build_exec_body(opts, attached_terminal(opts, not opts.detach))
    from manager.client import attach_client
    process = client.exec(opts.id, body)
    exec_id = process.id or opts.exec_id
    if opts.detach:
        sys.stdout.write(f"{exec_id}\n")
        return 0
    stream = attach_client.open_attach(client.socket_path, opts.id, exec_id, logs=True)
    code = pump(client, opts, opts.id, exec_id, stream, opts.tty, body["stdin"])
    return 0 if code is attach_client.DETACHED else code


def find_process(state, exec_id):
    """Return the process state of EXEC_ID in a container's STATE (the init one for None)."""
    if exec_id is None:
        return state
    for process in state.processes:
        if process.id == exec_id:
            return process
    raise ClientError(f"attach {state.id}: no exec process {exec_id!r}")


def cmd_attach(client, opts):
    """Attach to a running process; return its exit code, or 0 on detach."""
    from manager.client import attach_client
    process = find_process(client.state(opts.id), opts.exec_id)
    tty, stdin = bool(process.tty), bool(process.stdin)
    if tty:
        need_terminal("attach")
    stream = attach_client.open_attach(client.socket_path, opts.id, opts.exec_id)
    if tty:
        # The size may have changed since the last client: set it (this redraws).
        attach_client.send_terminal_size(client, opts.id, opts.exec_id, STDIN_FD)
    code = pump(client, opts, opts.id, opts.exec_id, stream, tty, stdin)
    return 0 if code is attach_client.DETACHED else code
