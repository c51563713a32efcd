"""A full state filesystem (a 3 MiB tmpfs) never costs a container its exit code."""

import json
import os

import pytest

import helpers
import managerfixture
from conftest import fill
from shim.contract import layout

LINE = "0123456789" * 9  # 91 bytes a line with its newline
FLOOD = f"yes {LINE} | head -c 6000000"  # twice the filesystem

@pytest.fixture
def disk_root(small_tmpfs, tmp):
    """A manager whose state root is on the small tmpfs; everything removed afterwards."""
    root = os.path.join(small_tmpfs, "root")
    os.mkdir(root, 0o711)
    manager = managerfixture.ManagerProcess(root, log_path=os.path.join(tmp, "manager.log"))
    manager.start()
    try:
        yield manager
    finally:
        filler = os.path.join(small_tmpfs, "filler")
        if os.path.exists(filler):
            os.unlink(filler)
        try:
            if manager.proc.poll() is None:
                manager.remove_all()
        finally:
            manager.kill()
            leaked = helpers.processes_mentioning(root)
            for pid in leaked:
                helpers.kill_if_alive(pid)
            helpers.runc_remove_all(os.path.join(root, "runc"))


def run(manager, cid, rootfs, script, **extra):
    """Create and start CID running SCRIPT under sh; return its state."""
    manager.ok("POST", "/v1/containers",
               {"id": cid, "rootfs": rootfs, "args": ["sh", "-c", script], **extra})
    return manager.ok("POST", f"/v1/containers/{cid}/start")


def wait_stopped(manager, cid, timeout=30):
    """Return CID's state once it is no longer created or running."""
    states = []

    def stopped():
        states.append(manager.ok("GET", f"/v1/containers/{cid}"))
        return states[-1]["status"] not in ("created", "running")

    helpers.wait_until(stopped, timeout, interval=0.02, what=f"{cid} stopped")
    return states[-1]


def assert_whole_records(proc_dir):
    """Every output file in PROC_DIR is whole CRI records (a full disk cut none)."""
    names = [n for n in os.listdir(proc_dir) if n.startswith(layout.OUTPUT_LOG)]
    assert names
    for name in names:
        with open(os.path.join(proc_dir, name), "rb") as f:
            data = f.read()
        assert not data or data.endswith(b"\n"), name
        for record in data.splitlines():
            stamp, stream, tag, _text = record.split(b" ", 3)
            assert stream == b"stdout" and tag in (b"F", b"P"), record[:80]
            layout.parse_time(stamp.decode())
    return names


def test_du_exit_code_kept_when_output_fills_the_disk(disk_root, rootfs):
    run(disk_root, "du-fill-exit", rootfs, f"{FLOOD}; exit 3")
    state = wait_stopped(disk_root, "du-fill-exit")
    assert (state["status"], state["exit_code"]) == ("stopped", 3), state
    assert state.get("dropped_bytes", 0) > 0
    assert_whole_records(os.path.join(disk_root.root, "containers", "du-fill-exit", "init"))


def test_du_exit_code_kept_when_the_disk_is_nearly_full_at_create(disk_root, rootfs,
                                                                  small_tmpfs):
    fill(small_tmpfs, leave=200 << 10)  # room for the create's files, not for its output
    run(disk_root, "du-fill-create", rootfs, f"{FLOOD}; exit 3")
    state = wait_stopped(disk_root, "du-fill-create")
    assert (state["status"], state["exit_code"]) == ("stopped", 3), state


def test_du_create_on_a_full_disk_is_refused_cleanly(disk_root, rootfs, small_tmpfs):
    filler = fill(small_tmpfs)
    code, answer = disk_root.request("POST", "/v1/containers", {
        "id": "du-full", "rootfs": rootfs, "args": ["true"]})
    assert code >= 400 and "No space left on device" in json.dumps(answer), (code, answer)
    os.unlink(filler)
    # Nothing half-made stays in the way: the same id works once space returned.
    run(disk_root, "du-full", rootfs, "exit 7")
    assert wait_stopped(disk_root, "du-full")["exit_code"] == 7


def test_du_exit_code_kept_when_the_disk_fills_during_rotation(disk_root, rootfs):
    run(disk_root, "du-fill-rotate", rootfs, f"{FLOOD}; exit 3",
        log_max_size=256 << 10, log_max_files=20)
    state = wait_stopped(disk_root, "du-fill-rotate")
    assert (state["status"], state["exit_code"]) == ("stopped", 3), state
    names = assert_whole_records(
        os.path.join(disk_root.root, "containers", "du-fill-rotate", "init"))
    assert len(names) > 2  # it rotated until the disk was full


def test_du_logging_resumes_when_space_returns(disk_root, rootfs, small_tmpfs):
    state = run(disk_root, "du-resume", rootfs,
                "sleep 0.5; i=0; while :; do echo line $i; i=$((i+1)); sleep 0.001; done")
    proc_dir = os.path.join(disk_root.root, "containers", "du-resume", "init")
    log_path = os.path.join(proc_dir, layout.OUTPUT_LOG)
    # Less than the log's headroom is left: output is held back, shim.log still written.
    filler = fill(small_tmpfs, leave=128 << 10)
    helpers.wait_until(lambda: b"output dropped" in helpers.read_bytes(
        os.path.join(proc_dir, layout.SHIM_LOG)), 10, what="the shim dropping output")
    size = os.path.getsize(log_path)
    os.unlink(filler)
    helpers.wait_until(lambda: os.path.getsize(log_path) > size + 1000, 10,
                       what="logging resumed")
    os.kill(state["pid"], 9)
    state = wait_stopped(disk_root, "du-resume")
    assert state["exit_code"] == 137 and state.get("dropped_bytes", 0) > 0, state
    assert_whole_records(proc_dir)


