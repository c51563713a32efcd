"""A Tracker that rescues a process whose shim died instead of reporting it lost.

The tracker reports a process `unknown` when its shim is gone without an
exit status (tracker.Tracker.lose). This one first asks the Adopter
(manager.core.adopter): a running process is adopted by a new shim (then
tracked again, status unchanged), an exit read from its pidfd or zombie is
written and reconciled as any exit; only what cannot be known stays lost,
with the reason. It also keeps the fd store: copies are taken when a shim is
tracked and dropped when its process is finished or untracked.
"""

import asyncio
import logging
import os

from manager.core import adoption, model, tracker

log = logging.getLogger("tether.rescue")

# A failed adoption is tried again after each delay, while the process lives
# (its pidfd in the store keeps its exit readable): ~5 minutes in all.
RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0) + (5.0,) * 60


class RescuingTracker(tracker.Tracker):
    """tracker.Tracker, with re-adoption (docs/durability.md)."""

    def __init__(self, reg, bus, log_changes, rescuer):
        super().__init__(reg, bus, log_changes)
        self.rescuer = rescuer
        self._rescuing = set()
        self.rescues = []  # (process dir, action) of each rescue, for metrics and tests
        # Before the manager serves (the restart's reattach), the copies wait:
        # taken inline they cost a restart with 500 containers ~190 ms.
        self._deferred = []
        self._background = None

    def track(self, proc):
        """Track PROC, then copy its live shim's stdio fds into the store."""
        super().track(proc)
        if self._deferred is not None:
            self._deferred.append(proc)
        else:
            self._collect(proc)

    def _collect(self, proc):
        if proc.pidfd is not None and not proc.finished and not proc.shim_gone:
            self.rescuer.collect(proc, proc.pidfd)

    def serving(self):
        """The manager serves: copy the reattached shims' fds, one per loop turn."""
        deferred, self._deferred = self._deferred, None
        self._background = asyncio.get_running_loop().create_task(self._collect_all(deferred))

    async def _collect_all(self, procs):
        for proc in procs:
            try:
                self._collect(proc)
            except OSError as err:
                log.warning("collect the fds of %s: %s", proc.dir, err)
            await asyncio.sleep(0)

    def untrack(self, proc):
        """Stop tracking PROC and close what the store kept for it."""
        self.rescuer.forget(proc)
        super().untrack(proc)

    def stdin_closed(self, proc):
        """Close the store's copy of PROC's stdin: the EOF must reach the process."""
        self.rescuer.stdin_closed(proc)

    def finish(self, proc, status, publish=True):
        """Record the exit; the store's copies are no longer needed."""
        super().finish(proc, status, publish)
        self.rescuer.forget(proc)

    def lose(self, proc):
        """Rescue PROC (once at a time) instead of reporting it lost at once."""
        if proc.dir in self._rescuing:
            return
        if proc.pid is None or proc.starttime is None:
            super().lose(proc)  # never created: nothing to adopt
            return
        self._rescuing.add(proc.dir)
        if proc.status not in (model.RUNNING, model.PAUSED):
            proc.status = model.RUNNING if proc.started_at else model.CREATED
        asyncio.get_running_loop().create_task(self._rescue(proc))

    async def _rescue(self, proc):
        try:
            for attempt, delay in enumerate(RETRY_DELAYS):
                decision = await self.rescuer.rescue(proc, retry=attempt > 0)
                if decision.reason != adoption.ADOPT_FAILED or proc.finished or \
                        proc.container.deleting:
                    break
                proc.error = f"{adoption.ADOPT_FAILED}: tried again in {delay} s"
                await asyncio.sleep(delay)
        except (OSError, ValueError) as err:
            log.error("rescue %s: %s", proc.dir, err)
            decision = adoption.Decision(adoption.UNKNOWN, False, f"rescue failed: {err}")
        finally:
            self._rescuing.discard(proc.dir)
        self.rescues.append((proc.dir, decision.action))
        if proc.finished or proc.container.deleting:
            return
        if (proc.error or "").startswith(adoption.ADOPT_FAILED):
            proc.error = None  # ours, from a retry
        if decision.action in (adoption.ADOPT, adoption.ADOPT_OUTPUT_LOST):
            proc.shim_gone = False
            proc._gone = None  # a new shim: a new "gone" to wait for
            if decision.reason:
                proc.error = decision.reason
            if decision.action == adoption.ADOPT_OUTPUT_LOST:
                self.publish_output_lost(proc, decision.reason)
            self.track(proc)
        elif decision.action == adoption.RECORD_EXIT:
            if decision.reason:
                self.publish_output_lost(proc, decision.reason)
            self.reconcile(proc)  # reads the exitStatus just written
        else:
            super().lose(proc)
            proc.error = f"shim lost: {decision.reason}"

    def publish_output_lost(self, proc, reason):
        """Say in state and in an `output-lost` event that output was not kept (never a guess)."""
        # Nobody held the pipes between the shim's death and the adoption: how
        # much the container wrote meanwhile is not known to anyone.
        proc.output_lost = {"bytes": "unknown", "reason": reason}
        self.events.emit("output-lost", proc.container.id, proc.exec_id, bytes="unknown",
                         reason=reason)


def enabled(environ=None):
    """Return True unless re-adoption is switched off (TETHER_READOPT=0)."""
    return (os.environ if environ is None else environ).get("TETHER_READOPT") != "0"
