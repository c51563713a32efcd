"""Start shims: `tether-shim ... --sync-fd N`, and read their one-line start-up result."""

import asyncio
import json
import logging
import os
import sys

log = logging.getLogger("tether.launcher")

START_TIMEOUT = 120.0


class LaunchError(Exception):
    """The shim (or the runtime under it) failed to start the process."""

    def __init__(self, message, exit_code=125):
        super().__init__(message)
        self.exit_code = exit_code


def shim_command(entry="main"):
    """Return the argv prefix that runs the shim: our interpreter, isolated, without site."""
    # `python -I -S` skips site and the console script (an editable install's
    # finder among them): ~60 ms less per start, and no re-exec into a lean
    # interpreter later. The shim is stdlib only; BOOT puts its package first.
    import shim
    parent = os.path.dirname(os.path.dirname(os.path.abspath(shim.__file__)))
    boot = (f"import sys; sys.path[:0] = [{parent!r}]; "
            f"from shim.__main__ import {entry}; sys.exit({entry}())")
    return [sys.executable, "-I", "-S", "-c", boot]


def shim_argv(container_id, bundle, proc_dir, runtime, runtime_root, tty=False,
              stdin=False, console_size=None, process_file=None, start=False, log=None):
    """Return the shim's argv for one process (init, or an exec with PROCESS_FILE)."""
    argv = [*shim_command(), "--id", container_id, "--bundle", bundle,
            "--state-dir", proc_dir, "--runtime", runtime or "runc"]
    if runtime != "native":
        argv += ["--runtime-root", runtime_root]
    if process_file is not None:
        argv += ["--exec", "--process", process_file]
    if tty:
        argv.append("--tty")
    if stdin:
        argv.append("--stdin")
    if console_size:
        argv += ["--console-size", f"{int(console_size[0])}x{int(console_size[1])}"]
    if start:
        argv.append("--start")
    if log and log.get("max_size"):
        argv += ["--log-max-size", str(log["max_size"]),
                 "--log-max-files", str(log.get("max_files") or 1)]
    return argv


def parse_result(line, returncode):
    """Return the start-up result dict; LaunchError for a failure or a missing line."""
    if not line.strip():
        raise LaunchError(f"start shim: exited with status {returncode} "
                          "without a start-up result")
    try:
        result = json.loads(line)
    except ValueError as err:
        raise LaunchError(f"start shim: malformed start-up result {line[:200]!r}") from err
    if not isinstance(result, dict):
        raise LaunchError(f"start shim: malformed start-up result {line[:200]!r}")
    if not result.get("ok"):
        code = result.get("exit_code")
        raise LaunchError(str(result.get("error") or "start shim: failed"),
                          code if code in (125, 126, 127) else 125)
    if not isinstance(result.get("shim_pid"), int):
        raise LaunchError(f"start shim: result without shim_pid {line[:200]!r}")
    return result


async def read_line(read_fd, timeout):
    """Read one line from READ_FD (non-blocking, on the loop); '' at EOF."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0))
    try:
        return (await asyncio.wait_for(reader.readline(), timeout)).decode(errors="replace")
    finally:
        transport.close()


class Standby:
    """A shim interpreter started ahead of need; it waits for its argv on a pipe."""

    def __init__(self, process, read_fd, write_fd):
        self.process = process
        self.read_fd = read_fd  # the start-up result comes back here
        self.write_fd = write_fd  # the number the standby knows its sync fd by

    @classmethod
    async def spawn(cls):
        """Start a standby shim (imports done while nobody waits)."""
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        try:
            process = await asyncio.create_subprocess_exec(
                *shim_command("standby"), pass_fds=(write_fd,),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return cls(process, read_fd, write_fd)

    async def launch(self, argv, timeout):
        """Hand ARGV (the shim's options) over; return the result as launch_shim does."""
        line = json.dumps([*argv, "--sync-fd", str(self.write_fd), "--fork-detach"])
        try:
            self.process.stdin.write(line.encode() + b"\n")
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            await self.close()
            raise
        self.process.stdin.close()
        return await wait_result(self.process, self.read_fd, timeout)

    async def close(self):
        """Let the standby go (EOF on its stdin ends it) and reap it."""
        os.close(self.read_fd)
        self.process.stdin.close()
        await self.process.wait()


class Launcher:
    """Start shims, through a standby when one is ready (one is kept ahead)."""

    def __init__(self):
        self.standby = None
        self._refill = None
        self.closed = False

    def prepare(self):
        """Start a standby in the background unless one is there or on its way."""
        if self.closed or self.standby is not None or self._refill is not None:
            return
        self._refill = asyncio.ensure_future(self._spawn_standby())

    async def _spawn_standby(self):
        try:
            self.standby = await Standby.spawn()
        except OSError as err:
            log.warning("start a standby shim: %s", err.strerror)
        finally:
            self._refill = None
        if self.closed and self.standby is not None:
            await self.close()

    async def launch(self, argv, timeout=START_TIMEOUT):
        """Run the shim of ARGV (from shim_argv); return its result or raise LaunchError."""
        standby, self.standby = self.standby, None
        try:
            if standby is None or standby.process.returncode is not None:
                if standby is not None:
                    os.close(standby.read_fd)
                return await launch_shim(argv, timeout)
            try:
                return await standby.launch(argv[len(shim_command()):], timeout)
            except (BrokenPipeError, ConnectionResetError):
                # It died before it read the argv: nothing was started, start directly.
                return await launch_shim(argv, timeout)
        finally:
            # The next standby starts after this launch: not beside it, on 2 cores.
            self.prepare()

    async def close(self):
        """Stop keeping a standby; end the one there is."""
        self.closed = True
        if self._refill is not None:
            await asyncio.shield(self._refill)
        standby, self.standby = self.standby, None
        if standby is not None:
            await standby.close()


async def wait_result(process, read_fd, timeout):
    """Read the start-up result from READ_FD and reap the starter PROCESS."""
    try:
        line = await read_line(read_fd, timeout)
    except asyncio.TimeoutError as err:
        try:
            process.kill()
        except ProcessLookupError:
            pass
        raise LaunchError(f"start shim: no start-up result within {timeout}s") from err
    finally:
        await process.wait()
    return parse_result(line, process.returncode)


async def launch_shim(argv, timeout=START_TIMEOUT):
    """Run the shim; return its result {"shim_pid", "pid"} or raise LaunchError."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        # The starter exits once the shim has detached (double fork): the shim
        # is never our child, so we reap only this short-lived process.
        starter = await asyncio.create_subprocess_exec(
            # --fork-detach: started in a session of its own with stdio on
            # /dev/null, the shim detaches with one fork, not python-daemon.
            *argv, "--sync-fd", str(write_fd), "--fork-detach", pass_fds=(write_fd,),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
    except OSError as err:
        os.close(read_fd)
        raise LaunchError(f"start shim {argv[0]}: {err.strerror}") from err
    finally:
        os.close(write_fd)
    return await wait_result(starter, read_fd, timeout)
