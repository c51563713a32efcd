"""The shim's one event loop: selectors (epoll), no threads."""

import selectors
import time

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


class Loop:
    """Dispatch fd readiness to callbacks; a failing callback is logged and dropped."""

    def __init__(self, log):
        self._selector = selectors.DefaultSelector()
        self._log = log

    def _update(self, fd, mask_bit, callback):
        try:
            key = self._selector.get_key(fd)
        except KeyError:
            key = None
        callbacks = list(key.data) if key else [None, None]
        callbacks[0 if mask_bit == _READ else 1] = callback
        mask = (_READ if callbacks[0] else 0) | (_WRITE if callbacks[1] else 0)
        if key and mask:
            self._selector.modify(fd, mask, callbacks)
        elif key:
            self._selector.unregister(fd)
        elif mask:
            self._selector.register(fd, mask, callbacks)

    def add_reader(self, fd, callback):
        """Call CALLBACK() whenever FD is readable."""
        self._update(fd, _READ, callback)

    def remove_reader(self, fd):
        """Stop watching FD for reading."""
        self._update(fd, _READ, None)

    def add_writer(self, fd, callback):
        """Call CALLBACK() whenever FD is writable."""
        self._update(fd, _WRITE, callback)

    def remove_writer(self, fd):
        """Stop watching FD for writing."""
        self._update(fd, _WRITE, None)

    def forget_fd(self, fd):
        """Stop watching FD at all (call before closing it)."""
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError):
            pass

    def _call(self, callback, fd):
        """Run one callback; log and unregister its fd if it fails."""
        try:
            callback()
        except Exception as err:  # the loop survives a broken callback (STYLE: Errors)
            self._log("error", f"callback {getattr(callback, '__qualname__', callback)} "
                      f"failed: {err!r}", fd=fd)
            if fd is not None:
                self.forget_fd(fd)

    def run_once(self, timeout=None):
        """Wait up to TIMEOUT seconds (None: forever) and dispatch what is ready."""
        events = self._selector.select(timeout)
        for key, mask in events:
            reader, writer = key.data
            # An earlier callback may have unregistered or replaced this fd.
            if mask & _READ and reader and self._still_watched(key.fd, 0, reader):
                self._call(reader, key.fd)
            if mask & _WRITE and writer and self._still_watched(key.fd, 1, writer):
                self._call(writer, key.fd)

    def _still_watched(self, fd, index, callback):
        try:
            return self._selector.get_key(fd).data[index] is callback
        except KeyError:
            return False

    def run_until(self, condition, timeout=None):
        """Run until CONDITION() is true (return True) or TIMEOUT seconds pass (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not condition():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self.run_once(left)
        return True

    def close(self):
        """Release the selector."""
        self._selector.close()
