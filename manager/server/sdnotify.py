"""systemd's readiness protocol (sd_notify): a datagram to $NOTIFY_SOCKET, stdlib only."""

import logging
import os
import socket

log = logging.getLogger("tether.sdnotify")


def notify_address(value):
    """Return the socket address of a NOTIFY_SOCKET VALUE, or None if unusable.

    `/path` is a filesystem socket; `@name` is an abstract one (a leading NUL
    byte on the wire). Anything else (vsock:...) is not supported here.
    """
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def notify(message, environ=None):
    """Send MESSAGE (e.g. "READY=1") to systemd; return True if sent, False without systemd."""
    value = (os.environ if environ is None else environ).get("NOTIFY_SOCKET")
    address = notify_address(value)
    if address is None:
        if value:
            log.warning("ignore NOTIFY_SOCKET %r: only /path and @abstract are supported", value)
        return False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(address)
        sock.sendall(message.encode())
    except OSError as err:
        # Readiness is a courtesy to systemd: failing it must not stop the manager.
        log.warning("notify systemd at %s: %s", value, err.strerror or err)
        return False
    finally:
        sock.close()
    return True
