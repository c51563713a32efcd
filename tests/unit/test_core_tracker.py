"""The Tracker over fakes (tests/corefakes.py): each exit, or the loss of a shim, published once.

The test plays the shim (it writes exitStatus) and the kernel (inotify's
on_exit_status, the pidfd's on_shim_gone); the restart cases build the process
directories a killed manager leaves and adopt them from a real scan.
"""

import os

import pytest

from shim.contract import layout

import helpers
from corefakes import LIVE_PID, exit_process, run_core, shim_exits
from manager.core import model, scan, tracker


def reported(proc):
    """Return True once PROC's exitReported mark is written."""
    return os.path.exists(os.path.join(proc.dir, tracker.REPORTED))


def test_an_exit_is_published_once_however_often_it_is_seen(tmp):
    async def scenario(core):
        container = await core.run("c1")
        exit_process(core, container.init, 3)
        assert (container.init.status, container.init.exit_code) == (model.STOPPED, 3)
        await helpers.wait_until_async(lambda: reported(container.init), 5,
                                       what="the exit marked reported")
        core.tracker.on_exit_status(container.init.dir)  # inotify again
        core.tracker.on_overflow()  # inotify lost events: everything is looked at
        shim_exits(core, container.init)  # and the shim goes after its exit status
        assert core.events("exit", "shim-lost") == [("exit", "c1", None)]
        exit_event, = [e for e in core.bus.history if e["type"] == "exit"]
        assert (exit_event["exit_code"], exit_event["time"]) == (3, container.init.exited_at)
        assert container.init.status == model.STOPPED  # not lost: the status came first
    run_core(tmp, scenario)


def test_an_oom_kill_publishes_oom_then_exit(tmp):
    async def scenario(core):
        container = await core.run("c1")
        exit_process(core, container.init, 137, oom_killed=True)
        assert container.init.oom_killed
        assert core.events("oom", "exit") == [("oom", "c1", None), ("exit", "c1", None)]
    run_core(tmp, scenario)


def test_a_held_exit_waits_until_the_hold_ends(tmp):
    async def scenario(core):
        container = await core.run("c1")
        proc = container.init
        proc.hold_exit = True  # a start (or an exec's launch) is under way
        exit_process(core, proc, 0)
        assert proc.status == model.RUNNING and core.events("exit") == []
        proc.hold_exit = False
        core.tracker.reconcile(proc)
        assert proc.status == model.STOPPED and core.events("exit") == [("exit", "c1", None)]
    run_core(tmp, scenario)


def test_a_shim_gone_without_an_exit_status_is_lost_once(tmp):
    async def scenario(core):
        container = await core.run("c1")
        proc = await core.exec("c1", exec_id="e1")
        shim_exits(core, proc)
        assert proc.status == model.UNKNOWN and "shim lost" in proc.error
        assert proc.shim_gone and reported(proc)
        core.tracker.on_shim_gone(proc)  # seen twice
        core.tracker.on_overflow()
        assert core.events("shim-lost") == [("shim-lost", "c1", "e1")]
        assert container.init.status == model.RUNNING  # the exec's loss only
        assert proc.dir in core.changes.poked  # its log followers are woken
    run_core(tmp, scenario)


def test_a_malformed_exit_status_is_logged_and_not_taken(tmp, caplog):
    async def scenario(core):
        container = await core.run("c1")
        with open(os.path.join(container.init.dir, layout.EXIT_STATUS), "w") as f:
            f.write('{"exit_code": "three"}')
        core.tracker.on_exit_status(container.init.dir)
        assert container.init.status == model.RUNNING and core.events("exit") == []
        assert "missing exit_code or exited_at" in caplog.text
        shim_exits(core, container.init)  # no status will come now: lost
        assert container.init.status == model.UNKNOWN
    run_core(tmp, scenario)


def test_only_an_init_exit_calls_on_init_exit(tmp):
    async def scenario(core):
        seen = []
        core.tracker.on_init_exit = seen.append
        container = await core.run("c1")
        exit_process(core, await core.exec("c1", exec_id="e1"), 0)
        assert seen == []
        exit_process(core, container.init, 0)
        assert seen == [container]
    run_core(tmp, scenario)


def test_an_exit_status_of_an_untracked_directory_is_ignored(tmp):
    async def scenario(core):
        container = await core.run("c1")
        core.tracker.untrack(container.init)
        exit_process(core, container.init, 0)
        assert container.init.status == model.RUNNING and core.events("exit") == []
    run_core(tmp, scenario)


# -- adopt: what a restarted manager finds -------------------------------------

