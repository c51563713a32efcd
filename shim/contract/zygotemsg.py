"""The zygote's command line and its requests (manager/spawn/helper.py -> shim.__main__.zygote).

The spawner starts `python -I -S -c BOOT FD ROOM` (boot.boot_command with
entry shim.__main__.zygote): FD is the zygote's end of a SOCK_SEQPACKET
socketpair, ROOM blanks of argument area that the forked shims' titles
overwrite (shim/proctitle.py). A request is one message: the shim's options
(argv.build_argv, without --sync-fd) as a JSON list of strings, with the
write end of the shim's sync pipe attached (SCM_RIGHTS).
"""

from shim.contract import cjson

TITLE_ROOM = 1024  # bytes of argument area for `tether-shim --id ...`
MAX_REQUEST = 1 << 16


def zygote_args(sock_fd):
    """Return the zygote's arguments after its boot command."""
    return [str(sock_fd), " " * TITLE_ROOM]


def encode_request(options):
    """Return the message that asks for a shim with OPTIONS."""
    data = cjson.dumps(list(options)).encode()
    if len(data) > MAX_REQUEST:
        raise ValueError(f"zygote request of {len(data)} bytes: over {MAX_REQUEST}")
    return data


def decode_request(data):
    """Return the options of a request; ValueError if it is not a JSON list of strings."""
    try:
        options = cjson.loads(data.decode())
    except UnicodeDecodeError as err:
        raise ValueError("zygote request: not UTF-8") from err
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise ValueError("zygote request: expected a JSON list of strings")
    return options
