"""Validate request bodies and query values (pure; errors are one clear line)."""

import os

from shim.contract import hooks, layout

from manager.spawn.runtime import parse_signal


class BadRequest(ValueError):
    """A request field is missing or malformed."""


def _check(cond, message):
    if not cond:
        raise BadRequest(message)


def _string_list(body, key):
    value = body.get(key)
    if value is None:
        return None
    _check(isinstance(value, list) and all(isinstance(x, str) for x in value),
           f"invalid {key}: expected a list of strings")
    return value


def _bool(body, key, default=False):
    value = body.get(key, default)
    if value is None:
        return default
    _check(isinstance(value, bool), f"invalid {key}: expected true or false")
    return value


def _console_size(body):
    size = body.get("console_size")
    if size is None:
        return None
    _check(isinstance(size, list) and len(size) == 2 and
           all(isinstance(x, int) and not isinstance(x, bool) and 0 < x < 65536 for x in size),
           "invalid console_size: expected [cols, rows] of positive integers")
    return size


def _positive_int(body, key, maximum):
    value = body.get(key)
    _check(value is None or (isinstance(value, int) and not isinstance(value, bool) and
                             0 < value <= maximum),
           f"invalid {key}: expected an integer from 1 to {maximum}")
    return value


def _env(body):
    env = _string_list(body, "env") or []
    for item in env:
        _check("=" in item and not item.startswith("=") and "\0" not in item,
               f"invalid env entry {item!r}: expected K=V")
    return env


def _cwd(body):
    cwd = body.get("cwd")
    _check(cwd is None or (isinstance(cwd, str) and cwd.startswith("/") and "\0" not in cwd),
           "invalid cwd: expected an absolute path")
    return cwd


def _labels(body):
    labels = body.get("labels") or {}
    _check(isinstance(labels, dict) and
           all(isinstance(k, str) and k and isinstance(v, str) for k, v in labels.items()),
           "invalid labels: expected an object of strings")
    return labels


def _runtime(body):
    runtime = body.get("runtime") or "runc"
    _check(isinstance(runtime, str) and "\0" not in runtime, "invalid runtime: expected a string")
    _check(runtime in ("runc", "native") or os.path.isabs(runtime),
           f"invalid runtime {runtime!r}: expected runc, native or an absolute path")
    return runtime


def _abs_dir(body, key):
    path = body[key]
    _check(isinstance(path, str) and os.path.isabs(path) and "\0" not in path,
           f"invalid {key}: expected an absolute path")
    _check(os.path.isdir(path), f"invalid {key} {path}: not a directory")
    return os.path.normpath(path)


def _user(body):
    user = body.get("user")
    if user is None:
        return None
    _check(isinstance(user, dict) and all(
        isinstance(user.get(k), int) and not isinstance(user.get(k), bool) and
        0 <= user[k] < 1 << 32 for k in ("uid", "gid")),
        "invalid user: expected {\"uid\": N, \"gid\": N}")
    return user["uid"], user["gid"]


def _hostname(body):
    name = body.get("hostname")
    _check(name is None or (isinstance(name, str) and 0 < len(name) <= 64 and
                            all(c.isalnum() or c in "-." for c in name)),
           "invalid hostname: expected letters, digits, '-' and '.' (at most 64)")
    return name


def _cpus(body):
    cpus = body.get("cpus")
    _check(cpus is None or (isinstance(cpus, (int, float)) and not isinstance(cpus, bool) and
                            0.01 <= cpus <= 1024),
           "invalid cpus: expected a number of cores from 0.01 to 1024")
    return cpus


def _mount(mount):
    _check(isinstance(mount, dict) and isinstance(mount.get("source"), str) and
           isinstance(mount.get("destination"), str) and
           isinstance(mount.get("readonly", False), bool),
           "invalid mounts: expected [{\"source\", \"destination\", \"readonly\"}]")
    source, destination = mount["source"], mount["destination"]
    _check(os.path.isabs(source) and os.path.isabs(destination) and
           "\0" not in source + destination, "invalid mounts: paths must be absolute")
    _check(os.path.exists(source), f"invalid mount source {source}: no such file or directory")
    return {"source": source, "destination": destination,
            "readonly": mount.get("readonly", False)}


def _spec_options(body):
    """Return the config.json options of a rootfs create body (docs/api.md)."""
    mounts = body.get("mounts") or []
    _check(isinstance(mounts, list), "invalid mounts: expected a list")
    net = body.get("net")
    _check(net in (None, "host", "none"), "invalid net: expected host or none")
    return {"user": _user(body), "hostname": _hostname(body),
            "memory": _positive_int(body, "memory", 1 << 50), "cpus": _cpus(body),
            "pids_limit": _positive_int(body, "pids_limit", 1 << 22),
            "mounts": [_mount(m) for m in mounts], "net": net}


SPEC_KEYS = ("user", "hostname", "memory", "cpus", "pids_limit", "mounts", "net")


