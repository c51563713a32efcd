"""The adopting shim: take over a running process whose shim died (docs/durability.md).

    python -I -S -c BOOT(shim.adopt.main) --state-dir PROCDIR --pid N --starttime S
        --fds process=F,stdout=F[,stderr=F][,terminal=F][,stdin=F]
        [--exited-at NS] [--log-max-size BYTES --log-max-files N] [--sync-fd N]

The starter (the manager) passes the fds of its fd store by inheritance: the
container's pidfd and its stdio. Steps: 1. fork away (the starter waits for
the start-up result on --sync-fd); 2. take over the process directory: the
dead shim's shim.pid is renamed to a hidden name, ours written once;
3. serve as a shim does: the same output.log, FIFOs and control lines, the
exit from the pidfd (shim.adopted); 4. at the exit write exitStatus with its
source, drain the output, exit.
"""

import os
import sys

from shim import adopted, control, crilog, loop, shimlog, signals, stdin, stdio
from shim.contract import exitreserve, layout, outkeep, pidexit, startup

DRAIN_IDLE = 2.0


class AdoptError(Exception):
    """The process directory cannot be taken over."""


def parse_args(argv):
    """Return the options as a dict (a flat --name value list; no argparse: memory)."""
    opts = {"exited_at": None, "log_max_size": None, "log_max_files": 1, "sync_fd": None}
    pairs = iter(argv)
    for flag in pairs:
        if not flag.startswith("--"):
            raise AdoptError(f"unexpected argument {flag!r}")
        name = flag[2:].replace("-", "_")
        value = next(pairs, None)
        if value is None:
            raise AdoptError(f"{flag} needs a value")
        if name == "fds":
            opts[name] = {k: int(v) for k, v in (item.split("=", 1) for item in value.split(","))}
        elif name == "state_dir":
            opts[name] = value
        else:
            opts[name] = int(value)
    for required in ("state_dir", "pid", "starttime", "fds"):
        if required not in opts:
            raise AdoptError(f"--{required.replace('_', '-')} is required")
    if "process" not in opts["fds"]:
        raise AdoptError("--fds needs process=FD (a pidfd of the process)")
    return opts


def running(pid, starttime):
    """Return True if PID is the process of STARTTIME and not a zombie."""
    # A killed shim stays a zombie until its parent (pid 1 here: ~1.5 s) reaps it.
    fields = pidexit.read_stat(pid)
    return fields is not None and int(fields[19]) == starttime and fields[0] not in (b"Z", b"X")


def take_over(proc_dir):
    """Replace the dead shim's shim.pid with ours; raise AdoptError if it lives or exited."""
    if os.path.exists(os.path.join(proc_dir, layout.EXIT_STATUS)):
        raise AdoptError(f"adopt {proc_dir}: the process already exited (exitStatus exists)")
    path = os.path.join(proc_dir, layout.SHIM_PID)
    try:
        old = layout.read_shim_pid(proc_dir)
    except layout.StateError:
        old = None
    if old is not None and running(*old):
        raise AdoptError(f"adopt {proc_dir}: its shim {old[0]} is alive")
    data = layout.dump_json({"pid": os.getpid(), "starttime": layout.proc_starttime(os.getpid()),
                             "adopted": True})
    # Written before the dead shim's record moves: on a full disk nothing changes
    # (a directory without shim.pid would be taken for a never-started one).
    tmp_path = layout.write_temp(path, data, 0o600, durable=False)
    lost = None if old is None else os.path.join(proc_dir, f".{layout.SHIM_PID}.lost-{old[0]}")
    try:
        if lost is not None:
            os.rename(path, lost)
        try:
            os.link(tmp_path, path)
        except FileExistsError:
            raise AdoptError(f"adopt {proc_dir}: another shim took it over") from None
        except OSError:
            if lost is not None:
                os.rename(lost, path)
            raise
    finally:
        os.unlink(tmp_path)


