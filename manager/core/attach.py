"""The attach stream: output frames from the persisted log, stdin frames into the FIFO."""

import asyncio
import errno
import logging
import os

from shim.contract import frames, layout

from manager.core import output, model
from manager.spawn import runtime

log = logging.getLogger("tether.attach")



class FrameError(Exception):
    """The client sent a malformed frame."""


async def read_frame(reader):
    """Return the next (type, payload) from READER, or None at EOF."""
    try:
        header = await reader.readexactly(frames.HEADER.size)
    except asyncio.IncompleteReadError as err:
        if err.partial:
            raise FrameError("read frame: truncated header") from err
        return None
    kind, length = frames.decode_header(header)
    if length > frames.MAX_FRAME:
        raise FrameError(f"read frame: {length} bytes is over the limit of {frames.MAX_FRAME}")
    try:
        return kind, await reader.readexactly(length)
    except asyncio.IncompleteReadError as err:
        raise FrameError("read frame: truncated payload") from err


class FdWriter:
    """Write to a non-blocking fd from the loop, waiting while it is full (its pipe's reader lags)."""

    def __init__(self, fd=None):
        self.fd = fd
        if fd is not None:
            os.set_blocking(fd, False)

    def _open(self):
        raise ValueError("FdWriter: no fd to write to")

    async def write(self, data):
        """Write DATA, waiting for room in the pipe when it is full."""
        if self.fd is None:
            self._open()
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                await self._writable()

    async def _writable(self):
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_writer(self.fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_writer(self.fd)

    def close(self):
        """Close our end (the shim keeps its own)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class StdinWriter(FdWriter):
    """Write bytes into a process's stdin FIFO without ever blocking the loop."""

    def __init__(self, proc_dir):
        super().__init__()
        self.path = os.path.join(proc_dir, layout.STDIN)

    def _open(self):
        # The shim holds the FIFO open for reading, so O_NONBLOCK never gets ENXIO
        # while it runs; it does once the shim is gone.
        self.fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)


def close_stdin(service, proc):
    """Give PROC EOF on its stdin (its shim does, once queued input is written)."""
    service.tracker.stdin_closed(proc)  # the fd store's copy would hold the EOF back
    service.spawn.write_control(proc.dir, {"close_stdin": True})


async def pump_input(proc, reader, writer, service):
    """Forward stdin frames into the FIFO and close-stdin frames to the shim (close_stdin)."""
    stdin = StdinWriter(proc.dir)
    try:
        while True:
            frame = await read_frame(reader)
            if frame is None:
                return
            kind, payload = frame
            if kind == frames.STDIN and proc.stdin and payload:
                await stdin.write(payload)
            elif kind == frames.CLOSE_STDIN and proc.stdin:
                close_stdin(service, proc)
            elif kind not in (frames.STDIN, frames.CLOSE_STDIN):
                raise FrameError(f"read frame: unexpected type {kind}")
    except (FrameError, runtime.RuntimeFailure) as err:
        await send_error(writer, str(err))
    except OSError as err:
        if err.errno not in (errno.ENXIO, errno.EPIPE, errno.ENOENT):
            raise
        await send_error(writer, f"write stdin fifo {stdin.path}: {err.strerror}")
    finally:
        stdin.close()


async def send_error(writer, message):
    """Send an error frame (the stream ends after it)."""
    writer.write(frames.encode_frame(frames.ERROR, message.encode()[:4096]))
    await writer.drain()


async def pump_output(changes, proc, from_start, writer):
    """Send the process's output as frames, then its exit frame once it ended."""
    async for record in output.process_records(changes, proc, True, from_start=from_start):
        kind = frames.STDOUT if record.stream == "stdout" else frames.STDERR
        writer.write(frames.encode_frame(kind, record.payload()))
        await writer.drain()
    if proc.status == model.STOPPED:
        writer.write(frames.encode_frame(frames.EXIT, frames.encode_exit(proc.exit_code)))
    else:
        message = f"process is {proc.status}: {proc.error}".encode()
        writer.write(frames.encode_frame(frames.ERROR, message))
    await writer.drain()


async def serve_attach(changes, proc, from_start, reader, writer, service):
    """Run both directions until the process ended (exit frame sent) or the client left."""
    output = asyncio.ensure_future(pump_output(changes, proc, from_start, writer))
    inputs = asyncio.ensure_future(pump_input(proc, reader, writer, service))
    try:
        await asyncio.wait({output, inputs}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (output, inputs):
            task.cancel()
        for result in await asyncio.gather(output, inputs, return_exceptions=True):
            if isinstance(result, Exception) and not isinstance(result, ConnectionError):
                log.error("attach %s: %r", proc.dir, result)
