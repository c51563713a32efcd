"""A seeded chaos workload: real containers through the API while the manager is SIGKILLed.

The workload knows what every process prints (numbered lines) and how it ends
(its exit code), so after each restart and at the end it checks that nothing
was lost: exits, log lines, shims, state files. See tests/chaos/README.md.
"""

import os
import random
import signal
import threading
import time

import daemonutil
from manager.client.methods import ApiError, Client, ClientError
from shim.contract import layout

from .checks import Checks, EventLog, Report, numbered

TERM_CODE = 43  # sleepers trap TERM and exit with this


class Proc:
    """What the workload expects of one process: its lines and its exit code."""

    def __init__(self, exec_id, lines, err_lines=0, code=None):
        self.exec_id = exec_id
        self.lines = lines
        self.err_lines = err_lines
        self.code = code
        self.checked = False


class Box:
    """One container of the workload and the phase the workload believes it is in."""

    def __init__(self, cid, kind, init):
        self.id = cid
        self.kind = kind  # "exit": ends by itself; "sleeper": ends when signalled
        self.init = init
        self.execs = {}
        self.phase = "creating"
        self.signal = None
        self.forced = False  # force-deleted while running: no expected exit
        self.slow = False  # prints its lines 100 at a time, 10 ms apart
        self.shim_kills = 0  # SIGKILLs of its shim (its lines may die in the shim's hand)
        self.full_disk = False  # alive during a full-disk moment (lines may be dropped)

    def argv(self):
        """Return the init process's argv."""
        p = self.init
        if self.kind == "exit" and self.slow:  # 100 lines every 10 ms: output during a moment
            return ["sh", "-c", f"for i in $(seq 0 {p.lines // 100 - 1}); do "
                                "seq $((i*100+1)) $((i*100+100)); sleep 0.01; done; "
                                f"seq 1 {p.err_lines} >&2; exit {p.code}"]
        if self.kind == "exit":
            return ["sh", "-c", f"seq 1 {p.lines}; seq 1 {p.err_lines} >&2; exit {p.code}"]
        return ["sh", "-c", f'trap "exit {TERM_CODE}" TERM; seq 1 {p.lines}; '
                            "sleep 100000 & wait"]


