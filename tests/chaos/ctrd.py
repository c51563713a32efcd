"""containerd chaos: io.containerd.tether.v1 tasks while containerd is SIGKILLed.

A private containerd (tests/containerd/conftest.py's Containerd: own root,
state and sockets) runs tasks started with `ctr run -d --runtime
io.containerd.tether.v1 --log-uri file://...`: numbered lines, then an exit
with a known code (by themselves, or a trapped TERM: 43, or KILL: 137).
containerd is SIGKILLed between operations and during `ctr run` (a timer
0-150 ms after it started), optionally also the tether serving process, and
restarted. After each restart every task believed started must be listed;
at the end every task's exit code must be what `ctr task delete` reports,
every log file must hold its lines exactly once in order, and nothing may be
left: serving processes, shims, mounts, cgroups. `python -m tests.chaos --containerd`.
"""

import glob
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import tests.chaos  # noqa: F401  (sys.path)

import helpers  # noqa: E402
import mkbundle  # noqa: E402
from manager.core.files import cgroup_path  # noqa: E402

from .checks import numbered  # noqa: E402

_CTRD_TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "containerd")
sys.path.insert(0, _CTRD_TESTS)
import ctrutil  # noqa: E402

_spec = importlib.util.spec_from_file_location("ctrd_conftest",
                                               os.path.join(_CTRD_TESTS, "conftest.py"))
ctrd_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ctrd_conftest)

TERM_CODE = 43


class Task:
    """What the workload expects of one task."""

    def __init__(self, cid, kind, lines, code, log_path):
        self.id = cid
        self.kind = kind  # "exit": ends by itself; "sleeper": ends when signalled
        self.lines = lines
        self.code = code
        self.log_path = log_path
        self.phase = "starting"

    def argv(self):
        """Return the task's argv."""
        if self.kind == "exit":
            return ["/bin/sh", "-c", f"seq 1 {self.lines}; sleep 0.$RANDOM; exit {self.code}"]
        return ["/bin/sh", "-c", f'trap "exit {TERM_CODE}" TERM; seq 1 {self.lines}; '
                                 "sleep 100000 & wait"]


class CtrdReport:
    """Counters of the containerd run."""

    def __init__(self):
        self.kills = self.serving_kills = self.tasks = self.cleaned = 0
        self.lost_exits = self.lost_lines = self.leaks = 0
        self.violations = []

    def violate(self, kind, message):
        """Count one violation of KIND and remember why."""
        setattr(self, kind, getattr(self, kind) + 1)
        self.violations.append(f"{kind}: {message}")

    def summary(self):
        """Return the one-line summary."""
        serving = (f" (+{self.serving_kills} serving-process SIGKILLs, {self.cleaned} tasks "
                   "ended by containerd's cleanup)") if self.serving_kills else ""
        return (f"chaos containerd: {self.kills} kills{serving}, {self.tasks} containers, "
                f"{self.lost_exits} lost exits, {self.lost_lines} lost lines, {self.leaks} leaks")


