"""The invariants of the chaos run, and the counters of its report."""

import base64
import glob
import json
import os
import threading
import time

import daemonutil
import helpers
from manager.core.files import cgroup_path
from shim.contract import layout


def numbered(count):
    """Return the bytes `seq 1 COUNT` prints."""
    return b"".join(b"%d\n" % i for i in range(1, count + 1))


class Report:
    """Counters of the run and a list of every violation seen."""

    def __init__(self):
        self.kills = self.containers = self.execs = self.shim_kills = 0
        self.full_disk_moments = self.full_disk_lines = self.dead_shim_lines = 0
        self.shim_kill_runs = self.full_disk_runs = False  # which extra counts to print
        self.lost_exits = self.lost_lines = self.leaks = self.corrupt = 0
        self.events_seen = self.events_missed = self.duplicate_events = 0
        self.violations = []
        self.notes = []  # where the separately counted lines went
        self.undelivered = []
        self.repeated = []

    def violate(self, kind, message):
        """Count one violation of KIND (an attribute) and remember why."""
        setattr(self, kind, getattr(self, kind) + 1)
        self.violations.append(f"{kind}: {message}")

    def summary(self):
        """Return the one-line summary."""
        shims = f" (+{self.shim_kills} shim SIGKILLs)" if self.shim_kills else ""
        extra = ""
        if self.full_disk_runs:
            extra += (f", {self.full_disk_moments} full-disk moments: {self.full_disk_lines} "
                      "lines dropped for a full disk (recorded in dropped_bytes)")
        if self.shim_kill_runs:
            extra += f", {self.dead_shim_lines} lines lost in a dead shim's hand"
        return (f"chaos: {self.kills} kills{shims}, {self.containers} containers, "
                f"{self.lost_exits} lost exits, {self.lost_lines} lost lines, "
                f"{self.leaks} leaks{extra}")

    def details(self):
        """Return the secondary numbers (events, execs, corrupt files)."""
        return (f"chaos details: {self.execs} execs, {self.corrupt} corrupt state files, "
                f"{self.events_seen} exit events, {self.duplicate_events} repeated, "
                f"{self.events_missed} undelivered (subscribers resume with ?after=SEQ)")


class EventLog(threading.Thread):
    """Collect the events one manager incarnation sends, resuming after the last seq seen."""

    def __init__(self, socket_path, since=None, after=None):
        super().__init__(daemon=True)
        self.exits = []
        self.seqs = []
        self.deleted = set()
        self.connected = threading.Event()
        self.conn = daemonutil.UnixConnection(socket_path, timeout=None)
        self.query = f"after={after}" if after is not None else f"since={since}"

    def run(self):
        """Read events until the manager goes away."""
        try:
            self.conn.request("GET", f"/v1/events?{self.query}")
            resp = self.conn.getresponse()
            self.connected.set()
            while True:
                line = resp.readline()
                if not line:
                    return
                event = json.loads(line)
                self.seqs.append(event["seq"])
                if event.get("type") == "exit":
                    self.exits.append(event)
                elif event.get("type") == "delete":
                    self.deleted.add(event["id"])
        except (OSError, ValueError, daemonutil.http.client.HTTPException):
            return
        finally:
            self.connected.set()
            self.conn.close()


