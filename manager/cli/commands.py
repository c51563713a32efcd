"""The CLI's simple client commands: one request each, or one stream to print."""

import sys

from manager.cli import jsontext
from manager.client.methods import ClientError
from shim.contract import cjson

TABLE_COLUMNS = ("ID", "STATUS", "PID", "EXIT", "CREATED", "BUNDLE")


def print_json(obj):
    """Print OBJ as indented JSON."""
    sys.stdout.write(jsontext.dumps_indented(obj) + "\n")


def show(value):
    """Return VALUE for a table cell ('-' for none)."""
    return "-" if value is None or value == "" else str(value)


def format_table(states):
    """Return the list table (ID STATUS PID EXIT CREATED BUNDLE) of STATES, as runc list."""
    rows = [TABLE_COLUMNS]
    for s in states:
        created = s.get("created_at") or ""
        # Seconds are enough in a table; `state ID` has the nanoseconds.
        created = created[:19] + "Z" if len(created) >= 19 else created
        rows.append((show(s.get("id")), show(s.get("status")), show(s.get("pid")),
                     show(s.get("exit_code")), show(created), show(s.get("bundle"))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_COLUMNS) - 1)]
    lines = ["   ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "   " + row[-1]
             for row in rows]
    return "\n".join(lines) + "\n"


def cmd_list(client, opts):
    """List containers as a table, ids, or JSON."""
    states = [s.to_dict() for s in client.list()]
    if opts.json:
        print_json(states)
    elif opts.quiet:
        sys.stdout.write("".join(s["id"] + "\n" for s in states))
    else:
        sys.stdout.write(format_table(states))


def cmd_state(client, opts):
    """Print a container's state object."""
    print_json(client.state(opts.id).to_dict())


def cmd_start(client, opts):
    """Start a created container."""
    client.start(opts.id)


def cmd_kill(client, opts):
    """Send a signal."""
    client.kill(opts.id, opts.signal, all_processes=opts.all, exec_id=opts.exec_id)


def cmd_pause(client, opts):
    """Freeze a container."""
    client.pause(opts.id)


def cmd_resume(client, opts):
    """Thaw a container."""
    client.resume(opts.id)


def cmd_delete(client, opts):
    """Delete a container."""
    client.delete(opts.id, force=opts.force)


def cmd_wait(client, opts):
    """Wait for a process to exit; print its exit code and exit with it."""
    code = client.wait(opts.id, exec_id=opts.exec_id).exit_code
    if not isinstance(code, int):
        raise ClientError(f"wait {opts.id}: the manager gave no exit code")
    sys.stdout.write(f"{code}\n")
    return code


def cmd_resize(client, opts):
    """Set a terminal's size."""
    client.resize(opts.id, opts.cols, opts.rows, exec_id=opts.exec_id)


class LogPrinter:
    """Write log records to stdout/stderr, optionally with a time at each line start."""

    def __init__(self, timestamps=False, out=None, err=None):
        self.timestamps = timestamps
        self.files = {"stdout": out or sys.stdout.buffer, "stderr": err or sys.stderr.buffer}
        self.at_line_start = {"stdout": True, "stderr": True}

    def write(self, record):
        """Write one LogRecord (its data already decoded)."""
        stream, data = record.stream, record.data
        if stream not in self.files:
            return
        if self.timestamps and data:
            data = self.prefix_lines(stream, data, record.time or "-")
        f = self.files[stream]
        f.write(data)
        f.flush()

    def prefix_lines(self, stream, data, time):
        """Put `TIME ` before every line that starts in DATA."""
        prefix = time.encode() + b" "
        lines = data.split(b"\n")
        out = [(prefix if self.at_line_start[stream] else b"") + lines[0]]
        out += [prefix + line for line in lines[1:-1]]
        if len(lines) > 1:
            out.append(prefix + lines[-1] if lines[-1] else b"")
        self.at_line_start[stream] = data.endswith(b"\n")
        return b"\n".join(out)


def cmd_logs(client, opts):
    """Print the persisted output, optionally followed."""
    printer = LogPrinter(opts.timestamps)
    records = client.logs(opts.id, exec_id=opts.exec_id, follow=opts.follow,
                          since=opts.since, tail=opts.tail)
    for record in records:
        # --until is applied here: records come in time order, so the first
        # later one ends the output (and a follow).
        if opts.until_ns is not None and record.time and after_until(record.time, opts.until_ns):
            return
        if record.stream:
            printer.write(record)


def after_until(record_time, until_ns):
    """Return True if RECORD_TIME (RFC 3339) is later than UNTIL_NS."""
    from manager.cli import times
    try:
        return times.parse_rfc3339(record_time) > until_ns
    except ValueError:
        return False


def format_event(event):
    """Return one human line for EVENT: TIME TYPE ID [exec EID] [key=value...]."""
    words = [show(event.get("time")), show(event.get("type")), show(event.get("id"))]
    if event.get("exec_id"):
        words.append(f"exec={event['exec_id']}")
    # seq numbers the journal for resuming subscribers (events --json has it): not for people.
    for key in sorted(set(event) - {"time", "type", "id", "exec_id", "seq"}):
        if event[key] is not None:
            words.append(f"{key}={event[key]}")
    return " ".join(words)


def cmd_events(client, opts):
    """Stream lifecycle events until interrupted."""
    for event in client.events(since=opts.since, after=opts.after):
        event = event.to_dict()
        line = cjson.dumps(event) if opts.json else format_event(event)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
