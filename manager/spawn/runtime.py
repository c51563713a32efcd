"""Runtime operations: runc (and compatibles) as asyncio subprocesses, and `native`."""

import asyncio
import json
import os
import re
import signal

from shim.contract import controlline, layout

from manager.spawn import helper_client, launcher

RUNC_TIMEOUT = 60.0
_MSG_RE = re.compile(r'msg="((?:[^"\\]|\\.)*)"')


class RuntimeFailure(Exception):
    """The runtime refused or failed an operation (its own message)."""


class NotSupported(Exception):
    """The runtime cannot do this operation."""


def parse_signal(value):
    """Return the signal number for 9, "9", "KILL", "SIGKILL" or "sigkill"; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"invalid signal {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        number = int(value)
        if 1 <= number <= signal.SIGRTMAX:
            return number
        raise ValueError(f"invalid signal {value!r}: out of range 1-{int(signal.SIGRTMAX)}")
    if not isinstance(value, str):
        raise ValueError(f"invalid signal {value!r}")
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith("SIG_") or not hasattr(signal.Signals, "__members__") or \
            name not in signal.Signals.__members__:
        raise ValueError(f"invalid signal {value!r}: unknown name")
    return int(signal.Signals[name])


def runc_message(stderr):
    """Return runc's error message from its stderr (the msg= of its last log line)."""
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    if not lines:
        return "no error message"
    last = lines[-1]
    match = _MSG_RE.search(last)
    if match:
        return match.group(1).replace('\\"', '"')
    return last.strip()


def write_control(proc_dir, obj):
    """Write OBJ ({command: value}) as a control line (controlline) without blocking."""
    path = os.path.join(proc_dir, layout.CONTROL)
    (command, value), = obj.items()
    line = controlline.encode(command, value)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as err:
        raise RuntimeFailure(f"open control fifo {path}: {err.strerror}") from err
    try:
        # One line under PIPE_BUF is written atomically or not at all.
        os.write(fd, line)
    except OSError as err:
        raise RuntimeFailure(f"write control fifo {path}: {err.strerror}") from err
    finally:
        os.close(fd)


def signal_pid(pid, starttime, signum, what="process"):
    """Send SIGNUM to PID if it is still the process started at STARTTIME."""
    if pid is None or not layout.pid_alive(pid, starttime):
        raise ProcessLookupError(f"signal {what} {pid}: not running")
    os.kill(pid, signum)


def signal_group(pid, starttime, signum):
    """Send SIGNUM to the process group that PID (a native process) leads.

    The shim starts a native process in a session of its own, so its group is
    the "container": killing only the leader would orphan its children (a
    `sh -c 'cmd; sleep'` leaves the sleep running).
    """
    if pid is None or not layout.pid_alive(pid, starttime):
        raise ProcessLookupError(f"signal process {pid}: not running")
    if os.getpgid(pid) == pid:
        os.killpg(pid, signum)
    else:
        os.kill(pid, signum)


class Runc:
    """A runc-compatible CLI: BINARY with --root RUNTIME_ROOT, run through SPAWN's helper."""

    def __init__(self, binary, runtime_root, spawn=None):
        self.binary = binary
        self.root = runtime_root
        self.spawn = spawn

    async def run(self, *args, timeout=RUNC_TIMEOUT):
        """Run the runtime with ARGS; return stdout, raise RuntimeFailure with its message."""
        argv = [self.binary, "--root", self.root, *args]
        helper = self.spawn.helper if self.spawn is not None else None
        if helper is not None:
            try:
                status, out, err_out = await helper.run(argv, timeout)
            except OSError as err:
                raise RuntimeFailure(f"{self.binary} {args[0]}: {err}") from err
            except helper_client.SpawnerGone:
                pass  # run it directly
            else:
                if status != 0:
                    raise RuntimeFailure(f"{self.binary} {args[0]}: {runc_message(err_out)}")
                return out
        return await self._run_here(argv, args, timeout)

    async def _run_here(self, argv, args, timeout):
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True)
        except OSError as err:
            raise RuntimeFailure(f"run {self.binary}: {err.strerror}") from err
        try:
            out, err_out = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError as err:
            proc.kill()
            await proc.wait()
            raise RuntimeFailure(f"{self.binary} {args[0]}: timed out after {timeout}s") from err
        if proc.returncode != 0:
            raise RuntimeFailure(f"{self.binary} {args[0]}: {runc_message(err_out)}")
        return out

    async def start(self, proc):
        """Start the created init process."""
        await self.run("start", proc.container.id)

    async def kill(self, proc, signum, all_processes=False):
        """Signal the container's init process (or all its processes)."""
        extra = ["--all"] if all_processes else []
        await self.run("kill", *extra, proc.container.id, str(signum))

    async def pause(self, container):
        """Freeze the container."""
        await self.run("pause", container.id)

    async def resume(self, container):
        """Thaw the container."""
        await self.run("resume", container.id)

    async def delete(self, container, force=False):
        """Delete the runtime's container; a container runc does not know is fine."""
        try:
            await self.run("delete", *(["--force"] if force else []), container.id)
        except RuntimeFailure as err:
            if "does not exist" not in str(err) and "not found" not in str(err):
                raise

    async def state(self, container):
        """Return runc's state of the container as a dict, or None if runc does not know it."""
        try:
            out = await self.run("state", container.id)
        except RuntimeFailure:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    async def update(self, container, memory=None, cpus=None, pids_limit=None):
        """Change the container's limits (runc update); None leaves one as it is."""
        args = []
        if memory is not None:
            args += ["--memory", str(memory)]
        if cpus is not None:
            args += ["--cpu-period", "100000", "--cpu-quota", str(round(cpus * 100000))]
        if pids_limit is not None:
            args += ["--pids-limit", str(pids_limit)]
        await self.run("update", *args, container.id)

    async def checkpoint(self, container, image_path, leave_running=False):
        """Dump the container with CRIU into IMAGE_PATH (runc checkpoint)."""
        extra = ["--leave-running"] if leave_running else []
        await self.run("checkpoint", "--image-path", image_path, *extra, container.id)