class CtrdChaos:
    """Drive tasks through ctr while containerd is SIGKILLed."""

    def __init__(self, path, rootfs, seed, kills, max_alive=6, serving_kills=False, log=print):
        self.cd = ctrd_conftest.Containerd(path)
        self.rootfs = rootfs
        self.logs = os.path.join(path, "logs")
        os.mkdir(self.logs)
        self.rng = random.Random(seed)
        self.target_kills = kills
        self.max_alive = max_alive
        self.serving_kills = serving_kills
        self.log = log
        self.tasks = {}
        self.serial = 0
        self.report = CtrdReport()
        self.killed = False  # set by the timer of a kill during `ctr run`

    # -- containerd ----------------------------------------------------------

    def kill_containerd(self):
        """SIGKILL containerd (if it runs) and restart it."""
        if self.cd.proc.poll() is None:
            self.cd.proc.send_signal(signal.SIGKILL)
        self.cd.proc.wait()
        self.report.kills += 1
        self.cd.start()
        self.resync()

    def kill_serving(self):
        """SIGKILL the tether serving processes: containerd cleans their tasks up.

        containerd deletes the task of a shim that disconnected and publishes
        its exit: the true code of one that ended, 137 for one the cleanup
        killed (tests/containerd/test_containerd_survival.py). Each must come.
        """
        pids = [pid for pid in ctrutil.pids_with(self.cd.base)
                if b"-listen-fd" in helpers.read_cmdline(pid)]
        if not pids:
            return
        running = {t.id: t for t in self.alive() if t.phase in ("running", "stopping", "stopped")}
        events = ctrutil.subscribed_events(self.cd.socket)
        exits = {}
        reader = threading.Thread(target=read_exits, args=(events, exits), daemon=True)
        reader.start()
        try:
            for pid in pids:
                helpers.kill_if_alive(pid)
            self.report.serving_kills += 1
            deadline = time.monotonic() + 20
            while set(running) - set(exits) and time.monotonic() < deadline:
                time.sleep(0.05)  # poll interval of a deadline loop
        finally:
            events.kill()
            events.wait()
            reader.join(5)
        for cid, task in running.items():
            codes = {task.code, 128 + signal.SIGKILL} if task.kind == "exit" else {
                task.code or 128 + signal.SIGKILL}
            if exits.get(cid) not in codes:
                self.report.violate("lost_exits", f"{cid}: exit event {exits.get(cid)} after "
                                                  f"its serving process's SIGKILL, expected "
                                                  f"{sorted(codes)}")
            helpers.wait_until(lambda: cid not in self.listed(), 20, what=f"{cid} cleaned up")
            self.cd.ctr("container", "delete", cid, check=False)
            task.phase = "deleted"
            self.report.cleaned += 1

    def settles(self, task):
        """Return True if TASK, created, turns running within 2 s (its Start was under way)."""
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            if self.listed().get(task.id) != "CREATED":
                return True
            time.sleep(0.1)  # poll interval of a deadline loop
        return False

    def listed(self):
        """Return {id: status} of ctr task list."""
        out = self.cd.ctr("task", "list").stdout.decode().splitlines()[1:]
        return {f[0]: f[2] for f in (line.split() for line in out) if len(f) >= 3}

    def containers(self):
        """Return the container ids containerd knows."""
        return set(self.cd.ctr("container", "list", "-q").stdout.decode().split())

    def resync(self):
        """After a restart: learn what an interrupted `ctr run` did; every task still listed."""
        tasks, containers = self.listed(), self.containers()
        for task in self.alive():
            if task.phase == "starting":
                if tasks.get(task.id) == "CREATED" and not self.settles(task):
                    # Created, never started (ctr died with containerd before Start):
                    # no run to judge; removed as a user would.
                    self.cd.ctr("task", "kill", "-s", "SIGKILL", task.id, check=False)
                    helpers.wait_until(lambda: self.listed().get(task.id) == "STOPPED", 20,
                                       what=f"{task.id} killed")
                    self.cd.ctr("task", "delete", task.id, check=False)
                    self.cd.ctr("container", "delete", task.id, check=False)
                    task.phase = "deleted"
                    self.report.tasks -= 1
                elif task.id in tasks:
                    task.phase = "running"
                else:  # the run died with containerd: no task, maybe a container record
                    if task.id in containers:
                        self.cd.ctr("container", "delete", task.id, check=False)
                    task.phase = "deleted"
                    self.report.tasks -= 1
            elif task.id not in tasks:
                self.report.violate("lost_exits", f"{task.id} ({task.phase}) not listed "
                                                  "after containerd's restart")
                task.phase = "deleted"

    # -- operations ------------------------------------------------------------

    def alive(self):
        """Return the tasks not deleted."""
        return [t for t in self.tasks.values() if t.phase != "deleted"]

    def op_run(self):
        """`ctr run -d` a new task, in a third of the cases with containerd killed under it."""
        self.serial += 1
        cid = f"k{self.serial:05d}"
        kind = "exit" if self.rng.random() < 0.6 else "sleeper"
        lines = self.rng.choice([self.rng.randint(1, 500), 20000])
        task = self.tasks[cid] = Task(cid, kind, lines, self.rng.randint(0, 120)
                                      if kind == "exit" else None,
                                      os.path.join(self.logs, cid + ".log"))
        self.report.tasks += 1
        argv = self.cd.run_argv(cid, self.rootfs, task.argv(), "-d",
                                "--log-uri", f"file://{task.log_path}")
        timer = None
        if self.rng.random() < 0.33:
            timer = threading.Timer(self.rng.uniform(0, 0.15), self._kill_now)
            timer.start()
        done = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
        if timer is not None:
            timer.cancel()
            timer.join()
        if self.killed or self.cd.proc.poll() is not None:
            self.killed = False
            self.cd.proc.wait()
            self.report.kills += 1
            self.cd.start()
            self.resync()
            return
        if done.returncode != 0:
            self.report.violate("lost_exits", f"ctr run {cid}: {done.stderr.decode()[-300:]}")
            task.phase = "deleted"
            return
        task.phase = "running"

    def _kill_now(self):
        if self.cd.proc.poll() is None:
            self.killed = True
            self.cd.proc.send_signal(signal.SIGKILL)

    def op_signal(self, task):
        """End a running sleeper: TERM (43) once its trap is set, else KILL (137)."""
        if task.code is None:
            term = self.rng.random() < 0.5 and read_bytes(task.log_path) == numbered(task.lines)
            task.code = TERM_CODE if term else 128 + signal.SIGKILL
        name = "SIGTERM" if task.code == TERM_CODE else "SIGKILL"
        self.cd.ctr("task", "kill", "-s", name, task.id, check=False)
        task.phase = "stopping"

    def op_delete(self, task):
        """Delete a stopped task; its exit code is `ctr task delete`'s (ctr exits with it)."""
        done = self.cd.ctr("task", "delete", task.id, check=False)
        said = (done.stdout + done.stderr).decode(errors="replace")
        found = re.search(r"exit code (\d+)", said)  # ctr warns of a non-zero one
        code = int(found.group(1)) if found else 0 if done.returncode == 0 else None
        if code != task.code:
            self.report.violate("lost_exits", f"{task.id}: expected exit {task.code}, "
                                              f"ctr task delete said {said.strip()[-200:]!r}")
        self.cd.ctr("container", "delete", task.id, check=False)
        task.phase = "deleted"
        self.check_lines(task)

    def check_lines(self, task):
        """The log file holds every line once, in order (stdout only: stderr is unused)."""
        # The relay may still be appending when the delete returns: poll, then judge.
        deadline = time.monotonic() + 10
        while (len(read_bytes(task.log_path)) < len(numbered(task.lines))
               and time.monotonic() < deadline):
            time.sleep(0.05)  # poll interval of a deadline loop
        got = read_bytes(task.log_path)
        if got != numbered(task.lines):
            self.report.violate("lost_lines", f"{task.id}: {len(got)} bytes, expected "
                                              f"{len(numbered(task.lines))}")

    def step(self):
        """Do one operation."""
        tasks = self.listed()
        for task in self.alive():
            if task.phase in ("running", "stopping") and tasks.get(task.id) == "STOPPED":
                task.phase = "stopped"
        options = [(self.op_run, ())] * 3 if len(self.alive()) < self.max_alive else []
        for task in self.alive():
            if task.phase == "stopped" and (task.kind == "exit" or task.code is not None):
                options += [(self.op_delete, (task,))] * 2
            elif task.phase == "running" and task.kind == "sleeper":
                options.append((self.op_signal, (task,)))
        if options:
            operation, args = self.rng.choice(options)
            operation(*args)
        else:
            time.sleep(0.05)  # every task is running its course: let time pass

    def run(self):
        """Run until the target number of kills, then end, verify and delete everything."""
        self.cd.start()
        try:
            while self.report.kills < self.target_kills:
                self.step()
                if self.serving_kills and self.rng.random() < 0.04:
                    self.kill_serving()
                if self.rng.random() < 0.15:
                    self.kill_containerd()
            self.wind_down()
        finally:
            self.cleanup()
        return self.report

    def wind_down(self):
        """Signal the sleepers, wait for every task, delete it; then nothing may be left."""
        for task in self.alive():
            if task.kind == "sleeper" and task.code is None:
                self.op_signal(task)
        for task in self.alive():
            try:
                helpers.wait_until(lambda: self.listed().get(task.id) == "STOPPED", 30,
                                   what=f"{task.id} stopped")
            except AssertionError as err:
                self.report.violate("lost_exits", str(err))
                continue
            self.op_delete(task)
        for cid in self.containers():
            self.report.violate("leaks", f"container {cid} left")
        self.cd.stop()
        base = self.cd.base
        deadline = time.monotonic() + 20
        while ctrutil.pids_with(base) and time.monotonic() < deadline:
            time.sleep(0.1)  # poll interval: the serving process ends after its idle delay
        for pid in ctrutil.pids_with(base):
            self.report.violate("leaks", f"process {pid}: {helpers.read_cmdline(pid)[:120]!r}")
        with open("/proc/self/mounts") as f:
            for line in f:
                if line.split()[1].startswith(self.cd.dir):
                    self.report.violate("leaks", f"mount {line.split()[1]}")
        tether_root = os.path.join(base, ctrutil.NAMESPACE, "shared")
        prefix = os.path.basename(cgroup_path(tether_root, ""))
        for group in (glob.glob(f"/sys/fs/cgroup/*/{prefix}*")
                      + glob.glob(f"/sys/fs/cgroup/{prefix}*")):
            self.report.violate("leaks", f"cgroup {group}")

    def cleanup(self):
        """Stop containerd and remove whatever is left (already counted as leaks)."""
        try:
            self.cd.cleanup_all()
        finally:
            self.cd.stop()
            ctrd_conftest.kill_leftovers(self.cd.base)
            ctrd_conftest.unmount_under(self.cd.dir)


def read_exits(events, exits):
    """Read `ctr events` lines into EXITS ({container id: exit status}) until EOF."""
    for raw in events.stdout:
        line = raw.decode(errors="replace")
        if " /tasks/exit " in line:
            event = json.loads(line[line.index("{"):])
            exits[event["container_id"]] = event.get("exit_status", 0)


def read_bytes(path):
    """Return PATH's bytes (empty if missing)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def main(opts):
    """Run `python -m tests.chaos --containerd`; return 1 on a violation."""
    tmp = tempfile.mkdtemp(prefix="tk", dir="/tmp")
    rootfs = os.path.join(tmp, "rootfs")
    mkbundle.build_rootfs(rootfs)
    path = os.path.join(tmp, "cd")
    os.mkdir(path)
    print(f"chaos containerd: seed {opts.seed}, dir {path}", flush=True)
    started = time.monotonic()
    report = CtrdChaos(path, rootfs, opts.seed, opts.kills, max_alive=opts.max_alive,
                       serving_kills=opts.serving_kills).run()
    print(report.summary())
    print(f"chaos containerd: {time.monotonic() - started:.0f} s")
    for line in report.violations:
        print("violation:", line)
    if report.violations:
        print(f"chaos containerd: state kept in {tmp}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0