def parse_create(body):
    """Return the validated create body as a dict."""
    try:
        cid = layout.validate_id(body.get("id"))
    except ValueError as err:
        raise BadRequest(str(err)) from err
    has_bundle, has_rootfs = body.get("bundle") is not None, body.get("rootfs") is not None
    _check(has_bundle != has_rootfs, "create: give exactly one of bundle and rootfs")
    out = {"id": cid, "tty": _bool(body, "tty"), "stdin": _bool(body, "stdin"),
           "runtime": _runtime(body), "labels": _labels(body),
           "console_size": _console_size(body), "env": _env(body), "cwd": _cwd(body),
           "args": _string_list(body, "args"),
           "log_max_size": _positive_int(body, "log_max_size", 1 << 40),
           "log_max_files": _positive_int(body, "log_max_files", 100),
           "start": _bool(body, "start"), "auto_remove": _bool(body, "auto_remove"),
           "exit_hook": _exit_hook(body),
           "checkpoint": _abs_dir(body, "checkpoint") if body.get("checkpoint") else None}
    if out["checkpoint"]:
        _check(out["runtime"] != "native", "create: the native runtime cannot restore a "
                                           "checkpoint (CRIU works through runc)")
        out["start"] = True  # runc restore --detach creates and starts
    if has_bundle:
        _check(not out["env"] and out["cwd"] is None and out["args"] is None and
               all(body.get(k) in (None, []) for k in SPEC_KEYS),
               "create: env, cwd, args, user, hostname, memory, cpus, pids_limit, mounts "
               "and net are refused with a bundle (its config.json is authoritative)")
        out["bundle"] = _abs_dir(body, "bundle")
        _check(os.path.isfile(os.path.join(out["bundle"], layout.BUNDLE_CONFIG)),
               f"invalid bundle {out['bundle']}: no config.json")
        out["tty_given"] = "tty" in body and body["tty"] is not None
    else:
        out["rootfs"] = _abs_dir(body, "rootfs")
        out["spec"] = _spec_options(body)
        _check(out["args"] is None or len(out["args"]) > 0, "invalid args: empty")
    return out


def _exit_hook(body):
    """Return the validated exit_command of a create body (shim/contract/hooks.py), or None."""
    try:
        return hooks.parse_spec(body.get("exit_command"))
    except ValueError as err:
        raise BadRequest(str(err)) from err


def parse_exec(body):
    """Return the validated exec body as a dict."""
    exec_id = body.get("exec_id")
    if exec_id is not None:
        try:
            layout.validate_id(exec_id, "exec id")
        except ValueError as err:
            raise BadRequest(str(err)) from err
        _check(exec_id not in (layout.INIT, layout.BUNDLE_DIR),
               f"invalid exec id {exec_id!r}: reserved (init process, generated bundle)")
    args = _string_list(body, "args")
    _check(bool(args), "exec: args must be a non-empty list of strings")
    return {"exec_id": exec_id, "args": args, "env": _env(body), "cwd": _cwd(body),
            "tty": _bool(body, "tty"), "stdin": _bool(body, "stdin"),
            "console_size": _console_size(body)}


def parse_kill(body):
    """Return (signal number, all, exec_id) of a kill body."""
    try:
        signum = parse_signal(body.get("signal", "TERM"))
    except ValueError as err:
        raise BadRequest(str(err)) from err
    return signum, _bool(body, "all"), parse_exec_id(body.get("exec_id"))


def parse_resize(body):
    """Return (cols, rows, exec_id) of a resize body."""
    cols, rows = body.get("cols"), body.get("rows")
    size = _console_size({"console_size": [cols, rows]})
    return size[0], size[1], parse_exec_id(body.get("exec_id"))


def parse_exec_id(value):
    """Return an exec id from a body or query (None or "" for the init process)."""
    if value in (None, ""):
        return None
    try:
        return layout.validate_id(value, "exec id")
    except ValueError as err:
        raise BadRequest(str(err)) from err


def parse_flag(query, key):
    """Return a boolean query flag: 1/true/yes are true."""
    return query.get(key, "").lower() in ("1", "true", "yes")


def parse_tail(query):
    """Return the tail query value as an int, or None."""
    text = query.get("tail")
    if text in (None, "", "all"):
        return None
    # isascii: "²".isdigit() is true, but int("²") fails (a 500, found by hypothesis).
    _check(text.isascii() and text.isdigit(), f"invalid tail {text!r}: expected a number")
    return int(text)


def parse_after(query):
    """Return the after query value (an event seq) as an int, or None."""
    text = query.get("after")
    if text in (None, ""):
        return None
    _check(text.isascii() and text.isdigit() and len(text) <= 20,
           f"invalid after {text!r}: expected an event's seq (a number)")
    return int(text)


def parse_since(query):
    """Return the since query value in nanoseconds, or None."""
    text = query.get("since")
    if not text:
        return None
    try:
        ns = layout.parse_time(text)
    except ValueError as err:
        raise BadRequest(f"invalid since {text!r}: expected RFC 3339 UTC "
                         "(2026-11-23T00:00:00Z)") from err
    # parse_time's calendar.timegm turns day 45 or hour 99 into another date: refuse those.
    _check(layout.format_time(ns)[:19] == text[:19],
           f"invalid since {text!r}: no such date or time")
    return ns