class Native:
    """The native runtime: host processes, started and signalled by tether itself."""

    async def start(self, proc):
        """Start a created process: the shim waits for the control line."""
        write_control(proc.dir, {"start": True})

    async def kill(self, proc, signum, all_processes=False):
        """Signal the process and its group (checking its start time against pid reuse)."""
        try:
            signal_group(proc.pid, proc.starttime, signum)
        except ProcessLookupError as err:
            raise RuntimeFailure(str(err)) from err

    async def pause(self, container):
        """Stop the init process with SIGSTOP."""
        await self.kill(container.init, signal.SIGSTOP)

    async def resume(self, container):
        """Continue the init process with SIGCONT."""
        await self.kill(container.init, signal.SIGCONT)

    async def delete(self, container, force=False):
        """Nothing to delete outside the state directory."""
        if force and container.init.pid and layout.pid_alive(container.init.pid,
                                                            container.init.starttime):
            signal_group(container.init.pid, container.init.starttime, signal.SIGKILL)

    async def state(self, container):
        """Return a runc-like state from /proc: paused when the process is stopped."""
        init = container.init
        if not init.pid or not layout.pid_alive(init.pid, init.starttime):
            return None
        try:
            with open(f"/proc/{init.pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return None
        code = stat[stat.rindex(b")") + 2:][:1]
        # Created and running look alike in /proc: only "paused" is news here
        # (times.json's started_at tells created from running).
        return {"status": "paused", "pid": init.pid} if code in (b"T", b"t") else {}


class Spawn:
    """The machinery the core starts and drives processes with (the core's one collaborator).

    HELPER is the manager's spawner helper (manager/spawn/helper_client.py), set
    once the manager serves; while it is None (or gone), runtime commands and
    shims are run directly. Unit tests of the core pass a fake with the same
    methods instead.
    """

    def __init__(self, runtime_root, helper=None):
        self.runtime_root = runtime_root
        self.helper = helper

    def runtime(self, container):
        """Return the runtime object for CONTAINER's runtime name or path."""
        if container.runtime == "native":
            return Native()
        binary = "runc" if container.runtime in (None, "runc") else container.runtime
        return Runc(binary, self.runtime_root, self)

    async def launch(self, argv):
        """Start the shim of ARGV (launcher.shim_argv); return its start-up result."""
        return await launcher.launch(argv, self.helper)

    def shim_argv(self, container_id, bundle, proc_dir, runtime, **options):
        """Return the argv that starts a shim for PROC_DIR (launcher.shim_argv)."""
        return launcher.shim_argv(container_id, bundle, proc_dir, runtime, self.runtime_root,
                                  **options)

    def signal_pid(self, pid, starttime, signum, what="process"):
        """Send SIGNUM to PID if it is still the process that started at STARTTIME."""
        signal_pid(pid, starttime, signum, what)

    def write_control(self, proc_dir, obj):
        """Send one control line to the shim of PROC_DIR."""
        write_control(proc_dir, obj)
