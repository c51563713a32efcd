"""Track processes: reconcile exitStatus and shim death so each exit is reported once."""

import asyncio
import logging
import os

from shim.contract import layout

from manager.core import model, scan, watch

log = logging.getLogger("tether.tracker")

# Written once the exit (or the shim's loss) was published, so that a restarted
# manager re-publishes only what happened while it was down.
REPORTED = layout.EXIT_REPORTED


class Tracker:
    """Own the exit bookkeeping of every process in the model."""

    def __init__(self, reg, bus, log_changes):
        self.registry = reg
        self.events = bus
        self.log_changes = log_changes
        self.on_init_exit = None  # called with the container when an init process exits

    def reattach(self, containers_dir):
        """Adopt every container CONTAINERS_DIR holds; a broken one is logged and skipped."""
        for cscan in scan.scan_containers(containers_dir):
            try:
                self.adopt(cscan)
            except (OSError, layout.StateError) as err:
                log.error("reattach %s: %s", cscan.dir, err)

    def serving(self):
        """The manager has reattached and serves (RescuingTracker starts its fd copies)."""

    def track(self, proc):
        """Start watching PROC (its shim was started or found): pidfd, then the exit file."""
        self.registry.index_process(proc)
        if not watch.watch_shim(proc, self.on_shim_gone):
            proc.resolve_gone()
        self.reconcile(proc)

    def untrack(self, proc):
        """Stop watching PROC."""
        watch.unwatch_shim(proc)
        self.registry.unindex_process(proc)

    def on_exit_status(self, proc_dir):
        """Inotify saw an exitStatus appear in PROC_DIR."""
        proc = self.registry.by_dir(proc_dir)
        if proc is not None:
            self.reconcile(proc)

    def on_overflow(self):
        """Inotify lost events: look at every process again."""
        for proc in self.registry.all_processes():
            self.reconcile(proc)

    def on_shim_gone(self, proc):
        """The pidfd of PROC's shim fired."""
        proc.resolve_gone()
        self.reconcile(proc)
        if proc.status == model.STOPPED:
            self._count_dropped(proc)  # the drain after exitStatus may have dropped more
        self.log_changes.poke(proc.dir)

    def reconcile(self, proc):
        """Publish PROC's exit, or the loss of its shim, exactly once."""
        if proc.finished or proc.hold_exit:
            return
        try:
            status = layout.read_exit_status(proc.dir)
        except layout.StateError as err:
            log.error("reconcile %s: %s", proc.dir, err)
            status = None
        if status is not None:
            self.finish(proc, status)
        elif proc.shim_gone:
            # The shim writes exitStatus before it exits: re-read above after the
            # pidfd fired, so no exit status now means none will ever come.
            self.lose(proc)

    def finish(self, proc, status, publish=True):
        """Record the true exit of PROC and publish it."""
        proc.status = model.STOPPED
        proc.exit_code = status["exit_code"]
        proc.exited_at = status["exited_at"]
        proc.oom_killed = bool(status.get("oom_killed"))
        proc.dropped_bytes = status.get("dropped_bytes") or 0  # output a full disk cost
        self._count_dropped(proc)
        proc.resolve_done()
        self.log_changes.poke(proc.dir)
        if publish and not self._reported(proc, "exit"):
            cid = proc.container.id
            if proc.oom_killed:
                self.events.emit("oom", cid, proc.exec_id, time=proc.exited_at)
            self.events.emit("exit", cid, proc.exec_id, time=proc.exited_at,
                             exit_code=proc.exit_code)
            # After the subscribers' turn (they were woken first): the journal
            # already holds the event should we be killed before the mark.
            asyncio.get_running_loop().call_soon(self._mark_reported, proc)
        if proc is proc.container.init and self.on_init_exit is not None:
            self.on_init_exit(proc.container)

    @staticmethod
    def _count_dropped(proc):
        """Take the shim's running drop count (.dropped-bytes) if higher than the one known.

        The shim rewrites it in place at each drop, so it holds the drops of the
        drain after exitStatus too (exitStatus's count is the one at the exit).
        """
        try:
            counted = layout.read_dropped(os.path.join(proc.dir, layout.DROPPED))
        except (OSError, ValueError):
            return
        if counted > proc.dropped_bytes:
            proc.dropped_bytes = counted

    def stdin_closed(self, proc):
        """PROC's stdin is being closed (rescue.RescuingTracker drops its copy)."""

    def lose(self, proc):
        """Record that PROC's shim is gone without an exit status: status unknown."""
        proc.status = model.UNKNOWN
        proc.error = "shim lost: no exit status was written"
        proc.resolve_done()
        if not self._reported(proc, "shim-lost"):
            self.events.emit("shim-lost", proc.container.id, proc.exec_id)
            self._mark_reported(proc)

    def _reported(self, proc, kind):
        """Return True if PROC's end (KIND: exit or shim-lost) was published already."""
        if os.path.exists(os.path.join(proc.dir, REPORTED)):
            return True
        # Killed between journaling the event and writing the mark: the
        # journal has it, subscribers resume from it (?after=SEQ).
        event = {"type": kind, "id": proc.container.id, "exec_id": proc.exec_id,
                 "time": proc.exited_at if kind == "exit" else None}
        if self.events.published(event):
            self._mark_reported(proc)
            return True
        return False

    def _mark_reported(self, proc):
        # An empty mark, made with O_EXCL and not fsynced: the journal is the
        # record; the mark only spares a restart the look into it.
        try:
            os.close(os.open(os.path.join(proc.dir, REPORTED), os.O_WRONLY | os.O_CREAT |
                             os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
        except FileExistsError:
            pass
        except OSError as err:
            log.error("mark exit reported in %s: %s", proc.dir, err.strerror)

    def adopt(self, cscan, runtime_state=None):
        """Build a registry container from a scan and track its live processes."""
        meta = cscan.meta or {}
        container = model.Container(
            cscan.id, cscan.dir, bundle=meta.get("bundle"), runtime=meta.get("runtime", "runc"),
            labels=meta.get("labels") or {}, created_at=meta.get("created_at"))
        container.error = cscan.error
        container.log = meta.get("log") if isinstance(meta.get("log"), dict) else {}
        container.auto_remove = meta.get("auto_remove") is True
        for name, pscan in cscan.processes.items():
            if name == layout.INIT:
                proc = container.init
            else:
                proc = container.execs[name] = model.Process(container, name, pscan.dir)
            self._fill_process(proc, pscan)
        self.registry.add(container)
        for proc in container.processes():
            if proc.shim_pid is not None:
                # Also for an exited process: its shim may still drain the output.
                self.track(proc)
            else:
                proc.resolve_gone()
        if layout.INIT not in cscan.processes:
            container.init.status = model.UNKNOWN
            container.init.error = cscan.error or "no init process directory"
        return container

    def _fill_process(self, proc, pscan):
        spec = pscan.process_json or {}
        proc.tty, proc.stdin = bool(spec.get("tty")), bool(spec.get("stdin"))
        proc.pid, proc.starttime = pscan.pid, pscan.starttime
        if pscan.shim:
            proc.shim_pid, proc.shim_starttime = pscan.shim
        proc.created_at = pscan.times.get("created_at") or proc.created_at
        proc.started_at = pscan.times.get("started_at")
        if pscan.verdict == scan.EXITED:
            self.finish(proc, pscan.exit_status)
        elif pscan.verdict == scan.RUNNING:
            proc.status = model.RUNNING if proc.started_at else model.CREATED
        elif pscan.verdict == scan.SHIM_LOST:
            self.lose(proc)
        elif pscan.verdict == scan.NEWER:
            # Another release's shim: reported, never read with our rules.
            proc.status = model.UNKNOWN
            proc.newer_contract = True
            proc.error = "; ".join(pscan.errors)
            log.error("skip %s: %s", pscan.dir, proc.error)
        else:
            proc.status = model.UNKNOWN
            proc.error = "broken process directory: " + "; ".join(pscan.errors)
            log.error("skip %s: %s", pscan.dir, proc.error)
