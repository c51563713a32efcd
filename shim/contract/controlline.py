"""The control FIFO's lines: one JSON object with one key, then a newline.

{"resize": [cols, rows]}, {"close_stdin": true}, {"start": true} (the native
runtime's start). The manager encodes them, the shim decodes them.
"""

from shim.contract import cjson

RESIZE = "resize"
CLOSE_STDIN = "close_stdin"
START = "start"
MAX_LINE = 1 << 16  # the shim discards a longer line


def _check(command, value):
    """Return the argument of COMMAND with VALUE; raise ValueError if it is not one."""
    if command == RESIZE:
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(isinstance(n, int) and 0 < n < 65536 for n in value)):
            raise ValueError("resize needs [cols, rows], each 1..65535")
        return tuple(value)
    if command in (CLOSE_STDIN, START):
        if value is not True:
            raise ValueError(f"{command} needs true")
        return None
    raise ValueError(f"unknown command {command!r}")


def encode(command, value=True):
    """Return the line of COMMAND with VALUE ([cols, rows] for resize, else true)."""
    _check(command, value)
    return cjson.dumps({command: list(value) if command == RESIZE else value}).encode() + b"\n"


def decode(line):
    """Return (command, argument) of one control line; raise ValueError if malformed."""
    obj = cjson.loads(line)
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ValueError("expected an object with one key")
    (command, value), = obj.items()
    return command, _check(command, value)
