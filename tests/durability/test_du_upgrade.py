"""Upgrades with live containers (docs/upgrades.md): an earlier release's shims, this manager.

The earlier release is taken from this repository's history (`git archive`), run
from a venv of its own, starts containers on a temp root and is stopped; this
release's manager then starts on the same root and must find every container as
the old one left it: states, pids, exit codes (also of an exit while no manager
ran), logs, and serve exec, attach, resize, kill and delete on the old shims.
"""

import configparser
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile

import pexpect
import pytest

from cliutil import TETHER_ARGV, Manager, read_until, stop_process
import helpers
import managerfixture
import shim.contract
from shim.contract import layout

REPO = managerfixture.REPO
# The last commit before the contract version (8f082a9^): every shim of contract 0.
PREVIOUS = "1356209f35f79b932c189d325bd82817c0ba1dba"
# The last commit before the house split (913c027): the old module tree, also contract 0.
BEFORE_SPLIT = "7faff5279ee35b7513580f5c2f29126e7cd66b69"

PIPES = "echo started; while read x; do echo got-$x; done; exit 4"  # EOF on stdin: 4
TERMINAL = "trap 'exit 6' TERM; while :; do stty size; sleep 0.05; done"
TICKER = "trap 'exit 5' TERM; while :; do echo tick; sleep 0.01; done"
LATER = "trap 'exit 7' USR1; echo ready; while :; do sleep 0.02; done"
DETACH = "\x10\x11"


def git(*args):
    """Run git in REPO; return the completed process (never raises on its status)."""
    return subprocess.run(["git", "-C", REPO, *args], capture_output=True, check=False)


