"""The start-up result: one JSON line for whoever started the shim.

{"ok": true, "shim_pid": N, "pid": N} or {"ok": false, "exit_code": 125|126|127, "error": "..."}
"""

import os
import sys

from shim.contract import cjson, layout

# The start-up's exit codes (tini's mapping, as runc and docker use them).
EXIT_FAILED = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_CODES = (EXIT_FAILED, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND)


def success(shim_pid, pid):
    """Return the result of a successful start-up."""
    return {"ok": True, "shim_pid": shim_pid, "pid": pid}


def failure(message, exit_code=EXIT_FAILED):
    """Return the result of a failed start-up."""
    return {"ok": False, "exit_code": exit_code, "error": str(message)}


def send_result(fds, result, close=True):
    """Write RESULT as one JSON line to each fd of FDS; close them if CLOSE."""
    line = layout.dump_json(result)
    for fd in fds:
        if fd is None:
            continue
        try:
            os.write(fd, line)
            if close:
                os.close(fd)
        except OSError:
            pass  # the starter went away; the shim carries on regardless


def decode_result(line):
    """Return the result of LINE (str or bytes); ValueError if it is missing or malformed."""
    text = line.decode(errors="replace") if isinstance(line, (bytes, bytearray)) else line
    if not text.strip():
        raise ValueError("no start-up result")
    try:
        result = cjson.loads(text)
    except ValueError:
        result = None
    if not isinstance(result, dict) or "ok" not in result:
        raise ValueError(f"malformed start-up result {text[:200]!r}")
    if result["ok"] and not isinstance(result.get("shim_pid"), int):
        raise ValueError(f"start-up result without shim_pid {text[:200]!r}")
    return result


def parse_result(line):
    """Parse a result line; a missing or garbled one is a failure."""
    try:
        return decode_result(line)
    except ValueError:
        return failure("start shim: it exited during start-up without reporting a result")


def print_result(result):
    """Print RESULT as a person wants to read it; return the exit status for it."""
    if result.get("ok"):
        sys.stdout.write(f"shim {result.get('shim_pid')} container {result.get('pid')}\n")
        sys.stdout.flush()
        return 0
    sys.stderr.write(f"tether-shim: {result.get('error')}\n")
    sys.stderr.flush()
    code = result.get("exit_code")
    return code if isinstance(code, int) and 0 < code < 256 else EXIT_FAILED