class Checks:
    """Invariant checks, mixed into the Chaos driver (uses its client, root, boxes, report)."""

    def stdout_of(self, cid, exec_id, stream="stdout", follow=False):
        """Return the bytes a process wrote to STREAM, from the logs API.

        FOLLOW (for a process that ended): to the end of the drain, which goes
        on after the exit is recorded (the shim writes exitStatus first).
        """
        out = bytearray()
        for record in self.client.logs(cid, exec_id=exec_id, follow=follow):
            if record.get("stream") == stream:
                out += base64.b64decode(record["data"])
        return bytes(out)

    def verify(self, box):
        """Check the exit code and the lines of every process of a stopped container."""
        found = self.client.state(box.id)
        by_id = {p["id"]: p for p in found["processes"]}
        procs = [(box.init, found)] + [(p, by_id.get(p.exec_id)) for p in box.execs.values()]
        for proc, st in procs:
            if proc.checked or st is None:
                continue
            if proc.exec_id is not None and st["status"] != "stopped":
                self.client.wait(box.id, proc.exec_id)
                st = {p["id"]: p for p in self.client.state(box.id)["processes"]}[proc.exec_id]
            self.verify_process(box, proc, st)

    def verify_process(self, box, proc, st):
        """Check one stopped process: exit code, stdout and stderr lines."""
        name = box.id + (f"/{proc.exec_id}" if proc.exec_id else "")
        proc.checked = True
        if box.forced or (box.kind == "sleeper" and proc.exec_id is None and box.signal is None):
            return  # force-deleted or never signalled: no expected code
        if st["status"] != "stopped" or st["exit_code"] != proc.code:
            self.report.violate("lost_exits", f"{name}: expected exit {proc.code}, got "
                                              f"{st['status']} {st['exit_code']}")
        removed_bytes = removed_lines = 0
        for stream, count in (("stdout", proc.lines), ("stderr", proc.err_lines)):
            got = self.stdout_of(box.id, proc.exec_id, stream, follow=True)
            if got == numbered(count):
                continue
            gaps = removed_ranges(numbered(count), got)
            if gaps is None:  # garbled, repeated or reordered: never by design
                self.report.violate("lost_lines", f"{name} {stream}: {diff_lines(got, count)}")
                continue
            removed_bytes += sum(len(gap) for gap in gaps)
            removed_lines += sum(gap.count(b"\n") for gap in gaps)
        if removed_bytes:
            # Read again: the state before the drain ended may not count its drops.
            found = self.client.state(box.id)
            st = found if proc.exec_id is None else {
                p["id"]: p for p in found["processes"]}.get(proc.exec_id, st)
            self.account_missing(box, name, st, removed_bytes, removed_lines)

    def account_missing(self, box, name, st, removed_bytes, removed_lines):
        """Say why REMOVED_BYTES of NAME's output are missing, or count them lost.

        A full disk drops whole chunks and counts their framed (CRI) bytes in
        `dropped_bytes`, more than the raw bytes missing. A shim SIGKILLed with a
        chunk read but not logged loses it (docs/durability.md); an adopting
        shim's `dropped_bytes` starts at 0, so drops of a dead shim are not in it.
        """
        dropped = st.get("dropped_bytes") or 0
        why = (f"{removed_lines} lines ({removed_bytes} bytes) missing, dropped_bytes "
               f"{dropped}, {box.shim_kills} shim SIGKILLs, full disk seen: {box.full_disk}")
        if box.full_disk and dropped >= removed_bytes:
            self.report.full_disk_lines += removed_lines
            self.report.notes.append(f"full disk: {name}: {why}")
        elif box.shim_kills:
            self.report.dead_shim_lines += removed_lines
            self.report.notes.append(f"dead shim: {name}: {why}")
        else:
            self.report.violate("lost_lines", f"{name}: {why}")

    def check_invariants(self):
        """After a restart: no unknown status, true exit codes, no stray shim or container."""
        listed = {c["id"]: c for c in self.client.list()}
        for cid, found in listed.items():
            if cid not in self.boxes:
                self.report.violate("leaks", f"unexpected container {cid}")
            for st in [found] + found["processes"]:
                if st.get("error"):
                    self.report.violate("corrupt", f"{cid}/{st['id']}: {st['error']}")
        self.check_state_files()
        self.check_no_strays()

    def check_state_files(self):
        """Every state file read after a crash parses."""
        cdir = layout.containers_dir(self.root)
        for cid in os.listdir(cdir):
            if cid.startswith("."):
                continue
            try:
                layout.read_json(os.path.join(cdir, cid, layout.CONTAINER_JSON))
                for name in os.listdir(os.path.join(cdir, cid)):
                    pdir = os.path.join(cdir, cid, name)
                    if name.startswith(".") or name == "bundle" or not os.path.isdir(pdir):
                        continue
                    layout.read_shim_pid(pdir)
                    layout.read_exit_status(pdir)
            except layout.StateError as err:
                self.report.violate("corrupt", str(err))

    def strays(self):
        """Return shims and runtime containers the manager does not account for."""
        listed = self.client.list()
        shims = {p["shim_pid"] for c in listed for p in [c] + c["processes"]}
        ids = {c["id"] for c in listed}
        stray = [f"shim {pid}" for pid in shim_pids(self.root) if pid not in shims]
        stray += [f"runc {cid} {status}" for cid, status, _pid in
                  helpers.runc_list(os.path.join(self.root, "runc")) if cid not in ids]
        return stray

    def check_no_strays(self):
        """Fail on a shim or runtime container nobody knows (after a short settling time)."""
        # A shim started by a killed manager may still be starting: give it time.
        deadline = time.monotonic() + 10
        while True:
            stray = self.strays()
            if not stray or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # poll interval of a deadline loop
        for item in stray:
            self.report.violate("leaks", item)

    def check_events(self):
        """Every exit reaches the subscriber as exactly one event with the true code.

        The subscriber reconnects to each manager incarnation with ?after=
        the last seq it saw, so the journal gives it what it missed while the
        manager was down or was killed mid-send, and nothing twice.
        """
        # Events reach our reader after the answers that caused them: the last
        # incarnation's stream has caught up once it carries the last delete.
        last, cid = self.event_logs[-1], self.last_deleted
        if cid is not None:
            helpers.wait_until(lambda: cid in last.deleted or not last.is_alive(), 10,
                               what="the event stream caught up")
        seqs = [seq for events in self.event_logs for seq in events.seqs]
        if len(seqs) != len(set(seqs)):
            self.report.violate("lost_exits", "an event was delivered twice (same seq)")
        seen = {}
        for events in self.event_logs:
            for event in events.exits:
                seen.setdefault((event["id"], event["exec_id"]), []).append(
                    (event["exit_code"], event["time"]))
        for box in self.boxes.values():
            for proc in [box.init, *box.execs.values()]:
                if not proc.checked or proc.code is None:
                    continue
                published = seen.get((box.id, proc.exec_id), [])
                codes = [code for code, _time in published]
                self.report.events_seen += len(codes)
                if len(codes) > 1:
                    self.report.duplicate_events += 1
                    self.report.repeated.append(f"{box.id} {proc.exec_id}")
                    self.report.violate("lost_exits", f"{box.id} {proc.exec_id}: "
                                                      f"{len(codes)} exit events")
                if len(set(published)) > 1:
                    self.report.violate("lost_exits", f"{box.id} {proc.exec_id}: events "
                                                      f"differ: {published}")
                if any(code != proc.code for code in codes):
                    self.report.violate("lost_exits", f"{box.id} {proc.exec_id}: event codes "
                                                      f"{codes}, expected {proc.code}")
                if not codes:
                    self.report.events_missed += 1
                    self.report.undelivered.append(f"{box.id} {proc.exec_id}")
                    self.report.violate("lost_exits", f"{box.id} {proc.exec_id}: "
                                                      "no exit event")

    def check_nothing_left(self):
        """After the last delete: no container, shim, runtime state or directory is left."""
        helpers.wait_until(lambda: not shim_pids(self.root), 20, what="every shim gone")
        left = [c[0] for c in helpers.runc_list(os.path.join(self.root, "runc"))]
        left += [n for n in os.listdir(layout.containers_dir(self.root))]
        left += [c["id"] for c in self.client.list()]
        prefix = os.path.basename(cgroup_path(self.root, ""))
        left += glob.glob(f"/sys/fs/cgroup/*/{prefix}*") + glob.glob(f"/sys/fs/cgroup/{prefix}*")
        for item in left:
            self.report.violate("leaks", f"left behind: {item}")


