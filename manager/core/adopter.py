"""Rescue a process whose shim died: adopt it, record its exit, or say it is unknown.

The manager's side of re-adoption (docs/durability.md). While a shim lives,
collect() copies the fds that carry its process's stdio into the fd store
(from the shim's fds.json record, and by matching the process's fds 0-2
with the shim's in /proc: its pipes, and a terminal's master that a shim of
contract 0 did not record), with a pidfd of the process. When the
shim is gone without an exit status, rescue() gathers the facts, decides
(adoption.decide) and acts: it starts shim.adopt with the stored fds
inherited, writes the exit status it read, or reports what it cannot know.
"""

import asyncio
import logging
import os
import sys

from shim.contract import exitreserve, layout, outkeep, pidexit, startup

from manager.core import adoption, fdstore

log = logging.getLogger("tether.adopter")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOT = (f"import sys; sys.path[:0] = [{REPO!r}]; "
        "from shim.adopt import main; sys.exit(main())")
START_TIMEOUT = 10.0
# With stdin's write end: the process sees no EOF when its shim dies. The
# copy is closed when stdin is closed (stdin_closed), and not taken once the
# shim wrote .stdin-closed: a copy kept would hold back the EOF.
STDIO = ((0, "stdin", os.O_WRONLY), (1, "stdout", os.O_RDONLY), (2, "stderr", os.O_RDONLY))
OUTPUTS = ("stdout", "stderr", "terminal")


def key_of(proc):
    """Return the fd store's key of PROC."""
    return (proc.container.id, proc.name)


def stdio_ends(shim_pid, container_pid):
    """Return name -> fd number in the shim of the process's stdio.

    The pipes that are the process's fds 0-2, matched by inode; and, for a
    terminal, the PTY master whose tty-index is the process's /dev/pts/N (a
    shim records it in fds.json, but one of contract 0 wrote none).
    """
    wanted, pts = {}, None
    for number, name, mode in STDIO:
        try:
            link = os.readlink(f"/proc/{container_pid}/fd/{number}")
        except OSError:
            continue
        if link.startswith("pipe:"):
            wanted[link] = (name, mode)
        elif link.startswith("/dev/pts/") and pts is None:
            pts = link[len("/dev/pts/"):]
    found = {}
    try:
        numbers = os.listdir(f"/proc/{shim_pid}/fd")
    except OSError:
        return found
    for fd in numbers:
        try:
            link = os.readlink(f"/proc/{shim_pid}/fd/{fd}")
            if link in wanted:
                name, mode = wanted[link]
            elif pts is not None and link.endswith("ptmx"):
                name, mode = "terminal", os.O_RDWR
            else:
                continue
            with open(f"/proc/{shim_pid}/fdinfo/{fd}") as f:
                info = f.read()
            flags = int(info.split("flags:")[1].split()[0], 8)
            if name == "terminal" and f"tty-index:\t{pts}\n" not in info:
                continue
        except (OSError, IndexError, ValueError):
            continue
        if flags & os.O_ACCMODE == mode:
            found.setdefault(name, int(fd))
    return found


def process_state(pid, starttime):
    """Return "alive", "zombie" or "gone" for the process PID of STARTTIME."""
    fields = pidexit.read_stat(pid) if pid else None
    if fields is None or int(fields[19]) != starttime:
        return "gone"
    return "zombie" if fields[0] in (b"Z", b"X") else "alive"


