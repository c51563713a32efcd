"""The shim's one event loop: epoll, no threads.

select.epoll directly, not selectors: selectors imports collections, math and
namedtuple, ~0.5 MB of private memory in every shim (bench/CHANGES.md).
"""

import select
import time

_READ = select.EPOLLIN
_WRITE = select.EPOLLOUT
# Readiness that a reader (or a writer) must see: hang-up and error end a stream.
_READ_READY = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR
_WRITE_READY = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR


class Loop:
    """Dispatch fd readiness and timers to callbacks; a failing callback is logged and dropped."""

    def __init__(self, log):
        self._epoll = select.epoll()
        self._callbacks = {}  # fd -> [reader, writer]
        self._timers = []  # [(monotonic deadline, callback)]: a few at most, one per pump
        self._deferred = []  # callbacks for the next turn, before it waits
        self._deferred_error = None
        self._log = log

    def _update(self, fd, index, callback):
        callbacks = self._callbacks.get(fd)
        registered = callbacks is not None
        callbacks = list(callbacks) if registered else [None, None]
        callbacks[index] = callback
        mask = (_READ if callbacks[0] else 0) | (_WRITE if callbacks[1] else 0)
        if registered and mask:
            self._epoll.modify(fd, mask)
        elif registered:
            self._epoll.unregister(fd)
        elif mask:
            self._epoll.register(fd, mask)
        if mask:
            self._callbacks[fd] = callbacks
        else:
            self._callbacks.pop(fd, None)

    def add_reader(self, fd, callback):
        """Call CALLBACK() whenever FD is readable."""
        self._update(fd, 0, callback)

    def remove_reader(self, fd):
        """Stop watching FD for reading."""
        self._update(fd, 0, None)

    def add_writer(self, fd, callback):
        """Call CALLBACK() whenever FD is writable."""
        self._update(fd, 1, callback)

    def remove_writer(self, fd):
        """Stop watching FD for writing."""
        self._update(fd, 1, None)

    def forget_fd(self, fd):
        """Stop watching FD at all (call before closing it)."""
        if self._callbacks.pop(fd, None) is not None:
            try:
                self._epoll.unregister(fd)
            except (OSError, ValueError):
                pass

    def call_later(self, delay, callback):
        """Call CALLBACK() once, DELAY seconds from now."""
        self._timers.append((time.monotonic() + delay, callback))

    def defer(self, callback):
        """Call CALLBACK() at the next turn, before waiting: work that overlaps a child's run."""
        self._deferred.append(callback)

    def run_deferred(self):
        """Call what is still deferred now; raise the first failure of a deferred call."""
        self._call_deferred()
        err, self._deferred_error = self._deferred_error, None
        if err is not None:
            raise err

    def _call_deferred(self):
        # A failure is kept for run_deferred: raised inside a wait for the runtime,
        # it would undo the container while the runtime still creates it.
        while self._deferred:
            callback = self._deferred.pop(0)
            try:
                callback()
            except Exception as err:
                if self._deferred_error is None:
                    self._deferred_error = err

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
        if self._deferred:
            self._call_deferred()
        if self._timers:
            now = time.monotonic()
            first = min(deadline for deadline, _callback in self._timers) - now
            timeout = first if timeout is None else min(timeout, first)
        try:
            events = self._epoll.poll(-1 if timeout is None else max(timeout, 0))
        except InterruptedError:
            events = ()
        for fd, mask in events:
            callbacks = self._callbacks.get(fd)
            if callbacks is None:
                continue  # an earlier callback unregistered it
            reader, writer = callbacks
            # An earlier callback may have unregistered or replaced this fd's callbacks.
            if mask & _READ_READY and reader and self._still_watched(fd, 0, reader):
                self._call(reader, fd)
            if mask & _WRITE_READY and writer and self._still_watched(fd, 1, writer):
                self._call(writer, fd)
        if self._timers:
            self._run_timers()

    def _run_timers(self):
        """Call the timers that are due; those they add wait for the next round."""
        now = time.monotonic()
        due = [timer for timer in self._timers if timer[0] <= now]
        if due:
            self._timers = [timer for timer in self._timers if timer[0] > now]
            for _deadline, callback in due:
                self._call(callback, None)

    def _still_watched(self, fd, index, callback):
        callbacks = self._callbacks.get(fd)
        return callbacks is not None and callbacks[index] is callback

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
        """Release the epoll fd."""
        self._epoll.close()