def make_process_dir(root, cid, name, shim_alive=True, exit_code=None, reported=False,
                     started=True):
    """Write a process directory as a shim leaves it; return its path."""
    cdir = layout.container_dir(root, cid)
    if not os.path.isdir(cdir):
        os.makedirs(cdir)
        layout.write_json(os.path.join(cdir, layout.CONTAINER_JSON),
                          {"id": cid, "bundle": "/b", "runtime": "runc", "labels": {"k": cid},
                           "created_at": "2026-11-23T00:00:00Z", "log": {},
                           "auto_remove": False})
    proc_dir = os.path.join(cdir, name)
    os.mkdir(proc_dir, 0o700)
    starttime = layout.proc_starttime(LIVE_PID) if shim_alive else 1  # 1: a reused pid
    layout.write_json(os.path.join(proc_dir, layout.SHIM_PID),
                      {"pid": LIVE_PID, "starttime": starttime})
    if started:
        layout.write_json(os.path.join(proc_dir, layout.TIMES_JSON),
                          {"created_at": "2026-11-23T00:00:00Z",
                           "started_at": "2026-11-23T00:00:01Z"})
    if exit_code is not None:
        layout.write_exit_status(proc_dir, exit_code)
    if reported:
        open(os.path.join(proc_dir, tracker.REPORTED), "w").close()
    return proc_dir


def adopt_all(core):
    """Scan the root and adopt every container, as the manager does at start."""
    return {c.id: core.tracker.adopt(c) for c in
            scan.scan_containers(layout.containers_dir(core.root))}


@pytest.mark.parametrize("facts, status, published", [
    ({"shim_alive": True}, model.RUNNING, []),
    ({"shim_alive": True, "started": False}, model.CREATED, []),
    ({"shim_alive": False, "exit_code": 7}, model.STOPPED, ["exit"]),  # exited while down
    ({"shim_alive": False, "exit_code": 7, "reported": True}, model.STOPPED, []),
    ({"shim_alive": False}, model.UNKNOWN, ["shim-lost"]),
])
def test_adopt_publishes_only_what_happened_while_the_manager_was_down(tmp, facts, status,
                                                                       published):
    make_process_dir(tmp, "c1", layout.INIT, **facts)

    async def scenario(core):
        container = adopt_all(core)["c1"]
        assert container.init.status == status and container.labels == {"k": "c1"}
        assert [kind for kind, _cid, _exec in core.events()] == published
        assert core.registry.get("c1") is container
        assert container.init.shim_gone is not facts["shim_alive"]
    run_core(tmp, scenario)


def test_adopt_takes_execs_and_reports_a_broken_one_without_failing_the_container(tmp):
    make_process_dir(tmp, "c1", layout.INIT)
    make_process_dir(tmp, "c1", "e1", shim_alive=False, exit_code=0)
    broken = make_process_dir(tmp, "c1", "e2")
    with open(os.path.join(broken, layout.EXIT_STATUS), "w") as f:
        f.write("{not json")

    async def scenario(core):
        container = adopt_all(core)["c1"]
        assert sorted(container.execs) == ["e1", "e2"]
        assert container.init.status == model.RUNNING
        assert container.execs["e1"].status == model.STOPPED
        assert container.execs["e2"].status == model.UNKNOWN
        assert container.execs["e2"].error.startswith("broken process directory: ")
        assert core.events() == [("exit", "c1", "e1")]
    run_core(tmp, scenario)


def test_an_adopted_exit_is_not_published_again_by_the_next_manager(tmp):
    make_process_dir(tmp, "c1", layout.INIT, shim_alive=False, exit_code=5)

    async def first(core):
        container = adopt_all(core)["c1"]
        await helpers.wait_until_async(lambda: reported(container.init), 5,
                                       what="the exit marked reported")
        return core.events()
    assert run_core(tmp, first) == [("exit", "c1", None)]

    async def second(core):
        adopt_all(core)
        return core.events()
    assert run_core(tmp, second) == []


def test_an_exit_journaled_before_a_kill_is_not_published_again_and_is_marked(tmp):
    make_process_dir(tmp, "c1", layout.INIT, shim_alive=False, exit_code=5)

    async def first(core):
        proc = adopt_all(core)["c1"].init
        await helpers.wait_until_async(lambda: reported(proc), 5, what="the exit marked")
        os.unlink(os.path.join(proc.dir, tracker.REPORTED))  # killed before the mark
    run_core(tmp, first, journaled=True)

    async def second(core):
        proc = adopt_all(core)["c1"].init
        assert reported(proc)  # the journal had it: marked now, for the next restart
        return core.events()
    assert run_core(tmp, second, journaled=True) == [("exit", "c1", None)]  # the first one


def test_a_container_without_an_init_directory_is_adopted_as_unknown(tmp):
    make_process_dir(tmp, "c1", "e1")

    async def scenario(core):
        container = adopt_all(core)["c1"]
        assert container.init.status == model.UNKNOWN
        assert container.init.error == "no init process directory"
        assert container.execs["e1"].status == model.RUNNING
    run_core(tmp, scenario)


def test_a_live_shim_is_watched_through_its_pidfd_until_the_end(tmp):
    # The fakes' shim is this process: the watch opens, never fires, and is closed.
    async def scenario(core):
        container = await core.run("c1")
        assert container.init.pidfd is not None and not container.init.shim_gone
        return container
    container = run_core(tmp, scenario)
    assert container.init.pidfd is None  # closed at the end of the scenario