TRAP = "trap 'exit 5' TERM; while :; do echo tick; sleep 0.01; done"


def kill_shim_on_a_full_disk(manager, cid, rootfs, small_tmpfs):
    """Start CID, fill the disk, SIGKILL its shim; return (state before, filler path)."""
    state = run(manager, cid, rootfs, TRAP)
    filler = fill(small_tmpfs)
    os.kill(state["shim_pid"], 9)
    return state, filler


def test_du_a_shim_killed_on_a_full_disk_is_adopted_once_space_returns(disk_root, rootfs,
                                                                        small_tmpfs):
    before, filler = kill_shim_on_a_full_disk(disk_root, "du-adopt-full", rootfs, small_tmpfs)
    proc_dir = os.path.join(disk_root.root, "containers", "du-adopt-full", "init")
    helpers.wait_until(lambda: "tried again" in (disk_root.ok(
        "GET", "/v1/containers/du-adopt-full").get("error") or ""), 10,
        what="an adoption refused by the full disk")
    # The directory is kept whole: the dead shim's record is back in place.
    assert os.path.exists(os.path.join(proc_dir, layout.SHIM_PID))
    assert helpers.pid_alive(before["pid"])
    os.unlink(filler)

    def adopted():
        state = disk_root.ok("GET", "/v1/containers/du-adopt-full")
        return state["shim_pid"] not in (None, before["shim_pid"]) and state["status"] == \
            "running" and not state.get("error")
    helpers.wait_until(adopted, 20, what="the adoption once space returned")
    disk_root.ok("POST", "/v1/containers/du-adopt-full/kill", {"signal": "TERM"})
    state = wait_stopped(disk_root, "du-adopt-full")
    assert (state["status"], state["exit_code"], state["pid"]) == ("stopped", 5, before["pid"])


def test_du_an_exit_while_the_disk_is_full_and_the_shim_dead_is_kept(disk_root, rootfs,
                                                                     small_tmpfs):
    before, filler = kill_shim_on_a_full_disk(disk_root, "du-exit-full", rootfs, small_tmpfs)
    helpers.wait_until(lambda: "tried again" in (disk_root.ok(
        "GET", "/v1/containers/du-exit-full").get("error") or ""), 10,
        what="an adoption refused by the full disk")
    os.kill(before["pid"], 15)  # its exit is read from the pidfd the manager holds
    state = wait_stopped(disk_root, "du-exit-full", timeout=20)
    assert (state["status"], state["exit_code"]) == ("stopped", 5), state
    # What it wrote to its pipe after the shim died had no reader: said, not guessed.
    assert state["output_lost"] == {"bytes": "unknown", "reason": "no adopting shim could "
                                    "start to read its output"}, state
    os.unlink(filler)


def test_du_the_journal_keeps_its_lines_and_numbers_on_a_full_disk(small_tmpfs):
    from manager.core import journal
    root = os.path.join(small_tmpfs, "journal")
    os.mkdir(root)
    events = journal.Journal(root)
    events.open()
    filler = fill(small_tmpfs)
    try:
        for i in range(1000):  # ~50 kB of lines, none of which finds a free block
            events.append({"type": "exit", "id": f"c{i}", "time": "2026-12-03T08:00:00Z"})
        events.close()
        again = journal.Journal(root)
        again.open()  # a restart numbers on from the last line: no seq given twice
        assert again.next_seq == 1001
        again.close()
    finally:
        os.unlink(filler)


def proc_stat_field(pid, index):
    """Return field INDEX (0-based, after the command) of /proc/PID/stat, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[index]
    except (FileNotFoundError, ProcessLookupError):
        return None


def catches(pid, signum):
    """Return True if process PID has a handler for SIGNUM (/proc/PID/status SigCgt)."""
    with open(f"/proc/{pid}/status") as f:
        mask = next(line for line in f if line.startswith("SigCgt:")).split()[1]
    return bool(int(mask, 16) >> (signum - 1) & 1)


def test_du_drops_of_the_drain_after_the_exit_are_counted(disk_root, rootfs, small_tmpfs):
    """The shim commits exitStatus before it drains the pipes: what a full disk drops in
    the drain is not in exitStatus's count; the state has it once the shim is gone."""
    cid = "du-drain-drops"
    size = 900_000  # under the 1 MiB pipe: written whole while the shim is stopped
    state = run(disk_root, cid, rootfs, f"trap 'yes {LINE} | head -c {size}; exit 4' USR1; "
                                        "while :; do sleep 0.01; done")
    pid, shim = state["pid"], state["shim_pid"]
    helpers.wait_until(lambda: catches(pid, 10), what="its trap set")
    filler = fill(small_tmpfs)
    os.kill(shim, 19)  # SIGSTOP: the output waits in the pipe until after the exit
    try:
        os.kill(pid, 10)
        helpers.wait_until(lambda: proc_stat_field(pid, 0) in ("Z", None), 10,
                           what="the process to end")
    finally:
        os.kill(shim, 18)
    helpers.wait_until(lambda: not helpers.pid_alive(shim), 20, what="the shim to end")
    proc_dir = os.path.join(disk_root.root, "containers", cid, "init")
    with open(os.path.join(proc_dir, layout.EXIT_STATUS)) as f:
        at_exit = json.load(f).get("dropped_bytes", 0)
    helpers.wait_until(lambda: disk_root.ok("GET", f"/v1/containers/{cid}").get(
        "dropped_bytes", 0) >= size, 10, what="the drain's drops in the state")
    state = disk_root.ok("GET", f"/v1/containers/{cid}")
    assert (state["status"], state["exit_code"]) == ("stopped", 4), state
    assert at_exit < size  # what exitStatus could not know
    os.unlink(filler)