class Chaos(Checks):
    """Drive the workload and the kills (the invariants are in checks.Checks)."""

    def __init__(self, root, rootfs, seed, kills, max_alive=6, heavy_lines=20000, log=print,
                 shim_kills=False, disk=None, log_path=None):
        self.root = root
        self.rootfs = rootfs
        self.rng = random.Random(seed)
        self.target_kills = kills
        self.max_alive = max_alive
        self.heavy_lines = heavy_lines
        self.log = log
        # Shim SIGKILLs need re-adoption (docs/durability.md), opt-in in the manager.
        self.shim_kills = shim_kills
        self.daemon = daemonutil.Daemon(root, log_path=log_path,
                                        env={"TETHER_READOPT": "1"} if shim_kills else None)
        self.disk = disk  # a disk.SmallDisk holding ROOT: full-disk moments
        self.disk_odds = 0.03  # of a full-disk moment after the current step
        self.client = Client(self.daemon.socket, timeout=60)
        self.boxes = {}
        self.report = Report()
        self.report.shim_kill_runs, self.report.full_disk_runs = shim_kills, disk is not None
        self.event_logs = []
        self.t0 = layout.format_time(layout.now_ns())
        self.serial = 0
        self.killed = False
        self.last_deleted = None  # the last delete of the wind-down (events catch up to it)

    # -- manager ---------------------------------------------------------

    def start_manager(self):
        """Start a manager incarnation and subscribe to its events before anything else."""
        self.daemon.start()
        seqs = []
        for previous in self.event_logs:
            previous.join(10)  # its manager is dead: EOF ends it
            seqs += previous.seqs
        events = EventLog(self.daemon.socket, since=self.t0, after=max(seqs, default=None))
        events.start()
        events.connected.wait(10)
        self.event_logs.append(events)

    def kill_manager(self):
        """SIGKILL the manager (if it still runs) and count the kill."""
        if self.daemon.proc.poll() is None:
            self.daemon.proc.send_signal(signal.SIGKILL)
        self.daemon.proc.wait(10)
        self.report.kills += 1

    def restart(self):
        """Restart after a kill and check every invariant."""
        self.start_manager()
        self.resync()
        self.check_invariants()

    # -- operations ------------------------------------------------------

    def call(self, operation, *args):
        """Run one API operation, maybe with a SIGKILL of the manager in the middle of it."""
        timer = None
        if self.rng.random() < 0.35:
            timer = threading.Timer(self.rng.uniform(0, 0.08), self._kill_now)
            timer.start()
        try:
            return operation(*args)
        except ApiError as err:
            if err.status is not None and err.status >= 500 and not self.killed:
                self.report.violations.append(f"api: {err.status} {err.message}")
            raise
        finally:
            if timer is not None:
                timer.cancel()
                timer.join()

    def _kill_now(self):
        if self.daemon.proc.poll() is None:
            self.killed = True
            self.daemon.proc.send_signal(signal.SIGKILL)

    def alive(self):
        """Return the boxes not deleted."""
        return [b for b in self.boxes.values() if b.phase != "deleted"]

    def op_create(self):
        """Create (and usually start) a new container."""
        self.serial += 1
        cid = f"c{self.serial:05d}"
        kind = "exit" if self.rng.random() < 0.55 else "sleeper"
        heavy = self.rng.random() < 0.2
        lines = self.heavy_lines if heavy else self.rng.randint(1, 800)
        init = Proc(None, lines, self.rng.randint(0, 50) if kind == "exit" else 0,
                    self.rng.randint(0, 120) if kind == "exit" else None)
        box = self.boxes[cid] = Box(cid, kind, init)
        if self.disk is not None and kind == "exit" and self.rng.random() < 0.3:
            box.slow, init.lines = True, 100 * self.rng.randint(20, 150)
        self.report.containers += 1
        body = {"id": cid, "rootfs": self.rootfs, "args": box.argv()}
        self.call(self.client.create, body)
        box.phase = "created"

    def op_start(self, box):
        """Start a created container (a full-disk moment is likelier while it prints)."""
        self.call(self.client.start, box.id)
        box.phase = "running"
        self.disk_odds = 0.3

    def op_exec(self, box):
        """Run an exec that prints numbered lines and exits with a known code."""
        exec_id = f"x{len(box.execs) + 1}"
        proc = box.execs[exec_id] = Proc(exec_id, self.rng.randint(1, 300),
                                         code=self.rng.randint(0, 90))
        self.report.execs += 1
        body = {"exec_id": exec_id, "args": ["sh", "-c", f"seq 1 {proc.lines}; exit {proc.code}"]}
        self.call(self.client.exec, box.id, body)

    def op_pause(self, box):
        """Pause a running sleeper, or resume a paused one."""
        if box.phase == "paused":
            self.call(self.client.resume, box.id)
            box.phase = "running"
        else:
            self.call(self.client.pause, box.id)
            box.phase = "paused"

    def op_kill(self, box):
        """Signal a running sleeper: KILL (137) or, once its trap is set, TERM (43)."""
        self.settle_execs(box)
        if box.signal is None:
            box.signal = "TERM" if self.trap_is_set(box) and self.rng.random() < 0.5 else "KILL"
            box.init.code = TERM_CODE if box.signal == "TERM" else 128 + signal.SIGKILL
        self.call(self.client.kill, box.id, box.signal)
        box.phase = "stopping"

    def op_kill_shim(self, box):
        """SIGKILL the shim of a running init process; it must be adopted, nothing lost."""
        before = self.client.state(box.id)
        if before["status"] != "running" or not before.get("shim_pid"):
            return
        try:
            os.kill(before["shim_pid"], signal.SIGKILL)
        except ProcessLookupError:
            return  # it exited on its own meanwhile
        self.report.shim_kills += 1
        box.shim_kills += 1
        # Until a new shim owns it (or it stopped): a manager kill before the
        # adoption would leave nobody holding its pipes (output lost by design).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = self.client.state(box.id)
            if now["status"] != "running" or now.get("shim_pid") != before["shim_pid"]:
                return
            time.sleep(0.005)  # poll interval of a deadline loop
        self.report.violate("lost_exits", f"{box.id}: not adopted 10 s after its shim's SIGKILL")

    def settle_execs(self, box):
        """Wait for the execs of BOX: killing the container would kill them too."""
        for exec_id in box.execs:
            self.client.wait(box.id, exec_id)

    def trap_is_set(self, box):
        """Return True once the sleeper printed its lines (it sets the trap first)."""
        return self.stdout_of(box.id, None) == numbered(box.init.lines)

    def op_wait(self, box):
        """Wait for a container's exit."""
        self.call(self.client.wait, box.id)
        box.phase = "stopped"

    def op_delete(self, box, force=False):
        """Verify a stopped container, then delete it (or force-delete a running one)."""
        if force:
            box.forced = True
        else:
            self.verify(box)
        box.phase = "deleting"  # a kill may interrupt it after it went through
        self.call(self.client.delete, box.id, force)
        box.phase = "deleted"

    def choose(self):
        """Return (operation, args) for the next step."""
        alive = self.alive()
        by_phase = {}
        for box in alive:
            by_phase.setdefault(box.phase, []).append(box)
        options = []
        if len(alive) < self.max_alive:
            options += [(self.op_create, ())] * 3
        options += [(self.op_start, (b,)) for b in by_phase.get("created", [])] * 3
        running = by_phase.get("running", [])
        if self.shim_kills:
            options += [(self.op_kill_shim, (b,)) for b in running] * 3
        for box in running:
            if box.kind == "sleeper":
                options += [(self.op_exec, (box,)), (self.op_pause, (box,)),
                            (self.op_kill, (box,))]
            else:
                options.append((self.op_wait, (box,)))
        options += [(self.op_pause, (b,)) for b in by_phase.get("paused", [])]
        options += [(self.op_wait, (b,)) for b in by_phase.get("stopping", [])]
        options += [(self.op_delete, (b,)) for b in by_phase.get("stopped", [])] * 2
        if running and self.rng.random() < 0.05:
            options.append((self.op_delete, (self.rng.choice(running), True)))
        return self.rng.choice(options) if options else (self.op_create, ())

    # -- the run -----------------------------------------------------------

    def run(self):
        """Run until the target number of kills, then wind down and check everything."""
        self.start_manager()
        try:
            while self.report.kills < self.target_kills:
                self.step()
                if self.disk is not None and self.rng.random() < self.disk_odds:
                    self.full_disk_moment()
                self.disk_odds = 0.03
                if self.daemon.proc.poll() is None and self.rng.random() < 0.12:
                    self.kill_manager()
                    self.restart()
            self.wind_down()
        finally:
            self.cleanup()
        return self.report

    def step(self):
        """Do one operation; restart the manager if it died under it."""
        operation, args = self.choose()
        try:
            operation(*args)
        except ClientError as err:
            if not self.killed and self.daemon.proc.poll() is None:
                self.report.violations.append(f"api: {operation.__name__}: {err.message}")
                self.resync()
        if self.killed or self.daemon.proc.poll() is not None:
            self.daemon.proc.wait()
            self.killed = False
            self.report.kills += 1
            self.restart()

    def full_disk_moment(self):
        """Fill the state root's filesystem to ENOSPC, hold it a random short time, free it.

        No operation runs meanwhile: what the moment tests is what the running
        processes' shims do with their output and their exits (docs/durability.md).
        """
        for box in self.alive():
            box.full_disk = True
        self.disk.fill()
        self.report.full_disk_moments += 1
        try:
            time.sleep(self.rng.uniform(0.05, 0.6))  # the moment's length, not a synchronisation
        finally:
            self.disk.release()

    def resync(self):
        """Learn what happened to operations a kill interrupted."""
        listed = {c["id"]: c for c in self.client.list()}
        for box in self.alive():
            found = listed.get(box.id)
            if found is None:
                if box.phase in ("creating", "deleting") or box.phase == "deleted":
                    box.phase = "deleted"
                elif box.phase == "stopped" and box.init.checked:
                    box.phase = "deleted"  # a delete a kill interrupted went through
                else:
                    self.report.violate("lost_exits", f"{box.id} ({box.phase}) disappeared")
                    box.phase = "deleted"
                continue
            self.sync_box(box, found)

    def sync_box(self, box, found):
        """Update BOX from the manager's state object FOUND."""
        if found["status"] == "unknown":
            self.report.violate("lost_exits", f"{box.id} unknown: {found.get('error')}")
            self.client.delete(box.id, True)
            box.phase = "deleted"
            return
        # A kill the manager died under may not have been sent: op_kill sends it again.
        box.phase = found["status"]
        known = {p["id"] for p in found["processes"]}
        for exec_id in list(box.execs):
            if exec_id not in known:
                del box.execs[exec_id]  # the exec request died with the manager
                self.report.execs -= 1

    def wind_down(self):
        """End every container, verify it and delete it."""
        for box in self.alive():
            if box.phase == "creating":
                continue
            if box.phase == "paused":
                self.client.resume(box.id)
            if box.phase == "created":
                self.client.start(box.id)
            if box.kind == "sleeper" and box.phase != "stopped":
                self.op_kill_quiet(box)
        for box in self.alive():
            if box.phase == "creating":
                box.phase = "deleted"
                continue
            self.client.wait(box.id)
            self.verify(box)
            self.client.delete(box.id)
            box.phase = "deleted"
            self.last_deleted = box.id
        self.check_events()
        self.check_nothing_left()

    def op_kill_quiet(self, box):
        """Kill a sleeper without a chaos kill of the manager."""
        self.settle_execs(box)
        if box.signal is None:
            box.signal, box.init.code = "KILL", 128 + signal.SIGKILL
        try:
            self.client.kill(box.id, box.signal)
        except ApiError as err:
            if err.status != 409:  # 409: it is stopped already
                raise

    def cleanup(self):
        """Stop the manager and kill anything left (counted as leaks by the checks)."""
        if self.daemon.proc is not None and self.daemon.proc.poll() is None:
            self.daemon.kill(signal.SIGTERM)
