"""Start shims: `tether-shim ... --sync-fd N`, and read their one-line start-up result."""

import asyncio
import os

from shim.contract import argv as argv_table, startup

from manager.spawn import helper, helper_client

START_TIMEOUT = 120.0


class LaunchError(Exception):
    """The shim (or the runtime under it) failed to start the process."""

    def __init__(self, message, exit_code=startup.EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


def shim_command(entry="main"):
    """Return the argv prefix that runs the shim (see helper.shim_command)."""
    return helper.shim_command(entry)


def shim_argv(container_id, bundle, proc_dir, runtime, runtime_root, tty=False,
              stdin=False, console_size=None, process_file=None, start=False, log=None):
    """Return the shim's argv for one process (init, or an exec with PROCESS_FILE)."""
    values = {"id": container_id, "bundle": bundle, "state_dir": proc_dir,
              "runtime": runtime or "runc",
              "runtime_root": None if runtime == "native" else runtime_root,
              "exec": process_file is not None, "process": process_file,
              "tty": tty, "stdin": stdin, "console_size": console_size or None, "start": start}
    if log and log.get("max_size"):
        values.update(log_max_size=log["max_size"], log_max_files=log.get("max_files") or 1)
    return [*shim_command(), *argv_table.build_argv(values)]


def parse_result(line, returncode):
    """Return the start-up result dict; LaunchError for a failure or a missing line."""
    if not line.strip():
        if returncode is None:  # forked by the zygote: there is no starter's status
            raise LaunchError("start shim: it ended without a start-up result")
        raise LaunchError(f"start shim: exited with status {returncode} "
                          "without a start-up result")
    try:
        result = startup.decode_result(line)
    except ValueError as err:
        raise LaunchError(f"start shim: {err}") from err
    if not result["ok"]:
        code = result.get("exit_code")
        raise LaunchError(str(result.get("error") or "start shim: failed"),
                          code if code in startup.EXIT_CODES else startup.EXIT_FAILED)
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


async def launch(argv, helper=None, timeout=START_TIMEOUT):
    """Start the shim of ARGV (from shim_argv) through the spawner HELPER, else directly."""
    if helper is not None:
        try:
            status, line = await helper.start_shim(argv[len(shim_command()):], timeout)
        except helper_client.SpawnerGone:
            pass
        except OSError as err:
            raise LaunchError(str(err)) from err
        else:
            return parse_result(line, status)
    return await launch_shim(argv, timeout)


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
            *argv, *helper.sync_options(write_fd), pass_fds=(write_fd,),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
    except OSError as err:
        os.close(read_fd)
        raise LaunchError(f"start shim {argv[0]}: {err.strerror}") from err
    finally:
        os.close(write_fd)
    return await wait_result(starter, read_fd, timeout)