class Adopter:
    """Keep the fds of live processes; rescue those whose shim died."""

    def __init__(self, store=None, python=sys.executable):
        self.store = store if store is not None else fdstore.FdStore()
        self.python = python

    def collect(self, proc, shim_pidfd):
        """Copy PROC's stdio fds out of its live shim (SHIM_PIDFD) and pin the process."""
        key = key_of(proc)
        if proc.pid is None or proc.starttime is None:
            return []
        # The shim's record first (a terminal: fds.json), then what /proc shows of its stdio.
        self.store.collect(key, proc.dir, shim_pidfd, proc.pid, proc.starttime)
        for name, fd in stdio_ends(proc.shim_pid, proc.pid).items():
            if name not in self.store.get(key):
                try:
                    self.store.put(key, name, pidexit.get_fd(shim_pidfd, fd))
                except OSError as err:
                    log.warning("collect %s of %s: %s", name, proc.dir, err)
        if os.path.exists(os.path.join(proc.dir, layout.STDIN_CLOSED)):
            self.stdin_closed(proc)  # looked at after the copy: a close meanwhile is seen
        self._hold_keep_fifos(proc, key)
        return sorted(name for name in self.store.get(key) if not name.startswith("keep-"))

    def _hold_keep_fifos(self, proc, key):
        """Hold each kept pipe's FIFO open: what it holds says if a chunk was consumed."""
        stored = self.store.get(key)
        for stream in outkeep.STREAMS:
            name = outkeep.store_name(stream)
            if stream in stored and name not in stored:
                try:
                    fd = outkeep.open_fifo(proc.dir, stream)
                except OSError as err:
                    log.warning("open the keep FIFO of %s %s: %s", proc.dir, stream, err)
                    continue
                if fd is not None:
                    self.store.put(key, name, fd)

    def stdin_closed(self, proc):
        """Close the store's copy of PROC's stdin pipe: the EOF is the shim's to give."""
        self.store.close_one(key_of(proc), "stdin")

    def forget(self, proc):
        """Close what the store keeps for PROC (it exited and was drained, or was deleted)."""
        self.store.discard(key_of(proc))

    def facts(self, proc):
        """Return (adoption.Facts, status, source) for PROC whose shim is gone."""
        stored = self.store.get(key_of(proc))
        state = process_state(proc.pid, proc.starttime)
        pidfd = stored.get(fdstore.PROCESS)
        status = source = None
        if state != "alive":
            if pidfd is not None:
                status, source = pidexit.exit_status(pidfd, proc.pid, proc.starttime)
            elif state == "zombie":
                status, source = pidexit.zombie_status(proc.pid, proc.starttime), "zombie"
        outputs = [name for name in stored if name in OUTPUTS]
        facts = adoption.Facts(state, status is not None, bool(outputs), False)
        return facts, status, source

    async def rescue(self, proc, retry=False):
        """Decide and act for PROC (its shim died, no exitStatus); return the Decision.

        RETRY: an adopting shim failed to start before (a full disk): an exited
        process's status is then written without one, its unread output given up.
        """
        facts, status, source = self.facts(proc)
        decision = adoption.decide(facts)
        if retry and status is not None and decision.action == adoption.ADOPT:
            decision = adoption.Decision(adoption.RECORD_EXIT, decision.exited_at_observed,
                                         "no adopting shim could start to read its output")
        if decision.action == adoption.RECORD_EXIT:
            self.record_exit(proc, status, source, decision.exited_at_observed)
        elif decision.action in (adoption.ADOPT, adoption.ADOPT_OUTPUT_LOST):
            if not await self.start_adopting_shim(proc):
                return adoption.Decision(adoption.UNKNOWN, False, adoption.ADOPT_FAILED)
        log.info("rescue %s: %s%s", proc.dir, decision.action,
                 f" ({decision.reason})" if decision.reason else "")
        return decision

    def record_exit(self, proc, status, source, observed):
        """Write PROC's exitStatus from the wait status read without a shim."""
        code, sig = layout.exit_code_from_wait(status)
        data = exitreserve.exit_record(code, sig, None, False, source=source, adopted=True,
                                       exited_at_observed=observed)
        exitreserve.commit_exit(proc.dir, data)
        self.forget(proc)

    async def start_adopting_shim(self, proc):
        """Start shim.adopt with the stored fds; True once it reported its start."""
        fds = self.store.get(key_of(proc))
        if fdstore.PROCESS not in fds:
            pidfd = pidexit.open_pidfd(proc.pid, proc.starttime)
            if pidfd is None:
                return False
            self.store.put(key_of(proc), fdstore.PROCESS, pidfd)
            fds = self.store.get(key_of(proc))
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        argv = [self.python, "-I", "-S", "-c", BOOT, "--state-dir", proc.dir,
                "--pid", str(proc.pid), "--starttime", str(proc.starttime),
                "--fds", ",".join(f"{name}={fd}" for name, fd in sorted(fds.items())),
                "--sync-fd", str(write_fd)]
        log_opts = getattr(proc.container, "log", None) or {}
        if log_opts.get("max_size"):
            argv += ["--log-max-size", str(log_opts["max_size"]),
                     "--log-max-files", str(log_opts.get("max_files") or 1)]
        try:
            child = await asyncio.create_subprocess_exec(
                *argv, pass_fds=(*fds.values(), write_fd), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            raise
        os.close(write_fd)
        try:
            await asyncio.wait_for(child.wait(), START_TIMEOUT)
            line = await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(None, _read_line, read_fd),
                START_TIMEOUT)
        finally:
            os.close(read_fd)
        result = startup.parse_result(line)
        if not result.get("ok"):
            log.error("adopt %s: %s", proc.dir, result.get("error"))
            return False
        # The new shim holds the fds now; ours are copied again from it by collect().
        self.store.discard(key_of(proc))
        proc.shim_pid, proc.shim_starttime = layout.read_shim_pid(proc.dir)
        return True


def _read_line(fd):
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data