class Adopter:
    """Serve an adopted process: its output, FIFOs, control lines and exit."""

    def __init__(self, opts, log):
        self.opts = opts
        self.dir = opts["state_dir"]
        self.log = log
        self.loop = loop.Loop(log)
        self.exit = None
        self.pumps = []
        self.holds = []
        self.fds = dict(opts["fds"])
        self.output_log = self.control = self.terminal = self.watcher = self.stdin = None
        self.observed = False

    def join(self, name):
        """Return the path of NAME in the process directory."""
        return os.path.join(self.dir, name)

    def serve_io(self):
        """Pump the stored stdio to output.log and the FIFOs; hold the exit FIFO."""
        self.holds.append(os.open(self.join(layout.EXIT_FIFO),
                                  os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW))
        self.reconcile_output()
        self.output_log = crilog.LogWriter(self.join(layout.OUTPUT_LOG), self.log,
                                           self.opts["log_max_size"], self.opts["log_max_files"],
                                           dropped_path=self.join(crilog.DROPPED))
        streams = (("stdout", b"stdout", layout.STDOUT), ("terminal", b"stdout", layout.STDOUT),
                   ("stderr", b"stderr", layout.STDERR))
        # The pump owns (and closes) the PTY master; a copy stays for resizes.
        self.terminal = os.dup(self.fds["terminal"]) if "terminal" in self.fds else None
        for name, stream, fifo_name in streams:
            if name in self.fds:
                fifo = stdio.FifoWriter(self.loop, self.join(fifo_name), self.log)
                keep_dir = self.dir if name != "terminal" else None
                self.pumps.append(stdio.OutputPump(self.loop, stream, self.fds.pop(name),
                                                   self.output_log, fifo, keep_dir=keep_dir))
        self._serve_stdin()
        handlers = {"resize": self.resize, "close_stdin": self.close_stdin}
        self.control = control.ControlFifo(self.loop, self.join(layout.CONTROL), handlers,
                                           self.log)
        signals.install_signals(self.loop, self.on_signal)

    def reconcile_output(self):
        """Finish or undo the chunk each dead shim's pipe was in the middle of (outkeep)."""
        for name in outkeep.STREAMS:
            if name in self.fds:
                done = outkeep.reconcile(self.dir, name, self.fds[name],
                                         self.join(layout.OUTPUT_LOG))
                if done:
                    self.log("info", f"kept {name}: {done}")
        for name in outkeep.STREAMS:  # the starter's copies of the FIFOs: ours are open now
            fd = self.fds.pop(outkeep.store_name(name), None)
            if fd is not None:
                os.close(fd)

    def _serve_stdin(self):
        """Feed the stdin FIFO to the process again: its pipe, or the terminal."""
        self.stdin = None
        fifo = self.join(layout.STDIN)
        if not os.path.exists(fifo):
            return
        if "stdin" in self.fds:
            self.stdin = stdin.StdinPump(self.loop, fifo, self.fds.pop("stdin"), self.log)
        elif self.terminal is not None:
            self.stdin = stdin.StdinPump(self.loop, fifo, self.terminal, self.log, tty=True,
                                         owns_target=False)

    def close_stdin(self, _argument=None):
        """Give the process EOF on its stdin (control line {"close_stdin": true})."""
        if self.stdin is None:
            self.log("warning", "close_stdin: the process has no stdin FIFO")
            return
        self.stdin.close_stdin()

    def resize(self, size):
        """Set the terminal size (control line {"resize": [cols, rows]})."""
        if self.terminal is None:
            self.log("warning", "resize: the process has no terminal")
            return
        from shim import console
        console.set_winsize(self.terminal, *size)

    def on_signal(self, signum):
        """Log and ignore: the process is signalled by pid or through the runtime."""
        self.log("info", f"ignored signal {signum}: signal the container, not its shim")

    def watch_exit(self):
        """Learn the exit from the pidfd (already readable: it exited before we came)."""
        pidfd = self.fds["process"]
        self.observed = self.opts["exited_at"] is None and pidexit.has_exited(pidfd)
        self.watcher = adopted.AdoptedExit(self.loop, pidfd, self.opts["pid"],
                                           self.opts["starttime"], self.on_exit,
                                           self.opts["exited_at"])

    def on_exit(self, _pid, status, exited_at_ns):
        """Remember the exit (status None: it could not be read)."""
        self.exit = (status, exited_at_ns)

    def write_exit(self):
        """Write exitStatus with the true code and where it came from; False if unknown."""
        status, exited_at_ns = self.exit
        if status is None:
            self.log("error", "exit not seen: neither the zombie nor the pidfd had it")
            return False
        code, sig = layout.exit_code_from_wait(status)
        data = exitreserve.exit_record(
            code, sig, exited_at_ns, False, source=self.watcher.source, adopted=True,
            exited_at_observed=self.observed, dropped_bytes=self.output_log.dropped_bytes)
        exitreserve.commit_exit(self.dir, data)
        self.log("info", "adopted process exited", exit_code=code, signal=sig)
        return True

    def drain(self):
        """Read the output to EOF (or until it stays silent DRAIN_IDLE seconds)."""
        self.loop.run_until(lambda: not any(p.open for p in self.pumps), DRAIN_IDLE)

    def close(self):
        """Close everything; the exit FIFO last (its hang-up says we are gone)."""
        for pump in self.pumps:
            pump.close()
            if pump.fifo is not None:
                pump.fifo.disconnect()
        if self.stdin is not None:
            self.stdin.close()
        self.output_log.close()
        self.control.close()
        if self.terminal is not None:
            os.close(self.terminal)
        for fd in self.fds.values():
            os.close(fd)
        for fd in self.holds:
            os.close(fd)


def run(opts, log):
    """Take over, report, serve until the exit, write it; return 0."""
    sync_fd = opts["sync_fd"]
    try:
        take_over(opts["state_dir"])
        log.open(os.path.join(opts["state_dir"], layout.SHIM_LOG))
        adopter = Adopter(opts, log)
        adopter.serve_io()
        adopter.watch_exit()
    except (AdoptError, OSError) as err:
        startup.send_result([sync_fd], startup.failure(f"adopt: {err}"))
        return startup.EXIT_FAILED
    startup.send_result([sync_fd], startup.success(os.getpid(), opts["pid"]))
    log("info", "adopted", pid=opts["pid"], fds=sorted(opts["fds"]))
    adopter.loop.run_until(lambda: adopter.exit is not None)
    adopter.write_exit()
    adopter.drain()
    adopter.close()
    log("info", "shim exiting")
    return 0


def main(argv=None):
    """Parse, fork away from the starter, run; return the starter's exit status."""
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
    except (AdoptError, ValueError) as err:
        sys.stderr.write(f"tether-shim adopt: {err}\n")
        return startup.EXIT_FAILED
    if os.fork():
        if opts["sync_fd"] is not None:
            os.close(opts["sync_fd"])
        return 0
    code = startup.EXIT_FAILED
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)  # nobody reads the starter's stdio after it returned
        os.close(null)
        os.umask(0o022)
        os.chdir("/")
        code = run(opts, shimlog.ShimLog())
    finally:
        os._exit(code)
