"""The terminal: receive the PTY master over the console socket, set its size.

runc connects to --console-socket and sends the master fd with SCM_RIGHTS
(runc's docs/terminals.md). The socket lives in the process directory; the
runtime reaches it through /proc/self/fd (see spawn.CONSOLE_SOCKET_ARG).
"""

import os

from shim.contract import layout

# From <asm-generic/ioctls.h>; avoids importing termios in the long-lived shim.
TIOCSWINSZ = 0x5414
TIOCSCTTY = 0x540E


class ConsoleSocket:
    """Listen on PROC_DIR/console.sock and keep the first master fd received."""

    def __init__(self, loop, proc_dir, log):
        import socket  # here, not at the top: native.py needs only the constants
        self._socket = socket
        self.loop = loop
        self.path = os.path.join(proc_dir, layout.CONSOLE_SOCKET)
        self.main_fd = None
        self.error = None
        self._log = log
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        # Bound by a relative name (our cwd is the process directory): sun_path
        # is limited to 108 bytes.
        self.sock.bind(layout.CONSOLE_SOCKET)
        os.chmod(layout.CONSOLE_SOCKET, 0o600)
        self.sock.listen(1)
        self.sock.setblocking(False)
        loop.add_reader(self.sock.fileno(), self.accept_console)

    def accept_console(self):
        """Accept the runtime's connection and take the master fd it sends."""
        try:
            conn, _addr = self.sock.accept()
        except BlockingIOError:
            return
        with conn:
            conn.settimeout(10)
            try:
                _msg, fds, _flags, _addr = self._socket.recv_fds(conn, 4096, 1)
            except OSError as err:
                self.error = f"receive terminal from console socket {self.path}: {err}"
                return
        if not fds:
            self.error = f"receive terminal from console socket {self.path}: no fd sent"
            return
        self.main_fd = fds[0]
        os.set_inheritable(self.main_fd, False)
        os.set_blocking(self.main_fd, False)
        self.close()

    def close(self):
        """Stop listening and remove the socket file."""
        if self.sock is not None:
            self.loop.forget_fd(self.sock.fileno())
            self.sock.close()
            self.sock = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


def set_winsize(fd, cols, rows):
    """Set the terminal size of FD (the PTY master) to COLS x ROWS."""
    import fcntl
    import struct
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
