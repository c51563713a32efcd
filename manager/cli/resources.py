"""The CLI's resource commands: stats (docker's columns), top and update."""

import sys
import time

from manager.cli import jsontext
from manager.client.methods import ClientError
from shim.contract import cjson

STATS_COLUMNS = ("ID", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS", "BLOCK I/O", "OOM")
TOP_COLUMNS = ("PID", "USER", "TIME", "CMD")
# Streaming redraws every INTERVAL; --no-stream takes its two samples this far apart.
INTERVAL = 1.0
NO_STREAM_INTERVAL = 0.5
CLEAR = "\033[2J\033[H"
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB")


def human_size(value, binary=True):
    """Return VALUE bytes as docker prints them: 1.5MiB (binary) or 12.3kB (decimal)."""
    if value is None:
        return "--"
    base, units = (1024.0, _BINARY) if binary else (1000.0, _DECIMAL)
    size, unit = float(value), 0
    while size >= base and unit < len(units) - 1:
        size /= base
        unit += 1
    return f"{size:.4g}{units[unit]}"


def cpu_percent(previous, current):
    """Return the CPU % between two samples (100 = one core busy), or None without both."""
    if previous is None or current is None:
        return None
    before, after = previous.cpu.usage_ns, current.cpu.usage_ns
    elapsed = (current.read_ns or 0) - (previous.read_ns or 0)
    if before is None or after is None or elapsed <= 0:
        return None
    return max(after - before, 0) * 100.0 / elapsed


def memory_limit(stats):
    """Return the limit the MEM % is of: the cgroup's, else the host's memory."""
    return stats.memory.limit_bytes or stats.memory.host_bytes


def memory_percent(stats):
    """Return the memory usage in % of the limit, or None."""
    limit, usage = memory_limit(stats), stats.memory.usage_bytes
    return None if not limit or usage is None else usage * 100.0 / limit


def percent(value):
    """Return VALUE as a table cell: 1.25%, or -- for none."""
    return "--" if value is None else f"{value:.2f}%"


def stats_row(stats, previous):
    """Return the table cells of one container's STATS."""
    limit = memory_limit(stats)
    pids = stats.pids.current
    return (stats.id, percent(cpu_percent(previous, stats)),
            f"{human_size(stats.memory.usage_bytes)} / {human_size(limit)}",
            percent(memory_percent(stats)), "--" if pids is None else str(pids),
            f"{human_size(stats.blkio.read_bytes, False)} / "
            f"{human_size(stats.blkio.write_bytes, False)}", str(stats.oom_kills or 0))


def stats_object(stats, previous):
    """Return the JSON object of one container's STATS with the computed percentages."""
    obj = stats.to_dict()
    obj["cpu_percent"] = cpu_percent(previous, stats)
    obj["memory_percent"] = memory_percent(stats)
    return obj


def format_columns(rows):
    """Return ROWS (the first one the titles) as left-aligned columns, three spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n"
                   for row in rows)


def sample_all(client, ids, strict):
    """Return {id: Stats} of IDS; a container that stopped or went is skipped unless STRICT."""
    found = {}
    for cid in ids:
        try:
            found[cid] = client.stats(cid)
        except ClientError as err:
            if strict or err.status not in (404, 409):
                raise
    return found


def running_ids(client):
    """Return the ids of the running containers (what `tether stats` shows by default)."""
    return [s.id for s in client.list() if s.status == "running"]


def render_stats(samples, previous, as_json):
    """Return the text of one round: a table, or one JSON line per container."""
    if as_json:
        return "".join(cjson.dumps(stats_object(s, previous.get(cid))) + "\n"
                       for cid, s in samples.items())
    rows = [STATS_COLUMNS] + [stats_row(s, previous.get(cid)) for cid, s in samples.items()]
    return format_columns(rows)


def cmd_stats(client, opts):
    """Print resource usage: a table redrawn every second, or once with --no-stream."""
    explicit = bool(opts.ids)
    ids = opts.ids or running_ids(client)
    previous = sample_all(client, ids, explicit)
    if opts.no_stream:
        time.sleep(NO_STREAM_INTERVAL)
        current = sample_all(client, ids, explicit)
        if opts.json:
            print_json([stats_object(s, previous.get(cid)) for cid, s in current.items()])
        else:
            sys.stdout.write(render_stats(current, previous, False))
        return 0
    redraw = sys.stdout.isatty() and not opts.json
    while True:
        time.sleep(INTERVAL)
        # Once streaming, a container that stops drops out (an error only at the start).
        current = sample_all(client, ids if explicit else running_ids(client), False)
        if explicit and not current:
            return 0
        sys.stdout.write((CLEAR if redraw else "") + render_stats(current, previous, opts.json))
        sys.stdout.flush()
        previous = current


def print_json(obj):
    """Print OBJ as indented JSON."""
    sys.stdout.write(jsontext.dumps_indented(obj) + "\n")


def cpu_time(ns):
    """Return CPU time NS as ps prints TIME: [DD-]HH:MM:SS."""
    seconds = int(ns or 0) // 10**9
    days, seconds = divmod(seconds, 86400)
    text = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{days}-{text}" if days else text


def cmd_top(client, opts):
    """Print the processes of a container: PID USER TIME CMD."""
    top = client.top(opts.id)
    if opts.json:
        print_json(top.to_dict())
        return 0
    rows = [TOP_COLUMNS] + [(str(p.pid), p.user or str(p.uid), cpu_time(p.cpu_ns), p.command)
                            for p in top.processes]
    sys.stdout.write(format_columns(rows))
    return 0


def cmd_update(client, opts):
    """Change a running container's limits; print its id."""
    state = client.update(opts.id, **opts.update)
    sys.stdout.write(f"{state.id}\n")
    return 0


def cmd_checkpoint(client, opts):
    """Dump a container with CRIU; print the image directory."""
    import os
    image_path = os.path.abspath(opts.image_path or f"checkpoint-{opts.id}")
    client.checkpoint(opts.id, image_path, leave_running=opts.leave_running)
    sys.stdout.write(f"{image_path}\n")
    return 0
