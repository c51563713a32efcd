"""Reattach: gather the facts of each process directory, then classify them (pure)."""

import collections
import logging
import os

from shim.contract import VERSION as CONTRACT_VERSION, layout

log = logging.getLogger("tether.scan")

RUNNING = "running"
EXITED = "exited"
SHIM_LOST = "shim-lost"
BROKEN = "broken"
NEWER = "newer"  # written to a newer contract than ours: left alone, never misread

# shim_pid, exit_status: "ok" | "missing" | "malformed" | "unread"; shim_alive: bool;
# contract: "ok" (a version we know, 0 without the file) | "newer" | "malformed"
Facts = collections.namedtuple("Facts", "shim_pid shim_alive exit_status contract",
                               defaults=("ok",))


def classify(facts):
    """Decide what a process directory is: running, exited, shim-lost, broken or newer."""
    if facts.contract == "newer":
        return NEWER
    if facts.contract == "malformed":
        return BROKEN
    if facts.exit_status == "ok":
        # The exit status is the commit point: whatever else is there, it exited.
        return EXITED
    if facts.exit_status == "malformed":
        return BROKEN
    if facts.shim_pid != "ok":
        # No shim ever recorded itself (or its record is torn): nothing to reattach to.
        return BROKEN
    if facts.shim_alive:
        return RUNNING
    return SHIM_LOST


class ProcessScan:
    """Everything read from one process directory, and its classification."""

    def __init__(self, proc_dir):
        self.dir = proc_dir
        self.errors = []
        self.shim = None
        self.exit_status = None
        self.pid = None
        self.starttime = None
        self.process_json = {}
        self.times = {}
        self.verdict = None
        self.facts = None

    def _read(self, reader, *args):
        try:
            return "ok", reader(*args)
        except layout.StateError as err:
            self.errors.append(str(err))
            return ("missing" if "no such file" in str(err) else "malformed"), None

    def gather(self):
        """Read the files of the directory and classify it; never raises StateError."""
        contract_fact = self._read_contract()
        if contract_fact != "ok":
            # Nothing else is read: a newer shim's files may mean something else.
            self.facts = Facts("unread", False, "unread", contract_fact)
            self.verdict = classify(self.facts)
            return self
        shim_fact, self.shim = self._read(layout.read_shim_pid, self.dir)
        if not os.path.exists(os.path.join(self.dir, layout.EXIT_STATUS)):
            exit_fact = "missing"
        else:
            exit_fact, self.exit_status = self._read(layout.read_exit_status, self.dir)
        alive = shim_fact == "ok" and layout.pid_alive(*self.shim)
        self.facts = Facts(shim_fact, alive, exit_fact)
        self.verdict = classify(self.facts)
        self._read_optional()
        return self

    def _read_contract(self):
        """Return "ok", "newer" or "malformed" for the directory's contract version."""
        fact, version = self._read(layout.read_contract_version, self.dir)
        if fact != "ok":
            return "malformed"
        if version > CONTRACT_VERSION:
            self.errors.append(f"contract version {version} is newer than this manager's "
                               f"{CONTRACT_VERSION}")
            return "newer"
        return "ok"

    def _read_optional(self):
        for name, attr in ((layout.PID, "pid"), (layout.STARTTIME, "starttime")):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                setattr(self, attr, self._read(layout.read_int, path)[1])
        for name, attr in ((layout.PROCESS_JSON, "process_json"), (layout.TIMES_JSON, "times")):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                setattr(self, attr, self._read(layout.read_json, path)[1] or {})




class ContainerScan:
    """One container directory: its container.json and its process directories."""

    def __init__(self, cdir):
        self.dir = cdir
        self.id = os.path.basename(cdir)
        self.meta = None
        self.error = None
        self.processes = {}

    def gather(self):
        """Read container.json and scan every process directory."""
        try:
            self.meta = layout.read_json(os.path.join(self.dir, layout.CONTAINER_JSON))
        except layout.StateError as err:
            self.error = str(err)
        for name in sorted(os.listdir(self.dir)):
            path = os.path.join(self.dir, name)
            if name.startswith(".") or name == layout.BUNDLE_DIR or os.path.islink(path) or \
                    not os.path.isdir(path):
                continue
            if name != layout.INIT and not layout.ID_RE.fullmatch(name):
                continue
            self.processes[name] = ProcessScan(path).gather()
        return self


def scan_containers(containers_path):
    """Return a ContainerScan for every container directory (hidden names skipped)."""
    found = []
    for name in sorted(os.listdir(containers_path)):
        path = os.path.join(containers_path, name)
        # A symlink is never adopted: delete would act on what it points to.
        if name.startswith(".") or not layout.ID_RE.fullmatch(name) or \
                os.path.islink(path) or not os.path.isdir(path):
            if name.startswith(layout.DELETED_PREFIX):
                layout.remove_tree(path)
            continue
        try:
            cscan = ContainerScan(path).gather()
        except OSError as err:
            log.error("scan container %s: %s", path, err)
            continue
        if not discard_never_started(cscan):
            found.append(cscan)
    return found


def never_started(facts):
    """Return True for a process directory no shim ever recorded itself in.

    The manager makes the directory, then starts the shim, which writes
    shim.pid before anything else (and gives up if its manager is gone): a
    manager killed in between leaves a directory in which nothing will ever run.
    """
    return facts.shim_pid == "missing" and facts.exit_status == "missing"


def discard_never_started(cscan):
    """Remove the never-started process directories of CSCAN; True if the container went too."""
    for name, pscan in list(cscan.processes.items()):
        if never_started(pscan.facts):
            log.warning("remove %s: no shim ever started there", pscan.dir)
            layout.remove_tree(pscan.dir)
            del cscan.processes[name]
    if cscan.processes:
        return False
    # Also a container whose init process never started (container.json alone):
    # its create request died with the manager before the shim ran.
    log.warning("remove %s: its init process never started", cscan.dir)
    layout.remove_tree(cscan.dir)
    return True
