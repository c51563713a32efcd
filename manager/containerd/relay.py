"""A process's stdio between Tether's shim and containerd's targets (FIFOs, file://, binary://).

Output is read from the shim's persisted log (output.log, as `tether attach`
reads it): nothing the process wrote before the relay was set up is lost,
and an exec's first bytes are there too. It is written to containerd's
stdout/stderr targets and those are closed once the process ended and its
log is drained: ctr's copy loops end at that EOF.
- a FIFO is opened O_RDWR (never ENXIO, never EPIPE when ctr comes and goes);
  writes wait for it to be writable, so a reader that stops reading stalls
  only the relay, never the container (the shim logs everything).
- `file:///PATH`: the raw output is appended to PATH.
- `binary:///PATH?k=v`: containerd's logging protocol: PATH runs with the
  stdout pipe on fd 3, stderr on fd 4 and a pipe on fd 5 it closes when
  ready; CONTAINER_ID and CONTAINER_NAMESPACE in its environment.
Stdin: containerd's FIFO is opened O_RDONLY|O_NONBLOCK and copied into the
shim's stdin FIFO. Its EOF (the last writer closed it: ctr attach's ^D) or
CloseIO drains it and closes the process's stdin through the shim's control
FIFO, as containerd's runc shim does. (A FIFO nobody ever opened for writing
polls neither readable nor hung up on Linux, so no false EOF comes first.)
"""

import asyncio
import errno
import logging
import os
import subprocess
import urllib.parse

from manager.core import attach, output
from manager.spawn import runtime

log = logging.getLogger("tether.containerd.relay")

CHUNK = 1 << 16


class RelayError(Exception):
    """A stdio target that cannot be used."""