class Release:
    """An earlier release from git, in its own venv: its CLI and console scripts."""

    def __init__(self, base, commit):
        self.commit = commit
        self.src = os.path.join(base, commit[:7], "src")
        self.venv = os.path.join(base, commit[:7], "venv")
        self.bin = os.path.join(self.venv, "bin")

    def build(self):
        """Unpack the release's manager/ and shim/ and make a venv that finds them first."""
        if shutil.which("git") is None:
            pytest.skip("no git: the earlier release comes from this repository's history")
        if git("rev-parse", "--git-dir").returncode != 0:
            pytest.skip(f"{REPO} is no git repository: the earlier release comes from its history")
        if git("cat-file", "-e", f"{self.commit}^{{commit}}").returncode != 0:
            pytest.skip(f"commit {self.commit[:7]} is not in {REPO}'s history (a shallow clone? "
                        "git fetch --unshallow)")
        os.makedirs(self.src)
        archive = git("archive", self.commit, "manager", "shim", "setup.cfg")
        assert archive.returncode == 0, archive.stderr
        subprocess.run(["tar", "-x", "-C", self.src], input=archive.stdout, check=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", self.venv], check=True)
        site = os.path.join(self.venv, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}",
                            "site-packages")
        # The old source before this interpreter's site-packages (its dependencies:
        # python-daemon, pyinotify, orjson), whatever that holds of this release.
        with open(os.path.join(site, "0-tether-release.pth"), "w") as f:
            f.write(self.src + "\n")
        deps = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
        with open(os.path.join(site, "1-deps.pth"), "w") as f:
            f.write("".join(path + "\n" for path in deps))
        self._write_console_scripts()
        return self

    def _write_console_scripts(self):
        # As pip would: one wrapper per entry point of the release's setup.cfg.
        cfg = configparser.ConfigParser()
        cfg.read(os.path.join(self.src, "setup.cfg"))
        for line in cfg["options.entry_points"]["console_scripts"].strip().splitlines():
            name, target = (part.strip() for part in line.split("="))
            module, function = target.split(":")
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write(f"#!{os.path.join(self.bin, 'python')}\nimport sys\n"
                        f"from {module} import {function}\nsys.exit({function}())\n")
            os.chmod(path, 0o755)

    def manager(self, root, log_path):
        """Return a ManagerProcess that runs this release's `tether daemon` on ROOT."""
        old = managerfixture.ManagerProcess(root, log_path)
        old.argv = [os.path.join(self.bin, "tether"), "--root", root, "daemon"]
        return old

    def tether(self, root, *args):
        """Run this release's CLI on ROOT; return (rc, stdout, stderr)."""
        done = subprocess.run([os.path.join(self.bin, "tether"), "--root", root, *args],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.fixture(scope="module")
def releases():
    """Return release(commit) -> a built Release, each built once for the module."""
    base = tempfile.mkdtemp(prefix="ttrel", dir="/tmp")
    built = {}

    def release(commit):
        if commit not in built:
            built[commit] = Release(base, commit).build()
        return built[commit]

    yield release
    shutil.rmtree(base, ignore_errors=True)


def descendants(pid):
    """Return the pids of PID's children, theirs, and so on (now)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/task/{current}/children") as f:
                children = [int(p) for p in f.read().split()]
        except OSError:
            continue
        found += children
        todo += children
    return found


def stop_old_manager(old, sig):
    """Stop the old manager with SIG; wait until its spawner and zygote are gone too."""
    helpers_of_old = descendants(old.proc.pid)
    old.kill(sig)
    for pid in helpers_of_old:
        helpers.wait_until(lambda: not helpers.pid_alive(pid), 10,
                           what=f"the old manager's helper {pid} gone")


def start_old_containers(old_tether, rootfs):
    """Start the containers of the upgrade on the old release; return their states."""
    runs = [("pipes", ["-i"], PIPES), ("terminal", ["-t"], TERMINAL), ("ticker", [], TICKER),
            ("before", [], "echo bye; exit 3"), ("later", [], LATER)]
    for cid, flags, script in runs:
        assert old_tether("run", "-d", *flags, cid, "--rootfs", rootfs, "--", "sh", "-c",
                          script) == (0, f"{cid}\n", "")
    assert old_tether("wait", "before") == (3, "3\n", "")
    helpers.wait_until(lambda: "ready" in old_tether("logs", "later")[1], what="later's trap")
    helpers.wait_until(lambda: old_tether("logs", "terminal")[1].count("\n") > 1,
                       what="the terminal's output")
    rc, out, err = old_tether("list", "--json")
    assert rc == 0, err
    return {s["id"]: s for s in json.loads(out)}


def journal(root):
    """Return the journal's events, oldest first."""
    events = []
    for name in (layout.EVENTS_LOG + ".1", layout.EVENTS_LOG):
        path = os.path.join(root, name)
        if os.path.exists(path):
            with open(path) as f:
                events += [json.loads(line) for line in f if line.strip()]
    return events


def attach_terminal(root, cid):
    """Attach to CID's terminal at 33x90, see the shell report that size, detach (exit 0)."""
    argv = TETHER_ARGV + ["--root", root, "attach", cid]
    child = pexpect.spawn(argv[0], argv[1:], dimensions=(33, 90), timeout=10)
    try:
        child.expect_exact("33 90")
        child.send(DETACH)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, (child.exitstatus, child.before)
    finally:
        child.close(force=True)


def attach_pipes(argv):
    """Attach with ARGV to the pipes container: a line in, its echo out, EOF ends it (4)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"ping\n")
        proc.stdin.flush()
        read_until(proc, b"got-ping\n")
        # Only now EOF: close_stdin goes by the control FIFO, the line by the stdin FIFO.
        proc.stdin.close()
        assert proc.wait(10) == 4, proc.stderr.read()
        assert proc.read_so_far + proc.stdout.read() == b"got-ping\n"
    finally:
        if not proc.stdin.closed:
            proc.stdin.close()
        stop_process(proc)


def check_adopted_state(new, before):
    """The new manager's states: the old pids, the true exit codes."""
    rc, out, err = new.tether("list", "--json")
    assert rc == 0, err
    after = {s["id"]: s for s in json.loads(out)}
    assert sorted(after) == sorted(before)
    for cid in ("pipes", "terminal", "ticker"):
        assert (after[cid]["status"], after[cid]["pid"], after[cid]["shim_pid"]) == \
            ("running", before[cid]["pid"], before[cid]["shim_pid"]), after[cid]
        assert helpers.pid_alive(before[cid]["shim_pid"])  # the old release's shim, still
    assert (after["before"]["status"], after["before"]["exit_code"],
            after["before"]["exited_at"]) == ("stopped", 3, before["before"]["exited_at"])
    written = layout.read_exit_status(layout.process_dir(new.root, "later"))
    assert (after["later"]["status"], after["later"]["exit_code"],
            after["later"]["exited_at"]) == ("stopped", 7, written["exited_at"])
    assert after["terminal"]["tty"] is True and after["pipes"]["stdin"] is True


def check_old_shims_served(new):
    """Logs, exec, attach (pipes and terminal), re-adoption and kill through old shims."""
    tether = new.tether
    assert tether("logs", "before") == (0, "bye\n", "")
    assert tether("logs", "later") == (0, "ready\n", "")
    assert tether("exec", "pipes", "--", "echo", "inside") == (0, "inside\n", "")
    # The exec's directory is this release's (contract 1) beside the old init's (0).
    cdir = layout.container_dir(new.root, "pipes")
    versions = {name: layout.read_contract_version(os.path.join(cdir, name))
                for name in os.listdir(cdir) if os.path.isdir(os.path.join(cdir, name)) and
                name != layout.BUNDLE_DIR}
    assert sorted(versions.values()) == [0, shim.contract.VERSION], versions
    # Stdin through the old shim's FIFO, EOF through its control FIFO (close_stdin).
    attach_pipes(TETHER_ARGV + ["--root", new.root, "attach", "pipes"])
    assert tether("logs", "pipes") == (0, "started\ngot-ping\n", "")  # old output, then new
    attach_terminal(new.root, "terminal")  # attach's resize through the old control FIFO
    # Its old shim SIGKILLed: the PTY master was found in /proc (a shim of contract 0
    # wrote no fds.json) and kept, so no hang-up; resizes reach it through the new shim.
    sigkill_and_adopt(new, "terminal")
    assert tether("resize", "terminal", "100", "40") == (0, "", "")
    helpers.wait_until(lambda: "40 100" in tether("logs", "--tail", "3", "terminal")[1],
                       what="the size of tether resize")
    assert tether("kill", "terminal", "KILL") == (0, "", "")
    assert tether("wait", "terminal") == (137, "137\n", "")
    # The old shim SIGKILLed: a shim of this release adopts its process.
    sigkill_and_adopt(new, "ticker")
    ticks = tether("logs", "ticker")[1].count("tick")
    helpers.wait_until(lambda: tether("logs", "ticker")[1].count("tick") > ticks + 3,
                       what="ticker's output logged by its new shim")
    assert tether("kill", "ticker") == (0, "", "")
    assert tether("wait", "ticker") == (5, "5\n", "")


def sigkill_and_adopt(new, cid):
    """SIGKILL CID's (old) shim; return its state once a shim of this release runs it."""
    before = new.state(cid)
    os.kill(before["shim_pid"], signal.SIGKILL)
    adopted = helpers.wait_until(
        lambda: (s := new.state(cid))["shim_pid"] not in (before["shim_pid"], None) and s, 10,
        what=f"a new shim for {cid}")
    assert (adopted["status"], adopted["pid"]) == ("running", before["pid"]), adopted
    return adopted


def check_journal(root, old_seqs):
    """Each exit journaled once, by whichever manager saw it; the numbering goes on."""
    events = journal(root)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert seqs[:len(old_seqs)] == old_seqs
    exits = [(e["id"], e.get("exit_code")) for e in events
             if e["type"] == "exit" and e.get("exec_id") is None]
    assert sorted(exits) == [("before", 3), ("later", 7), ("pipes", 4), ("terminal", 137),
                             ("ticker", 5)], exits


@pytest.mark.parametrize("commit, stop_signal", [
    (PREVIOUS, signal.SIGKILL), (PREVIOUS, signal.SIGTERM), (BEFORE_SPLIT, signal.SIGKILL)],
    ids=["previous-sigkill", "previous-sigterm", "before-split-sigkill"])
def test_du_upgrade_keeps_the_earlier_releases_containers(releases, commit, stop_signal, root,
                                                          tmp, rootfs):
    release = releases(commit)
    old = release.manager(root, os.path.join(tmp, "old-manager.log"))
    new = Manager(root, os.path.join(tmp, "manager.log"))
    try:
        old.start()
        before = start_old_containers(lambda *a: release.tether(root, *a), rootfs)
        old_seqs = [e["seq"] for e in journal(root)]
        stop_old_manager(old, stop_signal)
        assert not os.path.exists(os.path.join(layout.process_dir(root, "pipes"),
                                               layout.CONTRACT))  # contract 0 indeed
        # An exit while no manager runs: only the old shim sees it.
        os.kill(before["later"]["pid"], signal.SIGUSR1)
        helpers.wait_until(lambda: layout.read_exit_status(layout.process_dir(root, "later")),
                           what="later's exitStatus")
        new.start()
        check_adopted_state(new, before)
        check_old_shims_served(new)
        check_journal(root, old_seqs)
        for cid in before:
            assert new.tether("delete", cid) == (0, "", "")
        assert os.listdir(layout.containers_dir(root)) == []
    finally:
        if new.proc is not None and new.proc.poll() is None:
            new.remove_all()
        new.kill()
        old.kill()


def test_du_a_newer_contracts_directory_is_reported_and_left_alone(root, tmp, rootfs):
    # A downgrade: the process directory of a newer release's shim (contract VERSION+1).
    newer = shim.contract.VERSION + 1
    manager = Manager(root, os.path.join(tmp, "manager.log"))
    try:
        manager.start()
        assert manager.tether("run", "-d", "n1", "--rootfs", rootfs, "--", "sleep", "1000") == \
            (0, "n1\n", "")
        started = manager.state("n1")
        manager.kill()
        proc_dir = layout.process_dir(root, "n1")
        layout.atomic_write(os.path.join(proc_dir, layout.CONTRACT), b"%d\n" % newer)
        files = {name: helpers.read_bytes(os.path.join(proc_dir, name))
                 for name in os.listdir(proc_dir) if os.path.isfile(os.path.join(proc_dir, name))}
        reason = f"contract version {newer} is newer than this manager's {shim.contract.VERSION}"
        for _restart in range(2):  # twice: not removed by the first, not misread by the second
            manager.start()
            state = manager.state("n1")
            assert (state["status"], state.get("error"), state["pid"]) == \
                ("unknown", reason, None), state
            for argv in (["delete", "n1"], ["delete", "--force", "n1"], ["kill", "n1"]):
                rc, _out, err = manager.tether(*argv)
                assert rc == 125 and "n1" in err and reason in err, (argv, rc, err)
            manager.kill()
            assert f"skip {proc_dir}: {reason}" in manager.log()
        assert helpers.pid_alive(started["pid"]) and helpers.pid_alive(started["shim_pid"])
        assert {name: helpers.read_bytes(os.path.join(proc_dir, name))
                for name in files} == files
        # Back to this release's contract: the same directory is read as usual again.
        layout.atomic_write(os.path.join(proc_dir, layout.CONTRACT), layout.contract_data())
        manager.start()
        state = manager.state("n1")
        assert (state["status"], state["pid"]) == ("running", started["pid"]), state
        assert manager.tether("delete", "--force", "n1") == (0, "", "")
    finally:
        if manager.proc is not None and manager.proc.poll() is None:
            manager.remove_all()
        manager.kill()


def test_du_downgrade_to_the_previous_release_keeps_this_releases_containers(releases, root,
                                                                              tmp, rootfs):
    # Contract 1 is contract 0 plus files a release of 0 never reads (contract, fds.json, ...).
    release = releases(PREVIOUS)
    new = Manager(root, os.path.join(tmp, "manager.log"))
    old = release.manager(root, os.path.join(tmp, "old-manager.log"))
    try:
        new.start()
        assert new.tether("run", "-d", "-i", "pipes", "--rootfs", rootfs, "--", "sh", "-c",
                          PIPES) == (0, "pipes\n", "")
        assert new.tether("run", "-d", "before", "--rootfs", rootfs, "--", "sh", "-c",
                          "echo bye; exit 3") == (0, "before\n", "")
        assert new.tether("wait", "before") == (3, "3\n", "")
        helpers.wait_until(lambda: new.tether("logs", "pipes")[1] == "started\n",
                           what="pipes started")
        pid = new.state("pipes")["pid"]
        new.kill()
        old.start()
        rc, out, err = release.tether(root, "list", "--json")
        assert rc == 0, err
        states = {s["id"]: s for s in json.loads(out)}
        assert (states["pipes"]["status"], states["pipes"]["pid"]) == ("running", pid)
        assert (states["before"]["status"], states["before"]["exit_code"]) == ("stopped", 3)
        assert release.tether(root, "exec", "pipes", "--", "echo", "inside") == \
            (0, "inside\n", "")
        attach_pipes([os.path.join(release.bin, "tether"), "--root", root, "attach", "pipes"])
        for cid in ("pipes", "before"):
            assert release.tether(root, "delete", cid) == (0, "", "")
    finally:
        for manager in (old, new):
            if manager.proc is not None and manager.proc.poll() is None:
                manager.remove_all()
            manager.kill()
