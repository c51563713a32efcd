"""The attach stream's frames (docs/api.md, "Attach stream"), for the manager and its clients.

A frame is a type byte, a 4-byte big-endian payload length, then the payload.
Client to manager: STDIN (bytes for the process) and CLOSE_STDIN; manager to
client: STDOUT, STDERR, then EXIT (JSON {"exit_code": N}) or ERROR (text),
after which the stream ends. Stdlib only and import-light (the CLI uses it).
"""

import struct

from shim.contract import cjson

STDIN, STDOUT, STDERR, EXIT, CLOSE_STDIN, ERROR = range(6)
HEADER = struct.Struct(">BI")
MAX_FRAME = 1 << 20  # the manager refuses a longer frame from a client


def encode_frame(kind, payload=b""):
    """Return one frame: type byte, big-endian length, payload."""
    return HEADER.pack(kind, len(payload)) + payload


def decode_header(header):
    """Return (type, payload length) of the HEADER.size bytes HEADER."""
    return HEADER.unpack(header)


def encode_exit(exit_code):
    """Return the payload of an exit frame."""
    return cjson.dumps({"exit_code": exit_code}).encode()


def decode_exit(payload):
    """Return the exit code of an exit frame's payload; ValueError if malformed."""
    try:
        code = cjson.loads(payload)["exit_code"]
    except (KeyError, TypeError) as err:
        raise ValueError(f"malformed exit frame {payload[:80]!r}") from err
    if not isinstance(code, int):
        raise ValueError(f"malformed exit frame {payload[:80]!r}")
    return code


class FrameReader:
    """Split a byte stream into (type, payload) frames."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        """Add DATA; return the frames it completed."""
        self.buf += data
        frames = []
        while len(self.buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.buf)
            end = HEADER.size + length
            if len(self.buf) < end:
                break
            frames.append((kind, bytes(self.buf[HEADER.size:end])))
            del self.buf[:end]
        return frames