def open_target(uri, what):
    """Return a writable fd for containerd's stdio target URI; RelayError if impossible."""
    parsed = urllib.parse.urlparse(uri)
    try:
        if parsed.scheme == "file":
            path = urllib.parse.unquote(parsed.path)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        if parsed.scheme in ("", "fifo"):
            return os.open(parsed.path if parsed.scheme else uri,
                           os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise RelayError(f"open {what} {uri}: {err.strerror}") from err
    raise RelayError(f"open {what} {uri}: unsupported scheme {parsed.scheme!r}")


class Logger:
    """A binary:// logging process and the write ends of its pipes."""

    def __init__(self, uri, container_id, namespace):
        parsed = urllib.parse.urlparse(uri)
        args = [f"{k}={v}" if v else k for k, v in urllib.parse.parse_qsl(parsed.query, True)]
        out_r, self.out_fd = os.pipe2(os.O_CLOEXEC)
        err_r, self.err_fd = os.pipe2(os.O_CLOEXEC)
        ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        env = dict(os.environ, CONTAINER_ID=container_id, CONTAINER_NAMESPACE=namespace)

        def fds():
            for n, fd in enumerate((out_r, err_r, ready_w)):
                os.dup2(fd, 3 + n)
        try:
            self.proc = subprocess.Popen([urllib.parse.unquote(parsed.path), *args],
                                         preexec_fn=fds, pass_fds=(3, 4, 5), env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as err:
            for fd in (out_r, err_r, ready_r, ready_w, self.out_fd, self.err_fd):
                os.close(fd)
            raise RelayError(f"start logging binary {parsed.path}: {err.strerror}") from err
        for fd in (out_r, err_r, ready_w):
            os.close(fd)
        self.ready_fd = ready_r

    async def wait_ready(self):
        """Wait until the logger closed its ready pipe."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, os.read, self.ready_fd, 1)
        os.close(self.ready_fd)


# stdio targets are written as the core's attach writes a FIFO.
Writer = attach.FdWriter


class ProcessIO:
    """The relays of one process (init or exec)."""

    def __init__(self, proc, changes, stdin, stdout, stderr, terminal, names):
        self.proc = proc
        self.changes = changes
        self.uris = (stdin, stdout, stderr)
        self.terminal = terminal
        self.names = names  # (container id, namespace) for binary://
        self.out = self.err = None
        self.stdin_fd = None
        self.tasks = []
        self.logger = None
        self.files = {}  # stream -> [path, its size at open] of each file:// target

    async def open(self):
        """Open containerd's targets (before the process starts); RelayError."""
        stdin, stdout, stderr = self.uris
        try:
            if stdout.startswith("binary://"):
                self.logger = Logger(stdout, *self.names)
                await self.logger.wait_ready()
                self.out, self.err = Writer(self.logger.out_fd), Writer(self.logger.err_fd)
            else:
                if stdout:
                    self.out = Writer(self._open("stdout", stdout))
                if stderr and not self.terminal:
                    self.err = Writer(self._open("stderr", stderr)) if stderr != stdout \
                        else self.out
            if stdin:
                self.stdin_fd = os.open(stdin, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as err:
            self.close()
            raise RelayError(f"open stdin {stdin}: {err.strerror}") from err
        except RelayError:
            self.close()
            raise

    def _open(self, stream, uri):
        fd = open_target(uri, stream)
        if uri.startswith("file:"):
            self.files[stream] = [urllib.parse.unquote(urllib.parse.urlparse(uri).path),
                                  os.fstat(fd).st_size]
        return fd

    def relay_record(self):
        """Return what `delete` needs to finish the file:// relay without us (or None).

        {"files": {stream: [path, size at open]}, "merged": stderr goes to
        stdout's target}: the bytes relayed so far are a file's growth since
        (only this relay writes it); cleanup.finish_relay copies the rest of
        output.log when the serving process died before it did.
        """
        if not self.files:
            return None
        return {"files": self.files, "merged": self.err is None or self.err is self.out}

    def start(self):
        """Start copying (the process's shim exists)."""
        if self.out is not None or self.err is not None:
            self.tasks.append(asyncio.ensure_future(self._pump_output()))
        if self.stdin_fd is not None:
            self.stdin = attach.StdinWriter(self.proc.dir)
            asyncio.get_running_loop().add_reader(self.stdin_fd, self._on_stdin)
            self.pending_stdin = asyncio.ensure_future(asyncio.sleep(0))

    @property
    def done(self):
        return all(t.done() for t in self.tasks)

    async def wait_output(self, timeout):
        """Wait up to TIMEOUT for the output to be relayed."""
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=timeout)

    async def _pump_output(self):
        try:
            async for record in output.process_records(self.changes, self.proc, True):
                target = self.out if record.stream == "stdout" or self.err is None else self.err
                if target is not None:
                    await target.write(record.payload())
        except OSError as err:
            log.warning("relay output of %s: %s", self.proc.dir, err)
        finally:
            self._close_output()

    def _on_stdin(self):
        try:
            data = os.read(self.stdin_fd, CHUNK)
        except BlockingIOError:
            return
        except OSError as err:
            log.warning("read stdin of %s: %s", self.proc.dir, err)
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.stdin_fd)
            self.closing = asyncio.ensure_future(self.close_stdin())
            return
        previous = self.pending_stdin
        self.pending_stdin = asyncio.ensure_future(self._write_stdin(previous, data))

    async def _write_stdin(self, previous, data):
        await previous
        try:
            await self.stdin.write(data)
        except OSError as err:
            if err.errno not in (errno.ENXIO, errno.EPIPE, errno.ENOENT):
                log.warning("write stdin of %s: %s", self.proc.dir, err)

    async def close_stdin(self):
        """Copy what is left in containerd's stdin FIFO, then close the process's stdin."""
        fd, self.stdin_fd = self.stdin_fd, None  # once: EOF and CloseIO both come
        if fd is None:
            return
        asyncio.get_running_loop().remove_reader(fd)
        while True:
            try:
                data = os.read(fd, CHUNK)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            self.pending_stdin = asyncio.ensure_future(self._write_stdin(self.pending_stdin, data))
        os.close(fd)
        await self.pending_stdin
        self.stdin.close()
        try:
            runtime.write_control(self.proc.dir, {"close_stdin": True})
        except runtime.RuntimeFailure as err:
            log.info("close stdin of %s: %s", self.proc.dir, err)

    def _close_output(self):
        for writer in {id(w): w for w in (self.out, self.err) if w is not None}.values():
            writer.close()
        self.out = self.err = None

    def close(self):
        """Stop every relay and close every fd."""
        for task in self.tasks:
            task.cancel()
        self._close_output()
        if self.stdin_fd is not None:
            try:
                asyncio.get_running_loop().remove_reader(self.stdin_fd)
            except RuntimeError:
                pass
            os.close(self.stdin_fd)
            self.stdin_fd = None