def shim_pids(root):
    """Return the pids of live shims (and shim starters) working under ROOT."""
    return [pid for pid in helpers.processes_mentioning(os.path.join(root, "containers"))
            if b"--state-dir" in helpers.read_cmdline(pid)]


def removed_ranges(expected, got, probe=64):
    """Return the byte ranges of EXPECTED that GOT lacks, if GOT is EXPECTED minus ranges.

    Return None if GOT has bytes EXPECTED lacks there (repeated, reordered or
    garbled output). `seq` output has no repeated 64-byte piece, so the first
    place a piece of GOT matches is where it resumes.
    """
    gaps = []
    i = j = 0
    while j < len(got):
        piece = got[j:j + probe]
        k = expected.find(piece, i)
        if k < 0:
            return None
        if k > i:
            gaps.append(expected[i:k])
        # Extend the match as far as it goes (binary search over slice compares).
        lo, hi = len(piece), min(len(got) - j, len(expected) - k)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if got[j:j + mid] == expected[k:k + mid]:
                lo = mid
            else:
                hi = mid - 1
        i, j = k + lo, j + lo
    if i < len(expected):
        gaps.append(expected[i:])
    return gaps


def diff_lines(got, count):
    """Describe how GOT differs from `seq 1 COUNT`: missing and duplicated numbers."""
    numbers = [int(x) for x in got.split(b"\n") if x.strip().isdigit()]
    missing = sorted(set(range(1, count + 1)) - set(numbers))
    dups = len(numbers) - len(set(numbers))
    return f"{len(missing)} missing (first {missing[:5]}), {dups} duplicated"
